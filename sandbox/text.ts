/**
 * `text` without leading and/or trailing runs of `char`. A loop rather than `/^x+|x+$/g`: the
 * unanchored half backtracks quadratically on a long run (test/security/regex-safety.test.ts).
 */
export function trimRuns(text: string, char: string, ends: { start?: boolean; end?: boolean } = { start: true, end: true }): string {
  let start = 0;
  let end = text.length;
  if (ends.start) while (start < end && text[start] === char) start++;
  if (ends.end) while (end > start && text[end - 1] === char) end--;
  return text.slice(start, end);
}

/** `url` without trailing slashes. */
export const withoutTrailingSlashes = (url: string): string => trimRuns(url, '/', { end: true });
