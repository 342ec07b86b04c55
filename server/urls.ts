/**
 * `url` without trailing slashes. A loop rather than `/\/+$/`: that regex backtracks quadratically on a
 * long run of slashes (test/security/regex-safety.test.ts rejects it).
 */
export function withoutTrailingSlashes(url: string): string {
  let end = url.length;
  while (end > 0 && url[end - 1] === '/') end--;
  return url.slice(0, end);
}
