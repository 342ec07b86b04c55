import type { Clock } from '../clock.js';
import type { SessionStore } from '../sessions/store.js';
import type { EventHub } from './hub.js';

/** setTimeout's ceiling (about 24.8 days); longer waits are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** After a failed check (Redis away), look again this much later. */
const RETRY_MS = 5_000;

interface SessionEndWatch {
  hub: EventHub;
  sessions: SessionStore;
  clock: Clock;
  ref: string;
  /** When the session expires as loaded for this request (SessionStore.deadlineOf). */
  deadline: number;
  /** Called once: the session ended (reason as published), or expired. */
  onEnd(reason: string): void;
}

/**
 * Ends a live stream with its session, wherever the end happens: sign-out, a new sign-in over it,
 * clear-credentials or a key change in any web process (server/sessions/endSession.ts publishes on
 * the session's channel), or expiry. For expiry a timer fires at the session's deadline and loads
 * the session; the store then finds it expired, destroys it and the end is published to every
 * stream of that session. A session that was used meanwhile (a later deadline) re-arms the timer.
 * Resolves once Redis confirmed the subscription; call the returned function to stop watching.
 */
export async function watchSessionEnd(w: SessionEndWatch): Promise<() => void> {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let leave: (() => void) | undefined;

  const stop = () => {
    stopped = true;
    clearTimeout(timer);
    leave?.();
  };
  const end = (reason: string) => {
    if (stopped) return;
    stop();
    w.onEnd(reason);
  };
  const arm = (deadline: number) => {
    if (stopped) return;
    // The deadline is on the injected clock; +25 ms so the check lands just past it.
    const wait = Math.min(MAX_TIMER_MS, Math.max(0, deadline - w.clock.now()) + 25);
    timer = setTimeout(() => { void check(); }, wait);
    timer.unref();
  };
  const check = async () => {
    let next: number;
    try {
      const sess = await w.sessions.loadByRef(w.ref);
      if (!sess) return end('expired');
      next = w.sessions.deadlineOf(sess);
    } catch {
      next = w.clock.now() + RETRY_MS;
    }
    arm(next);
  };

  leave = await w.hub.subscribeChannel(w.sessions.keys.endChannel(w.ref), (reason) => end(reason));
  if (stopped) leave();
  arm(w.deadline);
  return stop;
}
