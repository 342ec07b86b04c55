import type { Stack } from './stack.js';
import type { RawResponse } from './attackHttp.js';
import type { Tenant } from './attackTenants.js';

// What the attack suites check after an attack: state snapshots ("nothing changed") and the
// response invariants every answer to hostile input keeps.

// ---------------------------------------------------------------------------------------------
// State snapshots ("nothing changed")

/** Key families that legitimately change on any request (rate limits, Render budget, audit, alerts, caches, metrics, request telemetry). */
const VOLATILE = /:(rl|budget|audit|alert|svc-cache|metrics|tel):/;

/** Every Redis key except the volatile families, sorted. */
async function durableRedisKeys(stack: Stack): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await stack.redis.client.scan(cursor, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch.filter((k) => !VOLATILE.test(k)));
  } while (cursor !== '0');
  return keys.sort();
}

/** What a tenant can see of their own state: session, deployment records, and their Render services. */
export async function tenantState(stack: Stack, tn: Tenant) {
  const session = await tn.agent.get('/api/session');
  const mine = await tn.agent.get('/api/render/my-deployments?limit=100');
  const services = await tn.render.listServices({ ownerId: [tn.ownerId] });
  const deploys = await Promise.all(services.map(async (s) => (await tn.render.listDeploys(s.id)).length));
  return {
    session: { status: session.status, body: session.json },
    deployments: mine.status === 200 ? mine.json.deployments.map((d: { id: string; status: string }) => `${d.id}:${d.status}`) : mine.status,
    services: services.map((s, i) => `${s.id}:${s.suspended}:${deploys[i]}`).sort(),
    renderCallsWithKey: stack.render.calls.filter((c) => c.accountId === tn.accountId && c.method !== 'GET').length,
  };
}

/** Snapshot of every tenant's state plus the durable Redis key set. */
export async function snapshot(stack: Stack, tenants: Tenant[]) {
  const states: Record<string, unknown> = {};
  for (const tn of tenants) states[tn.login] = await tenantState(stack, tn);
  return { tenants: states, redisKeys: await durableRedisKeys(stack) };
}

// ---------------------------------------------------------------------------------------------
// Response invariants

/** Why a response breaks the contract for hostile input, or null: no 5xx, JSON {error:{code,message}} for /api 4xx. */
export function contractViolation(path: string, res: RawResponse): string | null {
  if (res.status >= 500) return `${res.status} ${res.text.slice(0, 300)}`;
  if (res.status < 100) return `no answer (${res.status})`;
  const onApi = path.startsWith('/api/');
  if (onApi && res.status >= 400) {
    const err = res.json?.error;
    if (!String(res.headers['content-type'] ?? '').startsWith('application/json')) return `${res.status} without a JSON body: ${res.headers['content-type']}`;
    if (!err || typeof err.code !== 'string' || typeof err.message !== 'string' || !err.code || !err.message) return `${res.status} body is not {error:{code,message}}: ${res.text.slice(0, 300)}`;
  }
  return null;
}

/** Log lines the error middleware writes for an unexpected exception. */
export function unhandledErrors(logs: string[]): string[] {
  return logs.filter((l) => l.includes('unhandled error'));
}
