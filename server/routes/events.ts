import type Router from '@koa/router';
import type Koa from 'koa';
import type { AppDeps } from '../deps.js';
import { errors } from '../errors.js';
import { requireUser } from '../middleware/context.js';
import { createRedis } from '../redis.js';
import { createEventHub, type EventHub } from '../events/hub.js';
import { openSse } from '../events/sse.js';
import { watchSessionEnd } from '../events/sessionEnd.js';
import { SESSION_END_REASONS } from '../sessions/endSession.js';
import { EventsQuery, followedDeployment, logsEvent } from '../events/logEvents.js';
import { validate } from '../middleware/validate.js';
import { newStreamMarker, subscribedEvent, subscribedMessage } from '../events/handover.js';
import { serviceEvent } from '../events/serviceEvents.js';
import { createLogTailer } from '../deployments/logTail.js';
import { sentinelEventData } from '../sentinel/present.js';
import { documented } from '../openapi/describe.js';

export interface EventRouteOptions {
  /** Live streams one user may hold open on one process (tabs); beyond it 429. Default 10. */
  maxStreamsPerUser?: number;
  keepAliveMs?: number;
  /** Called for every stream opened (metrics). */
  onStream?(ctx: Koa.Context): void;
}

interface EventRoutesHandle {
  hub: EventHub;
  /** Closes the hub when this module created it (no deps.events given); the composition closes its own. */
  close(): Promise<void>;
}

/** Only the fields the UI needs; the payload is re-serialised so nothing can break the SSE framing. */
function deploymentEvent(message: string): string | null {
  try {
    const m = JSON.parse(message) as Record<string, unknown>;
    if (typeof m !== 'object' || m === null || typeof m.id !== 'string') return null;
    return JSON.stringify({ type: 'deployment', id: m.id, status: m.status ?? null, updatedAt: m.updatedAt ?? null });
  } catch {
    return null;
  }
}

/** What the last event of a stream may say about why it ended (anything else is sent as 'ended'). */
const END_REASONS = new Set<string>(SESSION_END_REASONS);

/**
 * GET /api/events: the caller's deployment updates (and changes made to their services:
 * events/serviceEvents.ts) as Server-Sent Events. Workers and routes publish to the per-user
 * channel; this process holds one subscriber connection and fans out by user id. The stream ends as
 * soon as its session ends or loses its key (events/sessionEnd.ts), with a last `session` event; the
 * keepalive re-check of the session stays as a backstop.
 */
export function eventRoutes(router: Router, deps: AppDeps, opts: EventRouteOptions = {}): EventRoutesHandle {
  const hub = deps.events ?? createEventHub({
    connect: () => createRedis(deps.config.redisUrl, 'subscriber'),
    channelOf: (userId) => deps.deployments.keys.channel(userId),
  });
  // A hub made here (no process-wide one in deps) is closed with these routes.
  const owned = deps.events ? null : hub;
  const tailer = deps.logTails ?? createLogTailer({ ...deps, prefix: deps.config.redisPrefix });
  const maxStreams = opts.maxStreamsPerUser ?? 10;
  const openByUser = new Map<number, number>();

  router.get('/api/events', documented({
    summary: 'Live updates (Server-Sent Events): deployment, service (a change to one of the caller\'s services: its id and the action), sentinel, logs (with ?logs=<deployment id>), the stream markers (stream, subscribed) and a last session event', tag: 'events',
    responses: { 200: { contentType: 'text/event-stream', description: 'event: stream (first: this stream\'s marker), deployment|service|sentinel|logs|subscribed (a stream of the user with that marker is subscribed)|session, data: one JSON object per event; and every keepalive interval a ping, data: that interval in ms (a stream that misses a few is silent: reconnect).' } },
    errors: ['events_unavailable', 'rate_limited', 'not_found'],
  }), requireUser(), validate({ query: EventsQuery }), async (ctx) => {
    const userId = ctx.state.user.id;
    const ref = deps.sessions.refOf(ctx.state.sessionId);
    // ?logs=<deployment id>: this stream also carries that deployment's new log lines.
    const following = await followedDeployment(ctx, deps, userId, ctx.input.query);
    const open = openByUser.get(userId) ?? 0;
    if (open >= maxStreams) throw errors.rateLimited(15, 'Too many live update streams are open. Close some tabs and reload.');
    openByUser.set(userId, open + 1);
    const release = () => {
      const n = (openByUser.get(userId) ?? 1) - 1;
      if (n <= 0) openByUser.delete(userId); else openByUser.set(userId, n);
    };

    // Subscribe before answering, so anything published after the client sees `retry:` reaches it.
    let forward: (message: string) => void = () => {};
    // An end heard before the stream is set up is kept, and refuses it below.
    let endedEarly: string | null = null;
    let ended: (reason: string) => void = (reason) => { endedEarly = reason; };
    // Updates lost with the process's subscriber connection (a Redis restart, a dropped socket): the
    // stream ends and the page reconnects, catching up on what it shows (web/assets/live.js).
    let lostEarly = false;
    let lost: () => void = () => { lostEarly = true; };
    const unlost = hub.onLost(() => lost());
    let leave: () => void;
    let unwatch: () => void = () => {};
    try {
      leave = await hub.subscribe(userId, (message) => forward(message));
      // The stream ends with its session: sign-out, re-sign-in, key cleared or changed, expiry.
      try {
        unwatch = await watchSessionEnd({
          hub, sessions: deps.sessions, clock: deps.clock, ref, deadline: deps.sessions.deadlineOf(ctx.state.session), onEnd: (reason) => ended(reason),
        });
      } catch (err) {
        leave();
        throw err;
      }
    } catch {
      unlost();
      release();
      throw errors.eventsUnavailable();
    }
    // The session was checked before the subscriptions were made: an end published meanwhile went
    // unheard (a sign-out in another tab while this request was on its way). Checked again now that
    // none can be missed; a session ended is refused, as at requireUser.
    const still = endedEarly === null && (await deps.sessions.loadByRef(ref).catch(() => undefined))?.user?.id === userId;
    if (!still || endedEarly !== null) {
      leave();
      unwatch();
      unlost();
      release();
      throw errors.unauthenticated();
    }

    const stream = openSse(ctx, {
      keepAliveMs: opts.keepAliveMs,
      stillAllowed: async () => {
        if ((await deps.sessions.loadByRef(ref))?.user?.id !== userId) return false;
        // A bearer stream's token too, as each of its requests would be: revoked at GitHub, the stream says so
        // here (the end its refusal publishes may reach this process only after the stream is gone).
        if (ctx.state.bearerStillValid && !(await ctx.state.bearerStillValid())) { ended('token_revoked'); return false; }
        return true;
      },
    });
    // This stream's marker, then published once it forwards: see events/handover.ts.
    const marker = newStreamMarker();
    stream.send('stream', JSON.stringify({ type: 'stream', marker }));
    forward = (message) => {
      const subscribed = subscribedEvent(message);
      if (subscribed) { stream.send('subscribed', subscribed); return; }
      const service = serviceEvent(message);
      if (service) { stream.send('service', service); return; }
      const finding = sentinelEventData(message);
      if (finding) { stream.send('sentinel', finding); return; }
      const data = deploymentEvent(message);
      if (data) { stream.send('deployment', data); return; }
      const logs = following ? logsEvent(message, following) : null;
      if (logs) stream.send('logs', logs);
    };
    ended = (reason) => {
      stream.send('session', JSON.stringify({ type: 'session_ended', reason: END_REASONS.has(reason) ? reason : 'ended' }));
      stream.end();
    };
    lost = () => stream.end();
    const unfollow = following ? tailer.watch({ deploymentId: following, userId, sessionRef: ref }) : null;
    stream.onClose(() => { leave(); unwatch(); unlost(); release(); unfollow?.(); });
    if (lostEarly) stream.end();
    // Not awaited: without it the page lets the stream this one replaces go after a wait, and catches up.
    deps.redis.publish(deps.deployments.keys.channel(userId), subscribedMessage(marker)).catch(() => {});
    opts.onStream?.(ctx);
  });

  return { hub, close: async () => { await owned?.close(); } };
}
