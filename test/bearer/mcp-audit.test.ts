import test from 'ava';
import type { AuditEntry } from '../../server/audit/types.js';
import { FAILED_TOOL_CALLS } from '../../server/mcp/audit.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { call, errorCode, mcpUsers, toolBatch } from './support/mcpUsers.js';

// Found by probing: one POST /mcp carries up to 100 tool calls, and a
// call its tool's schema refuses reaches no route (no rate limit, no lock-out), yet each appended an
// `mcp_tool` entry to the user's chain and the global one. The global chain is trimmed by count, so one
// bearer token could push every other user's entries and the security events out of it in minutes.
// Failed calls are now aggregated as failed sign-ins are (server/mcp/audit.ts): an entry each for the
// first few per tool and reason in a window, then one each time the count doubles, with the count.
// Successful calls of read tools flooded it the same way (a read route has no limit of its own): 3 POSTs
// of 100 list_deployments added 300 global entries (found by a probe), where the
// same reads over REST add none. Their entries are in the user's own trail only.

let stack: Stack;
const users = mcpUsers(() => stack, 9400);
test.before(async () => { stack = await startStack(); });
test.after.always(async () => { await stack?.close(); });

const globalKey = () => stack.web.deps.audit.keys('global').entries;
const globalLength = () => stack.web.deps.redis.llen(globalKey());
/** Global entries appended since the chain had `from` of them (the chain is not trimmed in these tests). */
const globalSince = async (from: number) => (await stack.web.deps.redis.lrange(globalKey(), from, -1)).map((r) => JSON.parse(r) as AuditEntry);
const toolEntries = (entries: AuditEntry[], userId: number) => entries.filter((e) => e.action === 'mcp_tool' && e.userId === userId);

async function bearerUser(id: number, login: string): Promise<string> {
  stack.github.addUser({ id, login });
  const token = stack.github.issueToken(login);
  const first = await fetch(`${stack.url}/api/session`, { headers: { authorization: `Bearer ${token}` } });
  if (first.status !== 200) throw new Error(`bearer session: ${first.status}`);
  return token;
}

test.serial('5 POST /mcp of 100 schema-refused calls add a dozen entries to the global chain, not 500', async (t) => {
  const userId = 9301;
  const token = await bearerUser(userId, 'flooder');
  const from = await globalLength();
  for (let r = 0; r < 5; r++) {
    // deployment_id must be a string: the tool's schema refuses it, no route is run.
    const res = await toolBatch(stack, token, Array.from({ length: 100 }, () => ({ name: 'get_deployment', arguments: { deployment_id: 5 } })), r * 100);
    t.is(res.status, 200);
    t.deepEqual(new Set(res.results.map(errorCode)), new Set(['validation_failed']), 'every call is answered with its tool error');
  }
  const added = await globalSince(from);
  const entries = toolEntries(added, userId);
  t.is(added.length, entries.length, 'nothing else was appended');
  // One each for the first 5 (threshold), then one at 10, 20, 40 … 320, each with its count.
  t.is(FAILED_TOOL_CALLS.threshold, 5);
  const counts = entries.map((e) => e.detail.count ?? 0).sort((a, b) => a - b);
  t.deepEqual(counts, [0, 0, 0, 0, 0, 10, 20, 40, 80, 160, 320], `${added.length} global entries for 500 refused calls`);
  for (const e of entries) t.like(e, { outcome: 'failure', detail: { tool: 'get_deployment', reason: 'validation_failed', route: '/mcp' } });
  // The user's own trail says the same (an entry in each chain per aggregated entry).
  const own = await stack.web.deps.audit.listForUser(userId, { limit: 100 });
  t.is(own.entries.filter((e) => e.action === 'mcp_tool').length, 11);
});

test.serial('a few failures keep an entry each, per tool and reason; every successful call keeps its entry', async (t) => {
  const u = await users.create('mcpauditok');
  const userId = 9400;
  const from = await globalLength();
  for (let i = 0; i < 3; i++) t.is(errorCode(await call(u, 'list_deployments')), undefined);
  // The schema refuses 12 get_deployment calls: 5 entries and one at 10.
  const refused = await toolBatch(stack, u.token, Array.from({ length: 12 }, () => ({ name: 'get_deployment', arguments: { deployment_id: 5 } })));
  t.is(refused.results.filter((r) => errorCode(r) === 'validation_failed').length, 12);
  // Another reason of the same tool, and the same reason of another tool, are counted apart.
  t.is(errorCode(await call(u, 'get_deployment', { deployment_id: 'dpl-none-1' })), 'not_found');
  t.is(errorCode(await call(u, 'cancel_deployment', { deployment_id: 7 })), 'validation_failed');
  for (let i = 0; i < 3; i++) t.is(errorCode(await call(u, 'list_deployments')), undefined);

  const entries = toolEntries(await globalSince(from), userId);
  // A read tool's successful call: an entry each in the user's own trail, none in the global chain (below).
  t.is(entries.filter((e) => e.outcome === 'success').length, 0, 'no successful read in the global chain');
  const own = (await stack.web.deps.audit.listForUser(userId, { limit: 100 })).entries;
  t.is(own.filter((e) => e.action === 'mcp_tool' && e.outcome === 'success' && e.detail.tool === 'list_deployments').length, 6, 'one entry per successful call');
  const refusedEntries = entries.filter((e) => e.detail.tool === 'get_deployment' && e.detail.reason === 'validation_failed');
  t.deepEqual(refusedEntries.map((e) => e.detail.count ?? 0).sort((a, b) => a - b), [0, 0, 0, 0, 0, 10]);
  t.is(entries.filter((e) => e.detail.tool === 'get_deployment' && e.detail.reason === 'not_found').length, 1);
  t.is(entries.filter((e) => e.detail.tool === 'cancel_deployment' && e.detail.reason === 'validation_failed').length, 1);
});

test.serial('3 POST /mcp of 100 successful read calls add nothing to the global chain; the user\'s trail has them', async (t) => {
  const u = await users.create('mcpreadflood');
  const userId = (await (await fetch(`${stack.url}/api/session`, { headers: { authorization: `Bearer ${u.token}` } })).json() as { user: { id: number } }).user.id;
  const from = await globalLength();
  for (let r = 0; r < 3; r++) {
    const res = await toolBatch(stack, u.token, Array.from({ length: 100 }, () => ({ name: 'list_deployments', arguments: {} })), r * 100);
    t.is(res.status, 200);
    t.is(res.results.filter((x) => errorCode(x) === undefined).length, 100, 'every call succeeded');
  }
  const added = await globalSince(from);
  t.deepEqual(added.filter((e) => e.action === 'mcp_tool').map((e) => e.detail.tool), [], `${added.length} global entries for 300 reads`);
  const own = (await stack.web.deps.audit.listForUser(userId, { limit: 200 })).entries;
  t.true(own.filter((e) => e.action === 'mcp_tool' && e.detail.tool === 'list_deployments').length >= 200, 'each read is in the user\'s own trail');
});
