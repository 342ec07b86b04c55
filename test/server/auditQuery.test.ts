import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';

// GET /api/audit's query parameters from a hostile or careless client: anything that is not a
// limit, a cursor or a calendar date is a 400 that names the parameter; nothing is read.
let stack: Stack;
test.before(async () => { stack = await startStack(); });
test.after.always(async () => { await stack?.close(); });

test('dates that do not exist are refused, not rolled into the next month', async (t) => {
  const agent = stack.agent();
  await stack.signIn(agent, 'datewalker');
  for (const until of ['2026-02-31', '2026-02-29', '2026-04-31', '2026-00-10', '2026-13-01', '2026-12-32']) {
    const res = await agent.get(`/api/audit?until=${until}`);
    t.is(res.status, 400, until);
    t.regex(JSON.stringify(res.json), /until/, until);
  }
  t.is((await agent.get('/api/audit?until=2028-02-29')).status, 200, 'a leap day is a date');
  t.deepEqual((await agent.get('/api/audit?until=9999-12-31')).json.entries.map((e: { action: string }) => e.action), ['sign_in'], 'the last day there is: everything before it');
});

test('limits and cursors that are not what a page handed out are refused', async (t) => {
  const agent = stack.agent();
  await stack.signIn(agent, 'cursorwalker');
  for (const q of ['limit=-1', 'limit=0', 'limit=101', 'limit=1.5', 'limit=1e400', 'limit=abc', 'limit=1&limit=2',
    'cursor=-1', 'cursor=0', 'cursor=000', 'cursor=1.5', 'cursor=9999999999999', 'cursor=1&cursor=2', 'cursor=%00', 'until=2026-01-01&until=2026-01-02']) {
    t.is((await agent.get(`/api/audit?${q}`)).status, 400, q);
  }
  const own = await agent.get('/api/audit?limit=100&cursor=999999999999');
  t.is(own.status, 200);
  t.deepEqual(own.json.entries.map((e: { action: string }) => e.action), ['sign_in'], 'a cursor beyond the chain reads from its head, and only the caller\'s chain');
});
