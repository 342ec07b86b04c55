/**
 * Replace every occurrence of a secret value in a log line. Very short values are skipped: masking
 * "1" or "on" everywhere would mangle logs without protecting anything.
 */
export function redactSecrets(text: string, secrets: string[]): string {
  let out = text;
  const values = [...new Set(secrets.filter((s) => s.length >= 4))].sort((a, b) => b.length - a.length);
  for (const v of values) out = out.split(v).join('[redacted]');
  return out;
}
