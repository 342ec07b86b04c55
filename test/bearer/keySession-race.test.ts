import test from 'ava';
import { sharedFixture } from '../helpers/fixture.js';
import { startOpsEnv, type OpsEnv, type ChildWeb } from '../ops/support/cluster.js';
import { createRenderClient } from '../../server/render/client.js';
import { serviceWithLiveDeploy, type Tenant } from '../helpers/attackTenants.js';
import { startHttpGate, type HttpGate } from './support/httpGate.js';
import { waitUntil } from '../helpers/wait.js';

// X-Render-Api-Key's session (server/bearer/keySessions.ts) while the request that made it is still
// running: one POST /mcp batch may start several deploys, and one of them can end (canceled, or failed
// fast) before another of the same batch is recorded. The web process reaches Render through a proxy
// that holds the second call's Render read (support/httpGate.ts), so the order is forced, no timing.
// No worker runs: deploys stay queued unless canceled.

let env: OpsEnv;
let web: ChildWeb;
let renderGate: HttpGate;
sharedFixture(test, () => startOpsEnv(), async (started) => {
  env = started;
  renderGate = await startHttpGate(env.render.url);
  web = await env.spawnWeb({ env: { RENDER_API_URL: renderGate.apiUrl } });
});
test.after.always(async () => { await renderGate?.close(); });

const MCP_ACCEPT = 'application/json, text/event-stream';
async function send(path: string, headers: Record<string, string>, method = 'GET', body?: unknown) {
  const res = await fetch(`${web.url}${path}`, { method, headers: { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, json: await res.json() as any };
}
const tool = (id: number, name: string, args: Record<string, unknown>) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });

test.serial('a deploy of an /mcp batch ending while another call of the batch is on its way: the key session stays for the deploy that call starts', async (t) => {
  const login = 'keyrace';
  env.github.addUser({ id: 94_000, login });
  const token = env.github.issueToken(login);
  const apiKey = `rnd_${login}${'k'.repeat(24)}`;
  env.render.addAccount({ apiKey, workspaces: [{ name: `${login} ws` }] });
  const render = createRenderClient({ baseUrl: env.render.url, apiKey });
  const [owner] = await render.listOwners();
  const { serviceId } = await serviceWithLiveDeploy({ login, ownerId: owner!.id, render } as Tenant, `${login}-svc`);
  env.github.addRepo({ owner: login, name: 'app', branches: { main: { 'package.json': '{}', 'index.js': '' } } });
  const plain = { authorization: `Bearer ${token}` };
  t.is((await send('/api/session', plain)).status, 200);
  const sessions = async () => (await env.redis.client.keys(`${env.redis.prefix}:sess:*`)).length;
  const before = await sessions();

  // The batch: a new deploy, and a redeploy whose read of the service Render answers only when released.
  renderGate.hold('request', (method, path) => method === 'GET' && path.split('?')[0]!.endsWith(`/services/${serviceId}`));
  const batch = send('/mcp', { ...plain, 'x-render-api-key': apiKey, accept: MCP_ACCEPT }, 'POST',
    [tool(1, 'deploy_repo', { github_repo: `${login}/app`, project_name: 'keyrace-app' }), tool(2, 'redeploy', { service_id: serviceId })]);
  await renderGate.whenHeld();
  // The first deploy is recorded; it ends (its owner cancels it) while the redeploy is on its way.
  // Waited for on its condition, with room for a loaded machine (the 10 s it had could run out).
  const first = await waitUntil('the batch\'s first deploy to be recorded', async () =>
    (await send('/api/render/my-deployments', plain)).json.deployments?.find((d: { request: { serviceName: string } }) => d.request.serviceName === 'keyrace-app') as { id: string } | undefined, 60_000, 20);
  const canceled = await send(`/api/render/deployments/${first.id}/cancel`, plain, 'POST');
  t.is(canceled.json.status, 'canceled', JSON.stringify(canceled.json));
  renderGate.release();

  const answered = await batch;
  t.is(answered.status, 200, JSON.stringify(answered.json));
  const redeploy = (answered.json as Array<{ id: number; result: { isError?: boolean; structuredContent: { id: string; status: string } } }>).find((a) => a.id === 2)!;
  t.falsy(redeploy.result.isError, JSON.stringify(redeploy.result));
  t.is(redeploy.result.structuredContent.status, 'queued');
  // The redeploy is unfinished, so its key session (and the sealed key in it) must still be there for the worker.
  t.is(await sessions(), before + 1, 'the key session is kept for the redeploy');
  // Its end takes the session with it.
  t.is((await send(`/api/render/deployments/${redeploy.result.structuredContent.id}/cancel`, plain, 'POST')).json.status, 'canceled');
  t.is(await sessions(), before, 'and goes when the last of its deploys ends');
});
