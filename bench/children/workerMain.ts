/** The production worker composition (startWorker) as its own process; BENCH_WORKER_OPTIONS tunes it. */
import { loadConfig } from '../../server/config/env.js';
import { createLogger } from '../../server/logger.js';
import { startWorker } from '../../workers/process.js';
import type { Socket } from 'node:net';
import { serveIpc } from './ipc.js';
import { portOf, probeSockets } from './socketProbe.js';

const opts = JSON.parse(process.env.BENCH_WORKER_OPTIONS ?? '{}') as { watch?: Record<string, number>; concurrency?: number };
const config = loadConfig(process.env);
// Socket writes and connections by peer, reported with each stats answer (the pipeline scenario's rows).
const sockets = probeSockets({ redis: portOf(config.redisUrl), github: portOf(config.github.apiUrl), render: portOf(config.renderApiUrl) });
const logger = createLogger({ level: config.logLevel, name: 'worker', batchMs: 500 });
const proc = await startWorker({ config, logger, watch: opts.watch, workerOptions: opts.concurrency ? { concurrency: opts.concurrency } : undefined });
// The Redis connections the deploy path uses, told apart from the rest (subscriber, other queues' workers).
// BullMQ's Redis backend hands out its ioredis client (behind a proxy that forwards `stream`).
type Backend = { backend: { client: Promise<{ stream: Socket }>; blockingClient?: Promise<{ stream: Socket }> } };
const streamOf = async (owner: unknown) => (await (owner as Backend).backend.client).stream;
const blockingStreamOf = async (owner: unknown) => (await (owner as Backend).backend.blockingClient)?.stream;
const label = (s: Socket | undefined, name: string) => { if (s) sockets.label(s, name); };
label(proc.context.redis.stream, 'redis-data');
label(await streamOf(proc.context.commitStatusQueue), 'redis-queue');
label(await streamOf(proc.worker), 'redis-deploy-worker');
label(await blockingStreamOf(proc.worker), 'redis-deploy-worker-blocking');
label(await streamOf(proc.statusWorker), 'redis-status-worker');
label(await blockingStreamOf(proc.statusWorker), 'redis-status-worker-blocking');
// Job activations by queue and job name (a deploy's runs: its first and each watch check; status jobs).
const activations: Record<string, number> = {};
const countActive = (queue: string) => (job: { name: string }) => { const key = `jobs.${queue}.${job.name}`; activations[key] = (activations[key] ?? 0) + 1; };
proc.worker.on('active', countActive('deploys'));
proc.statusWorker.on('active', countActive('commit-statuses'));
serveIpc({ ready: {}, stop: () => proc.close(10_000), extra: () => ({ ...sockets.counts(), ...activations }) });
