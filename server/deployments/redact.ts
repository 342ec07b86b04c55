/** Values shorter than this are left alone: masking "1" or "on" everywhere would mangle logs without protecting anything. */
const MIN_LENGTH = 4;

/**
 * The forms a value can take in a log line: itself, as written inside a JSON string (a JSON log
 * escapes quotes, backslashes and newlines), and each of its lines, since Render writes one entry
 * per line an app prints (a PEM key, a service account's JSON).
 */
function forms(value: string): string[] {
  const out = [value, JSON.stringify(value).slice(1, -1)];
  if (/[\r\n]/.test(value)) for (const line of value.split(/\r?\n|\r/)) out.push(line.trim());
  return out;
}

/** Replace every occurrence of a secret value (in any of its forms) in a log line. */
export function redactSecrets(text: string, secrets: string[]): string {
  let out = text;
  const values = [...new Set(secrets.flatMap(forms).filter((s) => s.length >= MIN_LENGTH))].sort((a, b) => b.length - a.length);
  for (const v of values) out = out.split(v).join('[redacted]');
  return out;
}
