import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import { createService, tenant, type Tenant } from './support/renderTenants.js';

// Request input whose parsed form is not what the client sent: each must be refused (400, nothing made),
// never read as something else.

let stack: Stack;
let ren: Tenant;
test.before(async () => {
  stack = await startStack();
  ren = await tenant(stack, 'shapes-ren');
});
test.after.always(async () => { await stack?.close(); });

const deployments = async (tn: Tenant) => (await tn.agent.get('/api/render/my-deployments')).json.deployments.length as number;

// U+212A KELVIN SIGN looks like K, and String.prototype.toLowerCase() turns it into ASCII "k": a name typed
// or pasted with it was accepted as a different, all-ASCII name ("Kapp" became the service "kapp").
const KELVIN = '\u212A';

test('a service name with a Unicode lookalike that lowercases to ASCII is refused, not renamed', async (t) => {
  const before = await deployments(ren);
  const deploy = await ren.agent.post('/api/render/deploy', { github_repo: 'shapes/app', project_name: `${KELVIN}app` });
  t.is(deploy.status, 400, deploy.text);
  t.is(deploy.json.error.code, 'validation_failed');
  t.regex(deploy.json.error.message, /^project_name: /);
  t.is(await deployments(ren), before, 'no deployment was made');

  for (const route of ['name-check', 'lookup']) {
    const res = await ren.agent.get(`/api/render/services/${route}?name=${encodeURIComponent(`${KELVIN}app`)}`);
    t.is(res.status, 400, `${route}: ${res.text}`);
    t.is(res.json.error.code, 'validation_failed');
  }
  // ASCII capitals are still lowercased, as before.
  const upper = await ren.agent.get('/api/render/services/name-check?name=KApp');
  t.is(upper.status, 200, upper.text);
  t.is(upper.json.name, 'kapp');
});

test('a custom domain with a Unicode lookalike that lowercases to ASCII is refused, not added as another name', async (t) => {
  const svc = await createService(ren, 'shapes-web');
  const res = await ren.agent.post(`/api/render/services/${svc.id}/custom-domains`, { name: `${KELVIN}ite.example.com` });
  t.is(res.status, 400, res.text);
  t.is(res.json.error.code, 'validation_failed');
  t.deepEqual(await ren.render.listCustomDomains(svc.id), [], 'nothing added on Render');
  // ASCII capitals are still lowercased, as before.
  const upper = await ren.agent.post(`/api/render/services/${svc.id}/custom-domains`, { name: 'Site.Example.com' });
  t.is(upper.status, 201, upper.text);
  t.is(upper.json.domains[0].name, 'site.example.com');
});
