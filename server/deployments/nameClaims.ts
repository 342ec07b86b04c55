import type { Redis } from 'ioredis';
import type { DeploymentKeys } from './storeKeys.js';
import { isTerminal, type DeploymentRecord } from './types.js';

// Which of our deployments is creating a service under a name in a workspace (workers/tasks/createService.ts).
// Render's services carry no mark of who asked for them, and two of our deployments (two users of a team
// key, two tabs) may ask for the same name at once: the one that loses the race must not mistake the
// winner's service for one it made itself before a crash. So a deployment claims the name before its
// creation, and adopts a service under it only while the claim is its own and the service came after it.

/** A claim outlives any retry of a creation; a finished claimant's claim is taken over before then. */
const NAME_CLAIM_MS = 24 * 3_600_000;

/** Replace the claim only if it is still the one judged finished (another may have taken it meanwhile). */
const TAKE_OVER = `
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then return cur end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return ARGV[2]`;

/** A deployment's claim of a name: who, and when (epoch ms, our clock). */
export interface NameClaim { id: string; at: number }

const encode = (c: NameClaim) => `${c.id}@${c.at}`;
function decode(raw: string | null): NameClaim | null {
  const at = raw?.lastIndexOf('@') ?? -1;
  return raw && at > 0 ? { id: raw.slice(0, at), at: Number(raw.slice(at + 1)) } : null;
}

/**
 * A claimant still creating: not ended, and no service recorded yet (one recorded has no more need of the name);
 * or canceled in `creating_service` less than `landMs` ago with no service noted: its creation, sent before the
 * cancel, may still land on Render (it is answered or given up within the client's timeout), and a claim taken
 * over meanwhile made the next deployment of the name adopt that service as its own.
 */
function stillCreating(rec: DeploymentRecord | null, now: number, landMs: number): boolean {
  if (rec === null || rec.serviceId) return false;
  if (!isTerminal(rec.status)) return true;
  const at = rec.timeline.findLastIndex((e) => e.status === 'canceled');
  return rec.status === 'canceled' && at > 0 && rec.timeline[at - 1]!.status === 'creating_service' && now - Date.parse(rec.timeline[at]!.at) < landMs;
}

export function createNameClaims(opts: { redis: Redis; keys: DeploymentKeys; get(id: string): Promise<DeploymentRecord | null> }) {
  const { redis, keys } = opts;
  return {
    /**
     * Claim `name` in workspace `ownerId` for deployment `id` at `now`: the claim after the attempt
     * (this deployment's, with the time it first claimed, or the other claimant's). A claim held by a
     * deployment that ended, that has its service by now, or whose record is gone or altered is taken over; one
     * canceled while creating is kept for `creationMayLandMs` after its cancel (stillCreating).
     */
    async claimServiceName(ownerId: string, name: string, id: string, now: number, creationMayLandMs = 0): Promise<NameClaim> {
      const key = keys.nameClaim(ownerId, name);
      const mine = encode({ id, at: now });
      if (await redis.set(key, mine, 'PX', NAME_CLAIM_MS, 'NX')) return { id, at: now };
      const raw = await redis.get(key);
      const held = decode(raw);
      if (held?.id === id) return held;
      if (held && stillCreating(await opts.get(held.id).catch(() => null), now, creationMayLandMs)) return held;
      return decode(String(await redis.eval(TAKE_OVER, 1, key, raw ?? '', mine, String(NAME_CLAIM_MS))))!;
    },
    /** The claim of `name` in `ownerId` (null: nobody's, or it was lost with Redis' writes). */
    async serviceNameClaim(ownerId: string, name: string): Promise<NameClaim | null> {
      return decode(await redis.get(keys.nameClaim(ownerId, name)));
    },
  };
}
