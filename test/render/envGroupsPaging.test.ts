import test from 'ava';
import { startRenderSimulator, type RenderSimulator } from '../../sandbox/render/index.js';
import { createRenderClient } from '../../server/render/client.js';

// The env groups of a workspace, read in pages by creation time (createdBefore), for log redaction. Groups created
// within one millisecond (a Blueprint sync makes many at once; Render stamps microseconds) were read one group per
// page after the first, and 150 groups ended as "more env groups than this app reads (1,000)": the logs hidden with
// a wrong reason (found by a probe of paging at scale).
let sim: RenderSimulator;
let frozen: number | null = null;
test.before(async () => {
  sim = await startRenderSimulator({ now: () => frozen ?? Date.now(), rateLimits: { write: { limit: 10_000 }, read: { limit: 10_000 } } });
});
test.after.always(async () => { await sim?.close(); });

test('150 env groups created within one millisecond are all read', async (t) => {
  const apiKey = `rnd_envgroups${'Q'.repeat(24)}`;
  sim.addAccount({ apiKey, workspaces: [{ name: 'ws' }] });
  const owners = await (await fetch(`${sim.url}/owners`, { headers: { authorization: `Bearer ${apiKey}` } })).json() as Array<{ owner: { id: string } }>;
  const ownerId = owners[0]!.owner.id;
  frozen = Date.now();
  for (let i = 0; i < 150; i++) {
    const res = await fetch(`${sim.url}/env-groups`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: `g${i}`, ownerId, envVars: [] }) });
    t.is(res.status, 201);
  }
  frozen = null;
  const groups = await createRenderClient({ baseUrl: sim.url, apiKey }).listEnvGroups(ownerId);
  t.is(new Set(groups.map((g) => g.id)).size, 150);
});
