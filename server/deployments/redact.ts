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

/**
 * Terminal escapes (CSI, 7- and 8-bit; OSC up to BEL or ST; other ESC pairs) and every other control
 * character but tab and newline. Taken out before redaction, so colour codes inside a value cannot
 * split it past the match, and so a downloaded log cannot drive the terminal it is printed in.
 */
// eslint-disable-next-line no-control-regex
const CONTROLS = /(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?|[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

export function stripControls(text: string): string {
  return text.replace(CONTROLS, '');
}

/** Replace every occurrence of a secret value (in any of its forms) in a log line. */
export function redactSecrets(text: string, secrets: string[]): string {
  let out = text;
  const values = [...new Set(secrets.flatMap(forms).filter((s) => s.length >= MIN_LENGTH))].sort((a, b) => b.length - a.length);
  for (const v of values) out = out.split(v).join('[redacted]');
  return out;
}
