import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import { startHostileProxy, type HostileProxy } from '../helpers/hostileProxy.js';
import { signedInWithKey } from '../helpers/pipeline.js';
import { serviceMadeOutside } from '../ui/support/uiStack.js';

// Fields of Render's answers the app passes on, as Render (or a teammate through Render) may send them. A service's
// deploy history, fields of the wrong type included: passed on as they came, a commit
// id sent as a number broke the API's own contract (commitId: string | null) and emptied the settings page's whole
// history ("d.commitId.slice is not a function"; found by a probe of hostile upstream data). Each field is now kept
// only when it is a string; the contract check on every answer (test/helpers/apiContract.ts) sees the rest.
let stack: Stack;
let proxy: HostileProxy;
test.before(async () => {
  proxy = await startHostileProxy();
  stack = await startStack({ env: { RENDER_API_URL: proxy.url } });
  proxy.target = stack.render.url.replace(/\/v1$/, '');
});
test.after.always(async () => { await stack?.close(); await proxy?.close(); });

test.serial('deploy history fields of the wrong type from Render are answered as none, the rows kept', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'oddhistory');
  const { serviceId } = await serviceMadeOutside(stack, apiKey, { login: 'oddhistory', name: 'odd-svc' });
  proxy.rule = (req, res, path) => {
    if (req.method !== 'GET' || !path.endsWith(`/services/${serviceId}/deploys`)) return false;
    void (async () => {
      const up = await fetch(`${proxy.target}${req.url}`, { headers: { authorization: String(req.headers.authorization) } });
      const list = await up.json() as Array<{ deploy: Record<string, unknown> }>;
      for (const { deploy } of list) Object.assign(deploy, { commit: { id: 1234567890, message: 'odd' }, trigger: { x: 1 }, finishedAt: 17 });
      res.writeHead(up.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(list));
    })();
    return true;
  };
  t.teardown(() => { proxy.rule = null; });
  const res = await agent.get(`/api/render/services/${serviceId}/deploys`);
  t.is(res.status, 200, res.text);
  t.true(res.json.deploys.length > 0, 'the rows are kept');
  for (const d of res.json.deploys) t.like(d, { commitId: null, trigger: null, finishedAt: null, commitMessage: 'odd' });
});

test.serial('a dashboardUrl that is not a page of Render\'s dashboard is answered as none (the UI links it as "Render dashboard")', async (t) => {
  // Defence in depth (found by a probe of hostile upstream data): plain http, or a look-alike host, was linked as is.
  const { agent, apiKey } = await signedInWithKey(stack, 'odddash');
  const made = await Promise.all(['dash-a', 'dash-b', 'dash-c'].map((name) => serviceMadeOutside(stack, apiKey, { login: 'odddash', name })));
  const [phish, lookalike, real] = made.map((m) => m.serviceId);
  const rewritten: Record<string, string> = { [phish!]: 'http://phish.example/login', [lookalike!]: 'https://dashboard.render.com.evil.example/web/srv-x' };
  proxy.rule = (req, res, path) => {
    if (req.method !== 'GET' || !path.endsWith('/services')) return false;
    void (async () => {
      const up = await fetch(`${proxy.target}${req.url}`, { headers: { authorization: String(req.headers.authorization) } });
      const list = await up.json() as Array<{ service: { id: string; dashboardUrl: string } }>;
      for (const { service } of list) service.dashboardUrl = rewritten[service.id] ?? service.dashboardUrl;
      res.writeHead(up.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(list));
    })();
    return true;
  };
  t.teardown(() => { proxy.rule = null; });
  const res = await agent.get('/api/render/services');
  t.is(res.status, 200, res.text);
  const byId = new Map((res.json.services as Array<{ id: string; dashboardUrl: string | null }>).map((s) => [s.id, s.dashboardUrl]));
  t.is(byId.get(phish!), null);
  t.is(byId.get(lookalike!), null);
  t.regex(byId.get(real!) ?? '', /^https:\/\/dashboard\.render\.com\//);
});
