/**
 * Polls `check` every `everyMs` until it returns a value, which it resolves with. The bound guards
 * against a hang and is no assertion: past it, an error naming `what`.
 */
export async function waitUntil<T>(what: string, check: () => Promise<T | null | undefined | false>, timeoutMs: number, everyMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
