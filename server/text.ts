/**
 * String trims written as loops: `/x+$/` backtracks quadratically on a long run of x that is not at
 * the end (test/security/regex-safety.test.ts rejects such patterns).
 */

/** `text` without a trailing run of `char` (one UTF-16 unit). */
export function trimTrailing(text: string, char: string): string {
  let end = text.length;
  while (end > 0 && text[end - 1] === char) end--;
  return text.slice(0, end);
}

/** `url` without trailing slashes. */
export const withoutTrailingSlashes = (url: string): string => trimTrailing(url, '/');

// The prefixes of the credentials this app handles (a Render API key, GitHub's token kinds), at the
// start of a name and anywhere in a value (the two patterns say the same prefixes: keep them together).
/** A name that starts like a credential: validate.ts masks such field names. */
export const STARTS_LIKE_CREDENTIAL = /^(?:rnd|gh[pousr]|github_pat)_/i;
const HOLDS_CREDENTIAL = /(?:rnd|gh[pousr]|github_pat)_/i;

/** How many characters of a caller's own value an error quotes back. */
export const ECHO_MAX_CHARS = 80;

/**
 * A caller's own value (a header, a name), as an error quotes it back: at most `max` characters, then
 * "…"; none of it when it holds what looks like a credential (a pasted Render key or GitHub token
 * must not come back in an answer). Without this, an error repeated whatever was sent, up to Node's
 * 16 KB header limit or the 64 KB body limit.
 */
export function echoed(value: string, max = ECHO_MAX_CHARS): string {
  if (HOLDS_CREDENTIAL.test(value)) return '(not shown: it looks like a credential)';
  if (value.length <= max) return value;
  // Not half of a surrogate pair at the cut.
  const end = /[\uD800-\uDBFF]/.test(value[max - 1] ?? '') ? max - 1 : max;
  return `${value.slice(0, end)}…`;
}
