import type { Job } from 'bullmq';
import type { RenderCallInfo } from '../../server/render/transport.js';
import type { WorkerContext } from '../context.js';

/**
 * A run that lost its job to another run: BullMQ takes a job from a worker whose lock lapsed (not
 * renewed for lockDuration: the process stopped, or was stopped, SIGSTOP, a VM paused, a blocked event
 * loop) and runs it again elsewhere. A worker that died is the case the steps are written for; one that
 * comes back goes on with its run, beside the new one. Both could then create the service or ask for a
 * deploy (each finds nothing of the other's yet): two services, or two deploys. So each of the run's
 * Render writes (a POST: a service, a deploy, a rollback, a cancel; a PUT: the env values an adopted
 * service is given, which the user may have changed since) is made only while this run still holds the
 * job's lock, checked just before it goes out. What the check leaves is a stop between it and the send,
 * microseconds against the lock's 30 s.
 */
export class JobTakenOver extends Error {
  constructor() {
    super('the job was taken over by another run (its lock lapsed): this run stops before its Render write');
    this.name = 'JobTakenOver';
  }
}

/** BullMQ's lock of a job (`<queue>:<id>:lock`, holding the run's token), as its scripts name it. */
const lockKeyOf = (job: Job) => `${job.queueQualifiedName}:${job.id}:lock`;

/**
 * The Render client's beforeRequest for a run: `before` (the run's budget), then, for a write (any
 * method but GET), the job's lock compared with the run's token. No token (a run outside a BullMQ worker): no check.
 */
export function fencedRenderWrites(ctx: Pick<WorkerContext, 'redis'>, job: Job, token: string | undefined, before: (call: RenderCallInfo) => Promise<void>) {
  if (!token) return before;
  const lockKey = lockKeyOf(job);
  return async (call: RenderCallInfo): Promise<void> => {
    await before(call);
    if (call.method !== 'GET' && (await ctx.redis.get(lockKey)) !== token) throw new JobTakenOver();
  };
}
