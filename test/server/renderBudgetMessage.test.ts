import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import type { Agent } from '../helpers/agent.js';
import { useScannedStack } from '../helpers/secretScan.js';
import { createService, tenant } from './support/renderTenants.js';

// The app's own per-key Render budget (server/render/budget.ts) holds calls back before Render would
// refuse them. Its 429 must say so: Render did not answer, the app waited to protect the key's limit.
// A 429 that Render itself sent still says Render limited the key. Both keep the code
// render_rate_limited, which the UI, the bearer clients and the metrics key on.

let stack: Stack;
useScannedStack(test, {
  // Render (the simulator) would take far more than our budget: any 429 here is the budget's.
  renderOptions: { rateLimits: { createService: { limit: 10_000 }, write: { limit: 10_000 } } },
}, (s) => ({ stack } = s));

const put = (a: Agent, path: string, json: unknown) => a.request('PUT', path, { json });

test.serial('env var changes past the budget: a 429 that says the app held the call back, and for how long', async (t) => {
  const bud = await tenant(stack, 'budget-env');
  const svc = await createService(bud, 'budget-env');
  const base = `/api/render/services/${svc.id}/env-vars`;
  let refused: Awaited<ReturnType<typeof put>> | undefined;
  let accepted = 0;
  for (let i = 0; i < 40 && !refused; i++) {
    const res = await put(bud.agent, `${base}/KEY_${i}`, { value: `v${i}` });
    if (res.status === 429) refused = res;
    else { t.is(res.status, 200, res.text); accepted++; }
  }
  if (!refused) return t.fail('no change was held back in 40');
  t.true(accepted >= 10, `${accepted} changes went through first`);
  t.is(refused.json.error.code, 'render_rate_limited');
  const wait = Number(refused.headers.get('retry-after'));
  t.true(wait >= 1, `Retry-After ${wait}`);
  const message = String(refused.json.error.message);
  t.notRegex(message, /Render is rate-limiting/, 'Render did not refuse anything');
  t.true(message.includes(`${wait} s`), `the wait is in the message: ${message}`);
  t.regex(message, /held back by this app, not refused by Render/i);
  t.regex(message, /Render's rate limit/);
  t.is(stack.render.calls.filter((c) => c.accountId === bud.account.id && c.status === 429).length, 0, 'Render itself refused nothing');
});

test.serial('a 429 that Render itself sends still says Render is rate-limiting the key', async (t) => {
  const ren = await tenant(stack, 'budget-real');
  const svc = await createService(ren, 'budget-real');
  stack.render.setFault({ method: 'PUT', route: '/services/{serviceId}/env-vars/{envVarKey}', kind: 'status', status: 429, apiKey: ren.apiKey });
  t.teardown(() => stack.render.clearFaults());
  const res = await put(ren.agent, `/api/render/services/${svc.id}/env-vars/REAL`, { value: 'x' });
  t.is(res.status, 429, res.text);
  t.is(res.json.error.code, 'render_rate_limited');
  t.regex(res.json.error.message, /Render is rate-limiting this API key/);
});
