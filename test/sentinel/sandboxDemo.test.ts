import test from 'ava';
import { startRenderSimulator } from '../../sandbox/render/index.js';
import { DEMO, scheduleSentinelDemo } from '../../sandbox/seed.js';
import { createRenderClient } from '../../server/render/client.js';
import { AUDIT_RULES } from '../../server/sentinel/rules.js';

test('sandbox mode: the demo workspace gets finding-worthy audit entries after a short while', async (t) => {
  const render = await startRenderSimulator();
  t.teardown(() => render.close());
  const { ownerId } = render.addAccount({ apiKey: DEMO.renderApiKey, workspaces: [{ name: 'Demo workspace' }] });
  const stop = scheduleSentinelDemo(render, { firstAfterMs: 20, everyMs: 40 });
  t.teardown(stop);
  const client = createRenderClient({ baseUrl: render.url, apiKey: DEMO.renderApiKey });
  let events: string[] = [];
  for (let i = 0; i < 100 && events.length < 2; i++) {
    await new Promise((r) => setTimeout(r, 50));
    events = (await client.listAuditLogs(ownerId, { limit: 10 })).items.map((a) => a.event);
  }
  t.true(events.length >= 2, events.join(','));
  t.true(events.every((e) => AUDIT_RULES[e]?.severity === 'high'), 'each demo entry is a high finding');
});
