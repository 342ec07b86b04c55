/**
 * The child side of the bench's IPC: say when ready, answer stats requests with this process's own
 * CPU time and memory, stop on request, and die with the parent (a closed IPC channel).
 */
export interface ChildStats {
  /** process.cpuUsage() since start, microseconds. */
  cpuUserUs: number;
  cpuSystemUs: number;
  rss: number;
  heapUsed: number;
  extra?: Record<string, number>;
}

export function serveIpc(opts: { ready: Record<string, unknown>; stop: () => Promise<void>; extra?: () => Record<string, number> }): void {
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    const force = setTimeout(() => process.exit(code), 10_000);
    force.unref();
    try { await opts.stop(); } finally { process.exit(code); }
  };
  process.on('message', (msg: { type?: string; id?: number; gc?: boolean }) => {
    if (msg?.type === 'stats') {
      // Live data only (children run with --expose-gc): tells retained memory from not-yet-collected garbage.
      if (msg.gc) (globalThis as { gc?: () => void }).gc?.();
      const cpu = process.cpuUsage();
      const mem = process.memoryUsage();
      const stats: ChildStats = { cpuUserUs: cpu.user, cpuSystemUs: cpu.system, rss: mem.rss, heapUsed: mem.heapUsed, extra: opts.extra?.() };
      process.send?.({ type: 'stats', id: msg.id, stats });
    } else if (msg?.type === 'stop') {
      void stop(0);
    }
  });
  // The bench died or was killed: nothing should keep running on its behalf.
  process.on('disconnect', () => { void stop(0); });
  process.on('SIGTERM', () => { void stop(0); });
  process.send?.({ type: 'ready', ...opts.ready });
}
