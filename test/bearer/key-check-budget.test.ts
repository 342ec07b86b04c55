import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import { Agent, type AgentResponse } from '../helpers/agent.js';
import { budgetFrom, RENDER_DOCUMENTED_LIMITS } from '../../server/render/budget.js';

// Each request with X-Render-Api-Key checks the key with Render (GET /owners) before it runs. That check
// went around the key's Render budget (server/render/budget.ts): the budget counted every other read and
// let them up to its 90%, while the checks went on on top, so Render itself refused the key's reads
// (429) though the budget said there was room. Found in test/bearer/ci-script.test.ts: the CI script
// checks the key two or three times a run; by its 14th test, 64 unbudgeted checks (and the test's own
// reads) took the key past Render's 400 GETs a minute and a worker waited out Render's Retry-After.

// Render as the simulator plays it, with a read limit of 10 a minute; the app's budget of it (9 a minute).
const RENDER_READS = 10;
let stack: Stack;
test.before(async () => {
  stack = await startStack({
    renderOptions: { rateLimits: { read: { limit: RENDER_READS, windowMs: 60_000 } } },
    renderLimits: budgetFrom({ ...RENDER_DOCUMENTED_LIMITS, read: { limit: RENDER_READS, windowMs: 60_000 } }),
  });
});
test.after.always(async () => { await stack?.close(); });

test('keyed requests past the key\'s read budget are held back by the app: Render refuses none of its key checks', async (t) => {
  stack.github.addUser({ id: 9300, login: 'keycheck' });
  const token = stack.github.issuePat('keycheck');
  const apiKey = `rnd_keycheck${'k'.repeat(24)}`;
  const { id: accountId } = stack.render.addAccount({ apiKey, workspaces: [{ name: 'keycheck ws' }] });
  const api = new Agent(stack.url, { authorization: `Bearer ${token}`, 'x-render-api-key': apiKey });
  const answers: Array<AgentResponse<{ error?: { code: string; message: string } }>> = [];
  for (let i = 0; i < RENDER_READS + 4; i++) answers.push(await api.get('/api/session'));
  const reads = stack.render.calls.filter((c) => c.accountId === accountId && c.method === 'GET');
  t.deepEqual(reads.filter((c) => c.status === 429).map((c) => c.route), [], 'Render refused none of the key\'s reads');
  t.true(reads.length <= RENDER_READS - 1, `${reads.length} reads reached Render: within the budget`);
  t.is(answers[0]!.status, 200, answers[0]!.text);
  const held = answers.filter((a) => a.status === 429);
  t.true(held.length > 0, 'some were held back');
  for (const a of held) {
    t.is(a.json.error?.code, 'render_rate_limited');
    t.regex(a.json.error?.message ?? '', /held back by this app, not refused by Render/i);
    t.true(Number(a.headers.get('retry-after')) >= 1);
  }
  t.true(answers.every((a) => a.status === 200 || a.status === 429), answers.map((a) => a.status).join(' '));
});
