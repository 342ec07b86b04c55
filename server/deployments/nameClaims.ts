import type { Redis } from 'ioredis';
import type { DeploymentKeys } from './storeKeys.js';
import { isTerminal, type DeploymentRecord } from './types.js';
import { redisScript } from '../redisScript.js';
import { deleteIfOurs } from '../redisOwned.js';

// Which of our deployments is creating a service under a name in a workspace (workers/tasks/createService.ts).
// Render's services carry no mark of who asked for them, and two of our deployments (two users of a team
// key, two tabs) may ask for the same name at once: the one that loses the race must not mistake the
// winner's service for one it made itself before a crash. So a deployment claims the name before its
// creation, and adopts a service under it only while the claim is its own and the service came after it.
// Holding the claim is not having sent a creation (a run may stop between the two: out of budget, a
// crash, a cancel), so the claim's creation is marked sent, just before the POST, in a key of its own
// (`name-sent:`, bound to the claim's value: a claim taken over or made again has no mark; a claim's
// value stays as older workers read it). No mark, no adoption: a claim written before marks existed
// counts as nothing sent (a creation of it whose answer was lost is refused as service_name_taken).

/** A claim outlives any retry of a creation; a finished claimant's claim is taken over before then. */
const NAME_CLAIM_MS = 24 * 3_600_000;

/** Replace the claim only if it is still the one judged finished (another may have taken it meanwhile). */
const TAKE_OVER = `
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then return cur end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return ARGV[2]`;

/**
 * Mark the claim's creation sent (KEYS: claim, mark; ARGV: id, now, ttl ms), only while the claim is
 * ARGV[1]'s; a mark of this same claim is kept (its first send). Returns the claim, the mark ('' when
 * the claim is not ARGV[1]'s) and 'new' when this call wrote it.
 */
const MARK_SENT = redisScript(`
local claim = redis.call('GET', KEYS[1]) or ''
if string.match(claim, '^(.+)@%d+$') ~= ARGV[1] then return {claim, ''} end
local mark = redis.call('GET', KEYS[2])
if mark and string.sub(mark, 1, #claim + 1) == claim .. '@' then return {claim, mark} end
mark = claim .. '@' .. ARGV[2]
redis.call('SET', KEYS[2], mark, 'PX', ARGV[3])
return {claim, mark, 'new'}`);

/** A deployment's claim of a name: who, and when (epoch ms, our clock). */
export interface NameClaim { id: string; at: number }

/** A claim as read, with when its deployment first sent a creation under it (null: none sent, or not marked). */
export interface NameClaimRead extends NameClaim { creationSentAt: number | null }

/**
 * A creation about to be sent: the claim as it is now (null: gone with Redis' writes), whether a creation
 * of this deployment was sent under it before (an earlier run's), and `withdraw`, which takes back the mark
 * this call wrote (Render refused the creation: nothing was made). Unmarked unless the claim is the deployment's.
 */
export interface CreationSent { claim: NameClaim | null; sentBefore: boolean; withdraw(): Promise<void> }

const encode = (c: NameClaim) => `${c.id}@${c.at}`;
function decode(raw: string | null): NameClaim | null {
  const at = raw?.lastIndexOf('@') ?? -1;
  return raw && at > 0 ? { id: raw.slice(0, at), at: Number(raw.slice(at + 1)) } : null;
}

/** When the claim `raw`'s creation was first sent, by its mark `<claim>@<ms>` (null: no mark of this claim). */
function sentAtOf(raw: string | null, mark: string | null): number | null {
  return raw && mark?.startsWith(`${raw}@`) ? Number(mark.slice(raw.length + 1)) : null;
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
    /**
     * Deployment `id` is about to send its creation under the name (after its claim, its record read not
     * ended, its budget slot taken): the claim marked sent at `now`, if it is `id`'s (CreationSent).
     */
    async markCreationSent(ownerId: string, name: string, id: string, now: number): Promise<CreationSent> {
      const markKey = keys.nameSent(ownerId, name);
      const [raw, mark, wrote] = (await MARK_SENT(redis, [keys.nameClaim(ownerId, name), markKey], [id, now, NAME_CLAIM_MS])) as string[];
      const withdraw = async () => { if (wrote) await deleteIfOurs(redis, markKey, mark!); };
      return { claim: decode(raw || null), sentBefore: Boolean(mark) && !wrote, withdraw };
    },
    /** The claim of `name` in `ownerId` (null: nobody's, or it was lost with Redis' writes), with its mark. */
    async serviceNameClaim(ownerId: string, name: string): Promise<NameClaimRead | null> {
      const [raw, mark] = await redis.mget(keys.nameClaim(ownerId, name), keys.nameSent(ownerId, name));
      const claim = decode(raw ?? null);
      return claim && { ...claim, creationSentAt: sentAtOf(raw ?? null, mark ?? null) };
    },
  };
}
