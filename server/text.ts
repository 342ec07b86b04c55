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

/** Whether a value holds what looks like a credential anywhere in it (a Render key's or a GitHub token's prefix). */
export const holdsCredential = (value: string): boolean => HOLDS_CREDENTIAL.test(value);

/** What a path segment that looks like a credential is logged as. */
export const MASKED_SEGMENT = '[redacted]';

/** Percent-decodings tried per segment: a client may encode a credential once, or again (`%2567ho_…`). */
const DECODE_ROUNDS = 3;

/**
 * In a path segment: a credential's prefix followed by what that credential's body is. A Render key's as the
 * key check takes one (`rnd_` and 8 or more of letters, digits, `_` and `-`: server/routes/renderKey.ts);
 * a GitHub token's 16 or more letters or digits (a classic token's 36, a fine-grained PAT's 22 before its
 * underscore). An env var name that merely holds a prefix (`GITHUB_PAT_SCOPE`, `BRND_X`, `RND_SEED`) is not
 * one; it was masked, and the access line no longer said which variable a request changed.
 */
function holdsPathCredential(text: string): boolean {
  const prefix = new RegExp(/(?:rnd|gh[pousr]|github_pat)_/, 'gi'); // HOLDS_CREDENTIAL, global: each match in turn
  for (let m = prefix.exec(text); m; m = prefix.exec(text)) {
    const body = m.index + m[0].length;
    const render = m[0].toLowerCase() === 'rnd_';
    if (render ? RENDER_KEY_BODY.test(text.slice(body, body + 8)) : TOKEN_BODY.test(text.slice(body, body + 16))) return true;
  }
  return false;
}
const RENDER_KEY_BODY = /^[A-Za-z0-9_-]{8}$/;
const TOKEN_BODY = /^[A-Za-z0-9]{16}$/;
/** One escape: each is decoded on its own, so a malformed one elsewhere in the segment stops nothing. */
const ESCAPE = /%([0-9A-Fa-f]{2})/g;

/** A path segment as sent, and as it reads with its escapes decoded, up to DECODE_ROUNDS times. */
function segmentHoldsCredential(segment: string): boolean {
  let text = segment;
  for (let round = 0; ; round++) {
    if (holdsPathCredential(text)) return true;
    if (round === DECODE_ROUNDS || !text.includes('%')) return false;
    const decoded = text.replace(ESCAPE, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    if (decoded === text) return false;
    text = decoded;
  }
}

/**
 * A request path as logs keep it: every segment that holds what looks like a credential, as sent or
 * percent-decoded, is `[redacted]`, the rest as sent. A CI script's misquoted variable put its own token or
 * key where an id goes (GET /api/render/deployments/gho_…): the route answered 404, and the access log
 * kept the credential in plain text. Without an underscore, sent or escaped, nothing can match: such a
 * path (nearly all of them) is returned as it is, unsplit.
 */
export function maskedPath(path: string): string {
  if (!path.includes('_') && !path.includes('%')) return path;
  let masked = false;
  const segments = path.split('/').map((segment) => {
    if (!segmentHoldsCredential(segment)) return segment;
    masked = true;
    return MASKED_SEGMENT;
  });
  return masked ? segments.join('/') : path;
}

/** How many characters of a caller's own value an error quotes back. */
export const ECHO_MAX_CHARS = 80;

/**
 * A caller's own value (a header, a name), as an error quotes it back: at most `max` characters, then
 * "…"; none of it when it holds what looks like a credential (a pasted Render key or GitHub token
 * must not come back in an answer). Without this, an error repeated whatever was sent, up to Node's
 * 16 KB header limit or the 64 KB body limit.
 */
export function echoed(value: string, max = ECHO_MAX_CHARS): string {
  if (holdsCredential(value)) return '(not shown: it looks like a credential)';
  if (value.length <= max) return value;
  // Not half of a surrogate pair at the cut.
  const end = /[\uD800-\uDBFF]/.test(value[max - 1] ?? '') ? max - 1 : max;
  return `${value.slice(0, end)}…`;
}

/** The first `units` UTF-16 units of `text`, one fewer when the last would be the first half of a surrogate pair. */
export function cutUnits(text: string, units: number): string {
  if (text.length <= units) return text;
  const last = text.charCodeAt(units - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? units - 1 : units);
}
