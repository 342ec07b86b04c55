import test from 'ava';
import { systemClock } from '../../server/clock.js';
import { createAuditLog, type AuditLog } from '../../server/audit/auditLog.js';
import type { AuditEntry } from '../../server/audit/types.js';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack, QUICK_LOG_TAIL } from '../helpers/pipelineStack.js';
import { deployedLiveByHand, signedInWithKey } from '../helpers/pipeline.js';
import { openSseAs } from '../helpers/sse.js';

// Another user's deployment id on the live stream (`/api/events?logs=<id>`) was a 404 like on the log routes,
// but unlike them it was not recorded as a cross-tenant probe: ids could be probed there unseen (found by a review).
let stack: Stack;
let audit: AuditLog;
usePipelineStack(test, { renderOptions: { manualDeploys: true }, logTail: QUICK_LOG_TAIL }, (p) => {
  ({ stack } = p);
  audit = createAuditLog({ redis: stack.redis.client, prefix: stack.redis.prefix, clock: systemClock, keyring: stack.web.deps.keyring });
});

const globalEntries = async (): Promise<AuditEntry[]> => (await stack.redis.client.lrange(audit.keys('global').entries, 0, -1)).map((r) => JSON.parse(r));

test('another user\'s deployment id on the live stream is a 404 with no lines, and is recorded as a cross-tenant probe like on the log routes', async (t) => {
  const owner = await signedInWithKey(stack, 'sowner');
  const { id } = await deployedLiveByHand(stack, owner.agent, 'sowner');
  const prober = await signedInWithKey(stack, 'sprober');
  const proberId = (await prober.agent.get('/api/session')).json.user.id as number;
  const tab = await openSseAs(prober.agent, `/api/events?logs=${id}`);
  tab.close();
  t.is(tab.status, 404);
  await new Promise((r) => setTimeout(r, 300));
  const viaStream = (await globalEntries()).filter((e) => e.userId === proberId && (e.detail as Record<string, unknown>).securityEvent === 'cross_tenant_probe');
  // The same id on the log route, for comparison.
  t.is((await prober.agent.get(`/api/render/deployments/${id}/logs`)).status, 404);
  await new Promise((r) => setTimeout(r, 300));
  const viaRoute = (await globalEntries()).filter((e) => e.userId === proberId && (e.detail as Record<string, unknown>).securityEvent === 'cross_tenant_probe');
  t.is(viaRoute.length, 1, 'the log route records the probe');
  t.is(viaStream.length, 1, 'the stream route answered 404 to another tenant\'s deployment id without recording the probe');
});

test('the UI\'s stream for the deployment in its page address (?opened=address): another user\'s id is a 404 and a note, not a probe event; for a bearer client a probe', async (t) => {
  const owner = await signedInWithKey(stack, 'aowner');
  const { id } = await deployedLiveByHand(stack, owner.agent, 'aowner');
  const visitor = await signedInWithKey(stack, 'avisitor');
  const visitorId = (await visitor.agent.get('/api/session')).json.user.id as number;
  const tab = await openSseAs(visitor.agent, `/api/events?logs=${id}&opened=address`);
  tab.close();
  t.is(tab.status, 404);
  const mine = (await globalEntries()).filter((e) => e.userId === visitorId);
  t.false(mine.some((e) => (e.detail as Record<string, unknown>).securityEvent === 'cross_tenant_probe'));
  t.like(mine.filter((e) => e.action === 'security'), [{ detail: { reason: 'foreign_id_in_page_address', deploymentId: id } }]);

  stack.github.addUser({ login: 'ascript' });
  const token = stack.github.issueToken('ascript');
  const script = stack.agent({ authorization: `Bearer ${token}` });
  const scriptId = (await script.get('/api/session')).json.user.id as number;
  const scripted = await openSseAs(script, `/api/events?logs=${id}&opened=address`);
  scripted.close();
  t.is(scripted.status, 404);
  const probe = (await globalEntries()).find((e) => e.userId === scriptId && (e.detail as Record<string, unknown>).securityEvent === 'cross_tenant_probe');
  t.like(probe, { detail: { reason: 'foreign_id', deploymentId: id } });
});
