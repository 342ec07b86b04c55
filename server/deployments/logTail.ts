import type { Redis } from 'ioredis';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { Keyring } from '../crypto/keyring.js';
import type { SessionStore } from '../sessions/store.js';
import type { RenderClient } from '../render/client.js';
import type { UpstreamClients } from '../upstream.js';
import { BudgetExhausted, type RenderBudget } from '../render/budget.js';
import type { Deploy, LogEntry } from '../render/types.js';
import type { DeploymentStore } from './store.js';
import { isTerminal } from './types.js';
import { presentLine, serviceSecrets, type LogLine } from './logs.js';
import { secretsGeneration } from './retiredSecrets.js';
import { clampToWindow, deployLogWindows, deployRunning, timeUs, type LogPhase } from './logWindows.js';
import { tailStateStore, TailMovedOn, type LoadedTailState, type TailState } from './logTailState.js';
import { keyStillHeld, tailKey, TailKeyWithdrawn } from './logTailKey.js';
import { RenderApiError } from '../render/errors.js';
import { RENDER_WAIT_MAX_MS } from '../render/rate-limit.js';
import { auditedReadNotes } from '../sentinel/store.js';

/**
 * Live log tails: one poller per deployment across all web processes, however many tabs watch it.
 * Each process tracks which of its SSE streams follow which deployment; for a followed deployment
 * it tries to take a Redis lease, and only the lease holder calls Render. New lines go to the
 * owner's pub/sub channel, which every web process already fans out to its streams, so 100 tabs
 * cost the Render calls of one. Where the tail stands (phase, last timestamp, ids at it) lives in
 * Redis, so another process takes over without repeating or skipping lines. A poll's lines go out
 * only if nobody moved the tail on since the poll loaded it (logTailState.ts), not only while its
 * lease holds: a read slower than the lease still delivers.
 *
 * Budget: polls take a slot from the key's shared budget without waiting; when it is spent the
 * poller waits until a slot frees (it slows down; nobody sees an error).
 */
export interface LogTailOptions {
  /** Between polls while the deploy's build runs. Default 3 s (20 calls/min of Render's ~30 for logs). */
  buildIntervalMs?: number;
  /** Between polls of a live deploy's runtime lines. Default 10 s. */
  runtimeIntervalMs?: number;
  /** A lease not renewed for this long is taken over by another process. Default 15 s. */
  leaseMs?: number;
  /** Render's log pipeline lags its statuses: a finished window is read once more after this. Default 3 s. */
  settleMs?: number;
  /** How long the service's env var values and secret files (for redaction) are reused, unless changed through the settings meanwhile. Default 5 min. */
  secretsTtlMs?: number;
  /** After a log read cut by size or timed out, how long the tail keeps its smaller page before growing it back. Default 60 s. */
  pageRegrowMs?: number;
}

interface LogTailDeps {
  redis: Redis;
  prefix: string;
  upstream: Pick<UpstreamClients, 'render'>;
  sessions: Pick<SessionStore, 'loadByRef'>;
  keyring: Keyring;
  budget: RenderBudget;
  deployments: Pick<DeploymentStore, 'get' | 'keys'>;
  clock: Clock;
  logger: Logger;
}

interface Watcher { deploymentId: string; userId: number; sessionRef: string }

interface LogTailStats {
  /** Deployments followed by this process's streams. */
  followed: number;
  /** Polls this process ran while holding a lease. */
  polls: number;
  /** GET /logs calls this process made for tails. */
  renderLogCalls: number;
}

export interface LogTailer {
  /** Follow a deployment (the caller checked it is the user's); call the result when the stream ends. */
  watch(w: Watcher): () => void;
  stats(): LogTailStats;
  /** The same counters for one deployment's tail in this process (zeros when it is not followed here). */
  tailStats(deploymentId: string): { followed: boolean; polls: number; renderLogCalls: number };
  close(): Promise<void>;
}

/** The message published on the owner's channel (server/events/logEvents.ts re-serialises it for SSE). */
interface LogsMessage {
  type: 'logs';
  deploymentId: string;
  lines: LogLine[];
  /** Older lines exist that no message carried (a tail's first look is its newest page): a panel whose newest line is older reads back to it. */
  partial?: boolean;
  /** The tail ended for good: `gone`, Render no longer has the deploy or its service (deleted). */
  ended?: 'gone';
}

interface Tail {
  deploymentId: string;
  userId: number;
  refs: Map<string, number>;
  timer: NodeJS.Timeout | null;
  stopped: boolean;
  /** Its poller ended (log complete, or Render has no such deploy): a stream that joins starts it once more. */
  ended: boolean;
  /** Each start of its poller (new, or ended and joined): a tick of an earlier run stops at its end. */
  run: number;
  /** The last poll read Render with the key the deployment was made with (so a 404 means gone). */
  onDeploymentKey: boolean;
  store: ReturnType<typeof tailStateStore>;
  deploy: Deploy | null;
  /** The values it redacts with, when they were read, and the service's secrets generation then. */
  secrets: { values: string[]; at: number; gen: string } | null;
  polls: number;
  renderLogCalls: number;
  /**
   * Lines per log read: PAGE, less after a read cut by size (1 MB lines) or one that timed out, so the
   * next poll does not start over with a read that fails the same way; doubled back on each read answered
   * in full (caught up or not) once none was cut or timed out for `pageRegrowMs` (`pageCutAt`).
   */
  pageLimit: number;
  pageCutAt: number;
}

const PAGE = 100;
const CATCH_UP_MS = 250;

/** A page's next bound when it moved past `asked` that way (1 later, -1 earlier): else null (a bound that did not move, or none). */
function movedOn(next: string | undefined, asked: string, way: 1 | -1): string | null {
  const [n, a] = [next ? timeUs(next) : null, timeUs(asked)];
  return n !== null && a !== null && (n - a) * way > 0 ? next! : null;
}

export function createLogTailer(deps: LogTailDeps, opts: LogTailOptions = {}): LogTailer {
  const buildMs = opts.buildIntervalMs ?? 3_000;
  const runtimeMs = opts.runtimeIntervalMs ?? 10_000;
  const leaseMs = opts.leaseMs ?? 15_000;
  const settleMs = opts.settleMs ?? 3_000;
  const secretsTtlMs = opts.secretsTtlMs ?? 300_000;
  const pageRegrowMs = opts.pageRegrowMs ?? 60_000;
  const token = `${process.pid}-${Math.random().toString(36).slice(2)}`;
  const tails = new Map<string, Tail>();
  const counters = { polls: 0, renderLogCalls: 0 };
  // Each tail its own lease token: a poll still running for a tail that ended (its last stream left)
  // cannot commit under the lease of the tail that replaced it in this process.
  let tailsMade = 0;
  const nowIso = () => new Date(deps.clock.now()).toISOString();

  /** A client on the key chosen by tailKey, on the key's budget, counting the tail's log calls. */
  async function clientFor(tail: Tail, keyFingerprint: string): Promise<RenderClient | null> {
    const key = await tailKey(deps, tail.refs.keys(), tail.userId, keyFingerprint);
    tail.onDeploymentKey = key?.onDeploymentKey ?? false;
    if (!key) return null;
    // The poll's first call goes out on the check just made; each later one only while a session still
    // following the tail holds this key: one withdrawn while the poll was at Render (sign-out, cleared,
    // replaced; a stream that ended) is not used again, as deploy runs and Sentinel rounds stop (SECURITY.md).
    let first = true;
    // The values read for redaction are in Render's audit log: noted first, as callerRender does, so
    // Sentinel does not report the user's own open log panel as someone viewing their env vars. On Render's
    // clock (its answers' Date), as Render stamps their audit entries: sentinel/store.ts.
    const notes = auditedReadNotes(deps.redis, deps.prefix, tail.userId, deps.clock);
    return deps.upstream.render(key.apiKey, {
      beforeRequest: async (call) => {
        if (!first && (tail.stopped || !(await keyStillHeld(deps, [...tail.refs.keys()], tail.userId, key.fingerprint)))) throw new TailKeyWithdrawn();
        first = false;
        await deps.budget.acquireOrThrow(key.fingerprint, call);
        await notes.before(call);
      },
      afterResponse: (call) => {
        notes.after(call);
        if (call.route === '/logs') { counters.renderLogCalls += 1; tail.renderLogCalls += 1; }
      },
    });
  }

  async function secretsOf(tail: Tail, client: RenderClient, service: { ownerId: string; serviceId: string }): Promise<string[]> {
    const now = deps.clock.now();
    const gen = await secretsGeneration(deps, service.serviceId);
    if (!tail.secrets || now - tail.secrets.at > secretsTtlMs || tail.secrets.gen !== gen) {
      tail.secrets = { values: (await serviceSecrets(client, service, deps, deps.clock)).values, at: now, gen };
    }
    return tail.secrets.values;
  }

  /**
   * The new state, with the lines (if any) published on the owner's channel: both or neither, while the
   * state is still `from` (nobody moved the tail on meanwhile), and not for a tail that ended meanwhile
   * (its last stream left: a tail that replaced it reads from the same state).
   */
  async function commit(tail: Tail, from: LoadedTailState, state: TailState, lines: LogLine[] = [], partial = false): Promise<void> {
    if (tail.stopped) throw new TailMovedOn('the log tail ended during the poll');
    // An empty message only to say "there is more before this point" (e.g. a tail that starts at runtime).
    const msg: LogsMessage | null = lines.length || partial ? { type: 'logs', deploymentId: tail.deploymentId, lines, ...(partial ? { partial } : {}) } : null;
    await tail.store.commit(tail.deploymentId, from, state, deps.deployments.keys.channel(tail.userId), msg && JSON.stringify(msg));
  }

  /** One poll; the delay until the next, or null when this deployment's log is complete. */
  async function poll(tail: Tail): Promise<number | null> {
    const loaded = await tail.store.load(tail.deploymentId);
    const { state } = loaded;
    if (state.done) return null;
    const rec = await deps.deployments.get(tail.deploymentId);
    if (!rec || rec.userId !== tail.userId) return null;
    if (!rec.serviceId || !rec.deployId) return isTerminal(rec.status) ? null : buildMs;
    const client = await clientFor(tail, rec.keyFingerprint);
    if (!client) return buildMs;
    counters.polls += 1;
    tail.polls += 1;

    // Render's deploy object bounds the windows; re-read only when it can have changed. A live deploy's
    // runtime window is read with the deploy it had (a live deploy's start, finishedAt, stays) and the deploy is
    // read after the lines instead (ownLines): still one deploy read a poll, as before, but one that can tell
    // which of the lines are its own.
    let deploy = tail.deploy;
    const liveRuntime = state.phase === 'runtime' && deploy?.id === rec.deployId && deploy.status === 'live';
    const stale = !liveRuntime && (!deploy || deploy.id !== rec.deployId || deploy.status === 'live' || deploy.status === 'queued'
      || (deployRunning(deploy) && (isTerminal(rec.status) || !deploy.startedAt)));
    if (stale) deploy = tail.deploy = await client.getDeploy(rec.serviceId, rec.deployId);
    const windows = deployLogWindows(deploy!, nowIso());
    if (windows.length === 0) return buildMs;
    const secrets = await secretsOf(tail, client, { ownerId: rec.request.ownerId, serviceId: rec.serviceId });
    const limit = tail.pageLimit;
    const query = { ownerId: rec.request.ownerId, resource: [rec.serviceId], limit };
    // Fewer lines than asked for while there are more: the read was cut by size (render/resources/logs.ts).
    // None at all is no cut (those go down to one line): Render pages by time window, and a stretch of it
    // with no lines, more after it, answers so; taken for a cut it left the tail reading one line a time.
    const fit = (page: { logs: unknown[]; hasMore: boolean }) => {
      if (page.hasMore && page.logs.length === 0) return;
      if (page.hasMore && page.logs.length < limit) {
        tail.pageLimit = page.logs.length;
        tail.pageCutAt = deps.clock.now();
      } else if (deps.clock.now() - tail.pageCutAt >= pageRegrowMs) {
        // A read answered in full, caught up or not: a tail behind an app that prints more than a page per
        // read must grow back too, or one slow read keeps it at small pages, ever further behind.
        tail.pageLimit = Math.min(PAGE, limit * 2);
      }
    };
    const present = (logs: LogEntry[], phase: LogPhase) => logs.map((l) => presentLine(l, phase, secrets));
    /**
     * A read up to "now" while the deploy ran (build) or was live (runtime). Render's logs cannot be asked for
     * one deploy: once it finished, the service's next deploy (queued behind it) builds at once, and its build
     * lines fall in that window until the deploy is read again (the record's final status comes later, at the
     * worker's next check); once the next deploy goes live, this one is deactivated (its runtime ends at its
     * updatedAt, logWindows.ts) and the next one's app lines fall in a runtime window that ends at the web's
     * "now", read from the deploy Render had called live: a web clock ahead of Render's, or a log read that
     * waited at Render while the next deploy went live, streamed them into this deployment's tail (the history
     * pages, which take "now" before reading the deploy, never had them). So after a read the deploy is read
     * again, and when it has ended, the lines after its end go. Read after the lines: a deploy still running
     * (still live; a live deploy only ever becomes deactivated) then was so when they were written.
     * Cost, in Render calls of the one poller a deployment has (however many tabs watch it): a build read that
     * brought lines makes one deploy read more (as it did), and so does a tail's first look at runtime (once per
     * start of its poller); a live deploy's later runtime polls (`readAfter`) make here the deploy read they made
     * before the log read, so each stays one deploy read and one log read, caught up (4 polls a second) or not,
     * lines or none (test/server/logTailRuntimeNextDeploy.test.ts; re-read on top of it, a printing app's polls
     * took two). Log reads are unchanged: the bench's "log tail fan-out" row counts those.
     */
    const ownLines = async <P extends { logs: LogEntry[]; hasMore: boolean }>(page: P, phase: LogPhase, readAfter = false): Promise<P> => {
      const open = (d: Deploy) => (phase === 'build' ? deployRunning(d) : d.status === 'live');
      if (!open(tail.deploy!) || (page.logs.length === 0 && !readAfter)) return page;
      const now = tail.deploy = await client.getDeploy(rec.serviceId!, rec.deployId!);
      if (open(now)) return page;
      const ended = deployLogWindows(now, nowIso()).find((x) => x.phase === phase);
      const end = (ended && timeUs(ended.endTime)) ?? Infinity;
      const own = page.logs.filter((l) => (timeUs(l.timestamp) ?? 0) <= end);
      return own.length === page.logs.length ? page : { ...page, logs: own };
    };

    if (!state.phase) {
      // First poll: the newest page of the latest phase (what a panel opening now shows), then forward.
      const index = windows.length - 1;
      const w = windows[index]!;
      const looked = state.before?.phase === w.phase ? clampToWindow(w, w.startTime, state.before.end) : null;
      const range = looked ?? { startTime: w.startTime, endTime: w.endTime };
      const read = await client.listLogs({ ...query, type: w.types, ...range, direction: 'backward' });
      fit(read);
      const page = await ownLines(read, w.phase);
      // No line in the newest stretch, more before it: the first look reads on from the window Render
      // names (as the history pages do), not from the window's start, nor the same stretch again.
      const below = page.logs.length === 0 && page.hasMore ? movedOn(page.nextEndTime, range.endTime, -1) : null;
      if (below && clampToWindow(w, w.startTime, below)) {
        await commit(tail, loaded, { ...state, before: { phase: w.phase, end: below } });
        return CATCH_UP_MS;
      }
      const lines = page.logs.slice().reverse();
      const newest = lines[lines.length - 1]?.timestamp ?? null;
      const first: TailState = { phase: w.phase, pos: newest, ids: lines.filter((l) => l.timestamp === newest).map((l) => l.id), settleAt: null, done: false };
      await commit(tail, loaded, first, present(lines, w.phase), page.hasMore || index > 0);
      return w.phase === 'build' ? buildMs : runtimeMs;
    }

    const index = windows.findIndex((w) => w.phase === state.phase);
    if (index < 0) return null;
    const w = windows[index]!;
    const interval = w.phase === 'build' ? buildMs : runtimeMs;
    const range = clampToWindow(w, state.pos ?? w.startTime, w.endTime);
    if (range) {
      const read = await client.listLogs({ ...query, type: w.types, ...range, direction: 'forward' });
      fit(read);
      const page = await ownLines(read, w.phase, liveRuntime);
      const seen = new Set(state.ids);
      const fresh = present(page.logs.filter((l) => !seen.has(l.id)), w.phase);
      const last = page.logs[page.logs.length - 1];
      // No line, more after: Render names the next window past the stretch it found empty. Read again from
      // where the tail stood, the same query had the same empty answer, 4 times a second, for ever. No
      // line was delivered past the old position, so none at the new one was either (ids start over).
      const after = !last && page.hasMore ? movedOn(page.nextStartTime, range.startTime, 1) : null;
      // Every line of the page at the instant the tail stood at, all delivered: more lines share one instant
      // than a page holds (a stack trace printed in one write). Read again from there, the same page came
      // back 4 times a second, for ever, spending the key's log reads, and nothing after it was delivered.
      // A page made smaller after a cut grows back first; a full one reads on past that instant (Render's
      // next window), and says lines were left out (partial): a panel reads what it can from the history.
      const stuck = page.hasMore && last !== undefined && fresh.length === 0 && last.timestamp === state.pos;
      if (stuck && limit < PAGE && page.logs.length === limit) {
        tail.pageLimit = Math.min(PAGE, limit * 2);
        await commit(tail, loaded, state);
        return CATCH_UP_MS;
      }
      const past = stuck ? movedOn(page.nextStartTime, last.timestamp, 1) : null;
      if (past) {
        state.pos = past;
        state.ids = [];
      } else if (last) {
        const atLast = page.logs.filter((l) => l.timestamp === last.timestamp).map((l) => l.id);
        state.ids = last.timestamp === state.pos ? [...new Set([...state.ids, ...atLast])] : atLast;
        state.pos = last.timestamp;
      } else if (after) {
        state.pos = after;
        state.ids = [];
      }
      await commit(tail, loaded, state, fresh, past !== null);
      if (stuck && !past) return interval; // Render named no window past it: no hurry either
      if (page.hasMore) return last || after ? CATCH_UP_MS : interval; // the same window named again: no hurry
    } else if (liveRuntime) {
      // Nothing to read (the tail stands past the web's "now": Render's clock ahead): the poll's deploy read still.
      tail.deploy = await client.getDeploy(rec.serviceId, rec.deployId);
    }
    // This window is read up to now. It is complete once Render closed it and the pipeline settled (as the
    // deploy was last read: ownLines may have read it after the lines).
    deploy = tail.deploy!;
    const closed = w.phase === 'build' ? !deployRunning(deploy) : deploy.status === 'deactivated';
    if (!closed) {
      if (!range) await commit(tail, loaded, state); // nothing read: only keeps the state from expiring
      return interval;
    }
    const now = deps.clock.now();
    if (state.settleAt === null || now < state.settleAt) {
      state.settleAt ??= now + settleMs;
      await commit(tail, loaded, state);
      return Math.max(CATCH_UP_MS, state.settleAt - now);
    }
    const next = windows[index + 1];
    if (next) {
      await commit(tail, loaded, { phase: next.phase, pos: null, ids: [], settleAt: null, done: false });
      return CATCH_UP_MS;
    }
    await commit(tail, loaded, { ...state, done: true });
    return null;
  }

  // Not marked done in Redis: a 404 can also mean the key now in use sees another workspace, and a
  // stream opened later (another key, another process) tries once more rather than an hour later.
  async function endGone(tail: Tail): Promise<void> {
    const loaded = await tail.store.load(tail.deploymentId);
    const msg: LogsMessage = { type: 'logs', deploymentId: tail.deploymentId, lines: [], ended: 'gone' };
    await tail.store.commit(tail.deploymentId, loaded, loaded.state, deps.deployments.keys.channel(tail.userId), JSON.stringify(msg));
    await tail.store.release(tail.deploymentId);
  }

  async function tick(tail: Tail, run: number): Promise<void> {
    tail.timer = null;
    if (tail.stopped) return;
    let delay: number | null = buildMs;
    try {
      if (await tail.store.lease(tail.deploymentId, leaseMs)) {
        delay = await poll(tail);
        if (delay === null || tail.stopped) await tail.store.release(tail.deploymentId);
        // Hold the lease over the pause too, so no other process starts polling in between.
        else await tail.store.lease(tail.deploymentId, delay + leaseMs);
      }
    } catch (err) {
      if (err instanceof BudgetExhausted) delay = Math.max(err.retryAfterMs, CATCH_UP_MS);
      else if (err instanceof TailKeyWithdrawn) delay = buildMs; // the next poll reads with a key still held, if any
      else if (err instanceof TailMovedOn) delay = buildMs; // another poll delivered from where this one read; try for the lease later
      else if (err instanceof RenderApiError && err.kind === 'rate_limited') {
        // Render's own limit (the key's other clients count too): wait as long as it says, holding the lease
        // meanwhile; not a tail that ended during the read (stop() released its lease, taken back here it
        // kept the tail of the next stream from polling until Retry-After and the lease had run out).
        // At most Render's longest window: a timer past 2^31-1 ms fires at once, and the tail asked again
        // every millisecond until the key's log budget ran out.
        delay = Math.min(RENDER_WAIT_MAX_MS, Math.max(err.retryAfterMs ?? runtimeMs, CATCH_UP_MS));
        if (!tail.stopped) await tail.store.lease(tail.deploymentId, delay + leaseMs).catch(() => false);
      } else if (err instanceof RenderApiError && err.kind === 'not_found' && tail.onDeploymentKey) {
        // The service (or the deploy) was deleted: no line will ever come, so polling stops for good.
        delay = null;
        // Ended before its "gone" is published: a stream that joins from now on starts the poller once more
        // and hears its own "gone" (watch); one that joined before was subscribed already (routes/events.ts
        // subscribes, then watches). Marked after the publish, a stream that subscribed just after it and
        // joined before the mark never heard "gone" (a UI test failed so in CI).
        tail.ended = true;
        await endGone(tail).catch(() => {});
      } else {
        // A log read Render did not answer in time (a page of huge lines on a loaded machine): the next
        // poll asks for fewer lines, or it would time out the same way for ever.
        if (err instanceof RenderApiError && err.kind === 'timeout' && err.route === '/logs') {
          tail.pageLimit = Math.max(1, Math.ceil(tail.pageLimit / 2));
          tail.pageCutAt = deps.clock.now();
        }
        // Name and status only: messages of HTTP errors are not ours to log.
        const e = err as { name?: string; status?: number };
        deps.logger.warn({ deploymentId: tail.deploymentId, err: { name: e.name, status: e.status } }, 'log tail poll failed');
        delay = runtimeMs;
      }
    }
    if (delay === null && tail.run === run) tail.ended = true;
    // A tail stopped while this tick renewed its lease lets it go (stop() may have released it first).
    if (tail.stopped) await tail.store.release(tail.deploymentId).catch(() => {});
    if (delay === null || tail.stopped || tail.run !== run) return;
    tail.timer = setTimeout(() => void tick(tail, run), delay);
    tail.timer.unref();
  }

  function stop(tail: Tail): void {
    tail.stopped = true;
    if (tail.timer) clearTimeout(tail.timer);
    tail.timer = null;
    tails.delete(tail.deploymentId);
    tail.store.release(tail.deploymentId).catch(() => {});
  }

  return {
    watch(w) {
      let tail = tails.get(w.deploymentId);
      const fresh = !tail;
      if (!tail) {
        tail = { deploymentId: w.deploymentId, userId: w.userId, refs: new Map(), timer: null, stopped: false, ended: false, run: 0, onDeploymentKey: false, store: tailStateStore(deps.redis, deps.prefix, `${token}:${++tailsMade}`), deploy: null, secrets: null, polls: 0, renderLogCalls: 0, pageLimit: PAGE, pageCutAt: -Infinity };
        tails.set(w.deploymentId, tail);
      }
      if (fresh || tail.ended) {
        tail.ended = false;
        const t = tail;
        const run = ++t.run;
        t.timer = setTimeout(() => void tick(t, run), 0);
        t.timer.unref();
      }
      const mine = tail;
      mine.refs.set(w.sessionRef, (mine.refs.get(w.sessionRef) ?? 0) + 1);
      let left = false;
      return () => {
        if (left) return;
        left = true;
        const n = (mine.refs.get(w.sessionRef) ?? 1) - 1;
        if (n > 0) mine.refs.set(w.sessionRef, n); else mine.refs.delete(w.sessionRef);
        if (mine.refs.size === 0 && tails.get(mine.deploymentId) === mine) stop(mine);
      };
    },
    stats: () => ({ followed: tails.size, polls: counters.polls, renderLogCalls: counters.renderLogCalls }),
    tailStats(deploymentId) {
      const tail = tails.get(deploymentId);
      return tail ? { followed: true, polls: tail.polls, renderLogCalls: tail.renderLogCalls } : { followed: false, polls: 0, renderLogCalls: 0 };
    },
    async close() {
      for (const tail of [...tails.values()]) stop(tail);
    },
  };
}
