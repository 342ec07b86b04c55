import { createRequire } from 'node:module';
import { Worker, type Job, type JobJson, type Processor, type WorkerOptions } from 'bullmq';
import { Packr } from 'msgpackr';
import type { Redis } from 'ioredis';
import { redisScript } from '../server/redisScript.js';

/*
 * BullMQ's own moveToActive script and result decoding (6.x: not exported from its index, so taken by
 * path; bullmq is pinned to one version in package.json, and test/workers/lastJobWorker.test.ts fails if they move).
 * msgpackr is what BullMQ packs the script's options with.
 */
const require = createRequire(import.meta.url);
const { moveToActive: bullmqMoveToActive } = require('bullmq/dist/cjs/scripts/moveToActive-11.js') as { moveToActive: { content: string } };
const { raw2NextJobData } = require('bullmq/dist/cjs/classes/redis-queue-backend.js') as {
  raw2NextJobData(raw: unknown): [jobData?: unknown, id?: string, rateLimitDelay?: number, delayUntil?: number];
};
const packer = new Packr({ useRecords: false, encodeUndefinedAsNil: true });

/**
 * BullMQ's moveToActive, then, when the job it took was the last one waiting: the base marker ("0",
 * "a job is waiting") is removed, as nothing is left for it to announce, and the next delayed job's
 * time is answered with the job (as BullMQ's next, empty, look would), plus a fifth element 1.
 * KEYS and ARGV: BullMQ's (wait, active, prioritized, …, delayed = KEYS[7], marker = KEYS[11]).
 */
const takeJob = redisScript(`
local function bullmqMoveToActive()
${bullmqMoveToActive.content}
end
local result = bullmqMoveToActive()
if type(result[1]) == 'table' and redis.call('LLEN', KEYS[1]) == 0 and redis.call('ZCARD', KEYS[3]) == 0 then
  redis.call('ZREM', KEYS[11], '0')
  local nextDelayed = redis.call('ZRANGE', KEYS[7], 0, 0, 'WITHSCORES')
  result[4] = nextDelayed[2] and math.floor(tonumber(nextDelayed[2]) / 0x1000) or 0
  result[5] = 1
end
return result`);

/** What the subclass reaches in BullMQ's Worker that its typings keep private. */
interface WorkerInternals {
  drained: boolean;
  updateDelays(limitDelay?: number, delayUntil?: number): void;
}

/**
 * A BullMQ Worker that knows when the job it took was the queue's last. BullMQ's loop takes a lone job
 * in three moveToActive calls and two blocking waits: the job, an empty look right after it, and
 * another after a wait that returns at once, because taking a job re-adds the "job waiting" marker the
 * wait pops. Here the take says when nothing is left, the marker goes, and the loop goes straight to
 * its blocking wait: one moveToActive and one wait per lone job (bench/README.md, `pipeline`).
 * Nothing else changes: locks, stalled-job recovery, retries and delays are BullMQ's.
 */
export class LastJobWorker<Data, Result = unknown> extends Worker<Data, Result> {
  readonly #redis: Redis;

  constructor(name: string, processor: Processor<Data, Result>, opts: WorkerOptions & { connection: Redis }) {
    super(name, processor, opts);
    this.#redis = opts.connection;
  }

  protected override async moveToActive(token: string, name?: string): Promise<Job<Data, Result>> {
    const k = this.keys;
    const raw = await takeJob(
      this.#redis,
      [k.wait!, k.active!, k.prioritized!, k.events!, k.stalled!, k.limiter!, k.delayed!, k.paused!, k.meta!, k.pc!, k.marker!],
      [k['']!, Date.now(), packer.pack({ token, lockDuration: this.opts.lockDuration, limiter: this.opts.limiter, name })],
    ) as unknown[];
    const [jobData, id, rateLimitDelay, delayUntil] = raw2NextJobData(raw);
    const internals = this as unknown as WorkerInternals;
    internals.updateDelays(rateLimitDelay, delayUntil);
    const job = await this.nextJobFromJobData(jobData as JobJson | undefined, id, token);
    if (job && raw[4] === 1 && !internals.drained) {
      internals.drained = true;
      this.emit('drained');
    }
    return job;
  }
}
