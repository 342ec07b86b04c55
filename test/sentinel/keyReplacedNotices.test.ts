import test from 'ava';
import { BUDGET_FOR_TESTS } from './limits.js';
import { enable, startSentinelStack, tenant, waitFor, type SentinelStack } from './support.js';

// A user replaces their key with one of another workspace: the watch then reads only the new key's
// workspaces, but the Security page went on saying "Your Render plan has no audit log API for <old
// workspace id>" for as long as the watch was on (the status kept the notice until that workspace's audit
// log was read again, which it never was). What the page says of the watch is about what it reads now.

let s: SentinelStack;
test.before(async () => { s = await startSentinelStack({ renderLimits: BUDGET_FOR_TESTS }); });
test.after.always(async () => { await s?.close(); });

const audits = (accountId: string) => s.stack.render.calls.filter((c) => c.accountId === accountId && c.route === '/owners/{ownerId}/audit-logs').length;

test('key replaced by one of another workspace: the old workspace\'s audit-log notice is gone', async (t) => {
  const ann = await tenant(s.stack, 'ann-switch');
  s.stack.render.setAuditLogAccess(ann.apiKey, false);
  await enable(ann.agent);
  await waitFor('the plan notice', async () => (await ann.agent.get('/api/sentinel')).json.auditLogUnavailable.length > 0);
  const newKey = `rnd_annswitchnew${'n'.repeat(20)}`;
  const second = s.stack.render.addAccount({ apiKey: newKey, workspaces: [{ name: 'ann second workspace' }] });
  const res = await ann.agent.post('/api/render/setup', { api_key: newKey });
  t.is(res.status, 200, res.text);
  await waitFor('three rounds with the new key', async () => audits(second.id) >= 3);
  const view = (await ann.agent.get('/api/sentinel')).json;
  t.true(view.enabled);
  t.deepEqual(view.auditLogUnavailable, [], `old workspace still named: ${JSON.stringify(view.auditLogUnavailable)} notices=${JSON.stringify(view.notices)}`);
  t.false(JSON.stringify(view).includes(ann.ownerId), 'the old workspace\'s id is not on the page');
});
