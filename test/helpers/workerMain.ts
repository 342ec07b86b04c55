/**
 * A real worker process for tests that kill and restart workers: the production composition
 * (startWorker) with test timings, configured by the environment the test passes in.
 */
import { loadConfig } from '../../server/config/env.js';
import { createLogger } from '../../server/logger.js';
import { startWorker } from '../../workers/process.js';

// The test process that forked us is gone (it crashed or was killed): end too, never run on as an orphan.
process.once('disconnect', () => process.kill(process.pid, 'SIGKILL'));
const opts = JSON.parse(process.env.TEST_WORKER_OPTIONS ?? '{}');
const config = loadConfig(process.env);
const logger = createLogger({ level: 'info', name: 'worker' });
const proc = await startWorker({
  config, logger, watch: opts.watch, renderLimits: opts.renderLimits, renderTimeoutMs: opts.renderTimeoutMs, retryBackoffMs: opts.retryBackoffMs,
  workerOptions: opts.workerOptions, sentinel: opts.sentinel,
  // Crash tests: die (like kill -9) at the riskiest points (all, or those in crashPoints) with the given probability.
  crashPoint: opts.crashProbability ? (point: string) => {
    if ((!opts.crashPoints || opts.crashPoints.includes(point)) && Math.random() < opts.crashProbability) process.kill(process.pid, 'SIGKILL');
  } : undefined,
});
// Tests that steer which process runs the deploy jobs pause this one's deploy worker (once its runs in
// flight are over: none starts after the reply) and resume it.
process.on('message', (m: { pause?: boolean; resume?: boolean }) => void (async () => {
  if (m.pause) { await proc.worker.pause(); process.send?.({ paused: true }); }
  if (m.resume) { await proc.worker.resume(); process.send?.({ resumed: true }); }
})());
process.send?.({ ready: true });
process.on('SIGTERM', () => void (async () => { await proc.close(10_000); process.exit(0); })());
