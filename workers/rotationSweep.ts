import type { Logger } from '../server/logger.js';
import type { Keyring } from '../server/crypto/keyring.js';

export interface RotationSweepOptions {
  /** How often the sweep runs again while SECRET_KEY_PREVIOUS is set (default 15 minutes; 0: at start only). */
  everyMs?: number;
}

const DEFAULT_EVERY_MS = 15 * 60_000;

interface Resigner { resignStale(): Promise<number> }

/**
 * While a SECRET_KEY rotation is under way (SECRET_KEY_PREVIOUS set): deployment records and audit
 * heads and checkpoints still signed with the previous key are re-signed with the current one (and
 * retired secret values sealed with it are re-sealed), at
 * start and every `everyMs` after. Not once at start only: during a rolling deploy, instances still on
 * the previous key go on writing with it after this worker started (SECURITY.md, "Rotating
 * SECRET_KEY"), and once SECRET_KEY_PREVIOUS is removed whatever nobody re-signed no longer verifies.
 * Each pass reads every record's MAC: cheap at this rhythm, and only for the rotation's duration.
 */
export function startRotationSweeps(deps: { keyring: Keyring; deployments: Resigner; audit: Resigner; retiredSecrets: Resigner; logger: Logger; instance: string }, opts: RotationSweepOptions = {}) {
  if (!deps.keyring.previous) return { first: Promise.resolve(), stop: async () => {} };
  const { logger, instance } = deps;
  // Each count is logged after the pass at start (an operator waits for it), later ones only when they re-signed some.
  const pass = async (atStart: boolean) => {
    await deps.deployments.resignStale().then(
      (count) => { if (atStart || count) logger.info({ worker: instance, count }, 'deployment records re-signed with the new SECRET_KEY'); },
      (err: Error) => logger.error({ err: { message: err.message } }, 're-signing deployment records failed; the next sweep tries again'),
    );
    // Audit heads too: an append does not extend a head it cannot verify, as one signed only with the previous key would be after the overlap.
    await deps.audit.resignStale().then(
      (count) => { if (atStart || count) logger.info({ worker: instance, count }, 'audit chain heads re-signed with the new SECRET_KEY'); },
      (err: Error) => logger.error({ err: { message: err.message } }, 're-signing audit chain heads failed; the next sweep tries again'),
    );
    // And the values kept for log redaction (retiredSecrets.ts, 30 days): sealed only with the previous key, they are lost with it.
    await deps.retiredSecrets.resignStale().then(
      (count) => { if (atStart || count) logger.info({ worker: instance, count }, 'retired secret values re-sealed with the new SECRET_KEY'); },
      (err: Error) => logger.error({ err: { message: err.message } }, 're-sealing retired secret values failed; the next sweep tries again'),
    );
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
