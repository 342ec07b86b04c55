/** The baseline: a raw BullMQ worker whose jobs do nothing, on the same Redis and concurrency as the deploy worker. */
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { serveIpc } from './ipc.js';

const connection = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: null });
let completed = 0;
const worker = new Worker(process.env.BENCH_QUEUE!, async () => {}, {
  connection, prefix: process.env.BENCH_QUEUE_PREFIX!, concurrency: Number(process.env.BENCH_CONCURRENCY ?? 50),
});
worker.on('completed', () => { completed++; });
await worker.waitUntilReady();
serveIpc({ ready: {}, stop: async () => { await worker.close(); connection.disconnect(); }, extra: () => ({ completed }) });
