/** The command of the Procfile's `web:` process, if any. */
export function procfileWeb(text: string | null): string | null {
  if (!text) return null;
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*web\s*:\s*(.+?)\s*$/.exec(line);
    if (m?.[1]) return m[1];
  }
  return null;
}
