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
