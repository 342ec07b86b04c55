import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import { waitUntil } from '../helpers/wait.js';
import { mcpUsers, type McpUser } from './support/mcpUsers.js';

// A client that leaves while its tool call is on its way (an assistant's timeout, a closed laptop) does
// not stop the call: the route goes on and makes its deploy, as a REST request whose client left does.
// The /mcp answer stopped waiting for it, so the request ended first and its X-Render-Api-Key session
// was discarded with no deploy on it yet; the deploy was then recorded on a session that no longer
// existed (the worker ends such a deploy as revoked). No worker runs here: the record and its session are read.

let stack: Stack;
test.after.always(async () => { await stack?.close(); });
const USER_ID = 7950;
const users = mcpUsers(() => stack, USER_ID);
let u: McpUser;
test.before(async () => {
  stack = await startStack();
  u = await users.create('mcpgone');
});

const REDEPLOY = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'redeploy', arguments: {} } };

/** Sends the request, leaves once the route is waiting on Render, lets Render answer, and returns the deployment made. */
async function leaveMidCall(send: (signal: AbortSignal) => Promise<Response>): Promise<string> {
  const { deps } = stack.web;
  const before = new Set(await deps.deployments.activeIds(USER_ID));
  const hold = stack.render.holdRequest({ method: 'GET', route: '/services/{serviceId}', apiKey: u.apiKey });
  const leave = new AbortController();
  const sent = send(leave.signal).catch(() => null);
  await hold.arrived;
  leave.abort();
  await sent;
  // What the web process does once the client is gone (it learns of it at once over loopback).
  await new Promise((resolve) => setTimeout(resolve, 300));
  hold.release();
  let made: string | undefined;
  await waitUntil('the redeploy is recorded', async () => {
    made = (await deps.deployments.activeIds(USER_ID)).find((id) => !before.has(id));
    return made !== undefined;
  }, 10_000, 20);
  return made!;
}

test.serial('a client that leaves mid tool call: the deploy its call makes keeps its X-Render-Api-Key session, as over REST', async (t) => {
  const { deps } = stack.web;
  const headers = { authorization: `Bearer ${u.token}`, 'x-render-api-key': u.apiKey, 'content-type': 'application/json' };
  const viaRest = await leaveMidCall((signal) => fetch(`${stack.url}/api/render/services/${u.serviceId}/redeploy`, { method: 'POST', headers, body: '{}', signal }));
  const restRec = await deps.deployments.get(viaRest);
  t.truthy(await deps.sessions.loadByRef(restRec!.sessionRef), 'REST: the key session lives while its deploy is queued');

  const viaMcp = await leaveMidCall((signal) => fetch(`${stack.url}/mcp`, {
    method: 'POST', signal, headers: { ...headers, accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ ...REDEPLOY, params: { ...REDEPLOY.params, arguments: { service_id: u.serviceId } } }),
  }));
  const mcpRec = await deps.deployments.get(viaMcp);
  t.not(mcpRec!.sessionRef, restRec!.sessionRef);
  t.truthy(await deps.sessions.loadByRef(mcpRec!.sessionRef), 'MCP: the key session lives while its deploy is queued');
});
