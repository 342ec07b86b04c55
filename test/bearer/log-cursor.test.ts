import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import { Agent } from '../helpers/agent.js';
import { call, errorCode, mcpUsers, type McpUser } from './support/mcpUsers.js';

// A log page's cursor was decoded only once the deploy had log windows at Render: for a deployment Render
// had not started yet (queued here, no Render deploy) any text as `cursor` answered 200, an empty last
// page (hasMore false), as if the log had ended, where the same cursor on a started deploy is a 400. A
// cursor that is not one of ours is now refused whatever the deployment's state, before Render is asked.

let stack: Stack;
test.after.always(async () => { await stack?.close(); });
const users = mcpUsers(() => stack, 7900);
let ada: McpUser;
test.before(async () => {
  stack = await startStack();
  ada = await users.create('logcurada');
});

const NOT_CURSORS = ['x', Buffer.from('[]').toString('base64url'), Buffer.from('null').toString('base64url'), Buffer.from('{"p":"deploy","s":"a","e":"b"}').toString('base64url')];

test.serial('a cursor that is not one of ours is a 400 for a deployment Render has not started, over REST and MCP', async (t) => {
  const api = new Agent(stack.url, { authorization: `Bearer ${ada.token}` });
  const started = await api.post(`/api/render/services/${ada.serviceId}/redeploy`, {});
  t.is(started.status, 202, started.text);
  const id = started.json.id as string;
  // No worker runs here: the deployment stays queued, with no Render deploy to read lines of.
  const first = await api.get(`/api/render/deployments/${id}/logs`);
  t.is(first.status, 200, first.text);
  t.deepEqual(first.json.logs, []);
  for (const cursor of NOT_CURSORS) {
    const res = await api.get(`/api/render/deployments/${id}/logs?cursor=${cursor}`);
    t.is(res.status, 400, `${cursor}: ${res.text}`);
    t.is(res.json.error.code, 'validation_failed');
    t.regex(res.json.error.message, /cursor/);
    const viaTool = await call(ada, 'get_deployment_logs', { deployment_id: id, cursor });
    t.is(errorCode(viaTool), 'validation_failed', JSON.stringify(viaTool));
  }
  // One of ours (its shape) is still taken.
  const ours = Buffer.from(JSON.stringify({ p: 'build', s: '2026-01-01T00:00:00Z', e: '2026-01-01T00:01:00Z' })).toString('base64url');
  t.is((await api.get(`/api/render/deployments/${id}/logs?cursor=${ours}`)).status, 200);
});
