import type { Logger } from '../server/logger.js';
import type { Keyring } from '../server/crypto/keyring.js';

export interface RotationSweepOptions {
  /** How often the sweep runs again while SECRET_KEY_PREVIOUS is set (default 15 minutes; 0: at start only). */
  everyMs?: number;
}

const DEFAULT_EVERY_MS = 15 * 60_000;

/** What one pass re-signs: `what` names it in the log ("deployment records re-signed…"). */
export interface RotationResigner { what: string; resignStale(): Promise<number> }

/**
 * While a SECRET_KEY rotation is under way (SECRET_KEY_PREVIOUS set): what is still signed or sealed
 * with the previous key is signed or sealed again with the current one, at start and every `everyMs`
 * after — deployment records, audit heads and checkpoints (an append does not extend a head it cannot
 * verify), retired secret values kept for log redaction and the values last seen (30 days), Sentinel watch settings (a session's
 * lifetime). Not once at start only: during a rolling deploy, instances still on the previous key go on
 * writing with it after this worker started (SECURITY.md, "Rotating SECRET_KEY"), and once
 * SECRET_KEY_PREVIOUS is removed whatever nobody re-signed no longer verifies or opens. Each pass reads
 * every record's MAC or seal: cheap at this rhythm, and only for the rotation's duration.
 */
export function startRotationSweeps(deps: { keyring: Keyring; resigners: RotationResigner[]; logger: Logger; instance: string }, opts: RotationSweepOptions = {}) {
  if (!deps.keyring.previous) return { first: Promise.resolve(), stop: async () => {} };
  const { logger, instance } = deps;
  // Each count is logged after the pass at start (an operator waits for it), later ones only when they re-signed some.
  const pass = async (atStart: boolean) => {
    for (const r of deps.resigners) {
      await r.resignStale().then(
        (count) => { if (atStart || count) logger.info({ worker: instance, count }, `${r.what} re-signed with the new SECRET_KEY`); },
        (err: Error) => logger.error({ err: { message: err.message } }, `re-signing ${r.what} failed; the next sweep tries again`),
      );
    }
  };
  let last: Promise<void> = pass(true);
  const first = last;
  const everyMs = opts.everyMs ?? DEFAULT_EVERY_MS;
  // One pass at a time: a slow one (many records) is not overlapped by the next.
  const timer = everyMs > 0 ? setInterval(() => { last = last.then(() => pass(false)); }, everyMs) : null;
  timer?.unref();
  return {
    /** The pass at start (tests wait on it). */
    first,
    async stop() {
      if (timer) clearInterval(timer);
      await last;
    },
  };
}

export type RotationSweeps = ReturnType<typeof startRotationSweeps>;
