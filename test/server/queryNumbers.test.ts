import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';

// A page size or page number is digits. Number() also reads `0x14` as 20, `1e1` as 10, ` 20 ` and `20.0`
// as 20: before, `?limit=0x14` answered a page of 20 as if that had been asked.
let stack: Stack;
test.before(async () => { stack = await startStack(); });
test.after.always(async () => { await stack?.close(); });

const NOT_DIGITS = ['0x14', '0b10', '0o7', '1e1', '20.0', '%2020', '20%20', '+20', '-0', 'Infinity', '1_0', '２０'];

test('page sizes and page numbers written other than in digits are refused on every list route; digits are read', async (t) => {
  const agent = stack.agent();
  await stack.signIn(agent, 'digitwalker');
  const routes = ['/api/audit?limit=', '/api/render/my-deployments?limit=', '/api/sentinel/findings?limit=', '/api/github/repos?page=', '/api/github/repos?per_page='];
  for (const route of routes) {
    for (const value of NOT_DIGITS) {
      const res = await agent.get(`${route}${value}`);
      t.is(res.status, 400, `${route}${value}`);
      t.like(res.json.error, { code: 'validation_failed' }, `${route}${value}`);
      t.regex(res.json.error.message, /^(limit|page|per_page): must be a whole number, in digits$/, `${route}${value}`);
    }
    t.is((await agent.get(`${route}2`)).status, 200, `${route}2`);
    t.is((await agent.get(`${route}02`)).status, 200, `${route}02: leading zeros are still digits`);
  }
  // Huge: a number past every maximum, and digits past what a number holds, are refused, not rounded.
  for (const value of ['1'.repeat(16), '9'.repeat(5_000)]) t.is((await agent.get(`/api/audit?limit=${value}`)).status, 400, `${value.length} digits`);
  // Blank: the default where it always was (audit, findings), refused where it always was.
  t.is((await agent.get('/api/audit?limit=')).status, 200);
  t.is((await agent.get('/api/sentinel/findings?limit=')).status, 200);
  t.is((await agent.get('/api/render/my-deployments?limit=')).status, 400);
});
