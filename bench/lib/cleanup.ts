/**
 * Everything the bench starts registers how to stop it here; teardown runs the stoppers newest first,
 * on success, on failure, and on Ctrl-C / SIGTERM, so no child process or server outlives a run.
 */
export interface Cleanup {
  /** Register a stopper; returns a function that runs it now (and unregisters it). */
  add(name: string, stop: () => Promise<void> | void): () => Promise<void>;
  /** Stop everything still registered, newest first; each stopper bounded to `timeoutMs`. */
  runAll(timeoutMs?: number): Promise<void>;
}

export function createCleanup(): Cleanup {
  const stoppers: Array<{ name: string; stop: () => Promise<void> | void }> = [];

  async function runOne(entry: { name: string; stop: () => Promise<void> | void }, timeoutMs: number) {
    let timer: NodeJS.Timeout | undefined;
    const bounded = new Promise<void>((resolve) => { timer = setTimeout(() => { process.stderr.write(`bench: stopping ${entry.name} timed out\n`); resolve(); }, timeoutMs); });
    try {
      await Promise.race([Promise.resolve().then(entry.stop), bounded]);
    } catch (err) {
      process.stderr.write(`bench: stopping ${entry.name} failed: ${(err as Error).message}\n`);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    add(name, stop) {
      const entry = { name, stop };
      stoppers.push(entry);
      return async () => {
        const i = stoppers.indexOf(entry);
        if (i < 0) return;
        stoppers.splice(i, 1);
        await runOne(entry, 15_000);
      };
    },
    async runAll(timeoutMs = 15_000) {
      while (stoppers.length) await runOne(stoppers.pop()!, timeoutMs);
    },
  };
}
