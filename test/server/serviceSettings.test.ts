import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { startTestWorker, waitFinished } from '../helpers/pipeline.js';
import type { Agent } from '../helpers/agent.js';
import { useScannedStack } from '../helpers/secretScan.js';
import { createService, tenant, type Tenant } from './support/renderTenants.js';

// The service settings page's routes (issue 15) through the real web process and the Render
// simulator: env vars and secret files one key at a time, custom domains, settings, deploy history.

let stack: Stack;
// The file ends with the secret scan: no Render key or GitHub token anywhere.
useScannedStack(test, {
  renderOptions: { phaseMs: { created: 5, build_in_progress: 5, pre_deploy_in_progress: 5, update_in_progress: 5 }, rateLimits: { createService: { limit: 10_000 }, write: { limit: 10_000 } } },
}, (s) => ({ stack } = s));

const put = (a: Agent, path: string, json: unknown) => a.request('PUT', path, { json });
const patch = (a: Agent, path: string, json: unknown) => a.request('PATCH', path, { json });
const renderWrites = (tn: Tenant) => stack.render.calls.filter((c) => c.accountId === tn.account.id && c.method !== 'GET').length;

test('env vars: names listed without values, set and generated one key at a time, revealed on demand, deleted', async (t) => {
  const ada = await tenant(stack, 'set-ada');
  const svc = await createService(ada, 'ada-settings');
  await ada.render.putEnvVar(svc.id, 'DATABASE_URL', 'postgres://secret-db-password@db/app');
  const base = `/api/render/services/${svc.id}/env-vars`;

  const list = await ada.agent.get(base);
  t.is(list.status, 200, list.text);
  t.deepEqual(list.json, { envVars: [{ key: 'DATABASE_URL' }] });
  t.false(list.text.includes('secret-db-password'), 'values stay on Render until revealed');

  const set = await put(ada.agent, `${base}/API_URL`, { value: 'https://api.example.com' });
  t.is(set.status, 200, set.text);
  t.deepEqual(set.json, { key: 'API_URL', redeployToApply: true });
  t.is((await put(ada.agent, `${base}/SESSION_SECRET`, { generate_value: true })).status, 200);
  t.is((await ada.render.getEnvVar(svc.id, 'SESSION_SECRET')).value.length, 44, 'Render generated a 256-bit value');
  // Never the replace-all PUT, which deletes every key it is not sent.
  t.is(stack.render.calls.filter((c) => c.method === 'PUT' && c.route === '/services/{serviceId}/env-vars').length, 0);
  t.deepEqual((await ada.agent.get(base)).json.envVars.map((v: { key: string }) => v.key), ['API_URL', 'DATABASE_URL', 'SESSION_SECRET']);

  const shown = await ada.agent.get(`${base}/DATABASE_URL`);
  t.is(shown.status, 200);
  t.deepEqual(shown.json, { key: 'DATABASE_URL', value: 'postgres://secret-db-password@db/app' });
  const audit = await ada.render.listAuditLogs(ada.account.ownerId, { limit: 100 });
  t.true(audit.items.some((a) => a.event === 'ViewEnvVarValuesEvent' && a.metadata?.key === 'DATABASE_URL'), 'the reveal is in the user\'s Render audit log');
  const trail = await ada.agent.get('/api/audit?limit=20');
  t.true(trail.json.entries.some((e: { detail: { lifecycleAction?: string } }) => e.detail.lifecycleAction === 'env_var_reveal'));

  t.is((await ada.agent.delete(`${base}/API_URL`)).status, 200);
  const gone = await ada.agent.get(`${base}/API_URL`);
  t.is(gone.status, 404);
  t.is(gone.json.error.message, 'Environment variable not found.');
  t.is((await ada.agent.delete(`${base}/API_URL`)).status, 404);
});

test('a reveal opened from another site (a link, a fetch) is refused before Render is asked: no read of the value logged, no reveal in the trail', async (t) => {
  const ada = await tenant(stack, 'set-reveal');
  const svc = await createService(ada, 'ada-reveal');
  await ada.render.putEnvVar(svc.id, 'DATABASE_URL', 'postgres://reveal-db-password@db/app');
  const reads = () => stack.render.calls.filter((c) => c.accountId === ada.account.id && c.method === 'GET' && /env-vars\/\{envVarKey\}|secret-files\/\{secretFileName\}/.test(c.route)).length;
  const before = reads();
  for (const path of ['env-vars/DATABASE_URL', 'secret-files/key.pem']) {
    // What a browser sends for a link on another site opened as a page, and for a fetch from a sibling subdomain.
    const fromElsewhere: Record<string, string>[] = [{ 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' }, { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'cors', origin: 'https://evil.example.test' }];
    for (const headers of fromElsewhere) {
      const res = await ada.agent.request('GET', `/api/render/services/${svc.id}/${path}`, { headers });
      t.is(res.status, 403, `${path} ${JSON.stringify(headers)}: ${res.text}`);
      t.is(res.json.error.code, 'origin_rejected');
      t.false(res.text.includes('reveal-db-password'));
    }
  }
  t.is(reads(), before, 'Render was not asked for a value');
  const audit = await ada.render.listAuditLogs(ada.account.ownerId, { limit: 100 });
  t.false(audit.items.some((a) => a.event === 'ViewEnvVarValuesEvent'), 'no read of a value in the user\'s Render audit log');
  const trail = await ada.agent.get('/api/audit?limit=20');
  t.false(trail.json.entries.some((e: { detail: { lifecycleAction?: string } }) => e.detail.lifecycleAction === 'env_var_reveal'));
  // From the app's own page, or an address typed in: shown.
  for (const site of ['same-origin', 'none']) {
    const shown = await ada.agent.request('GET', `/api/render/services/${svc.id}/env-vars/DATABASE_URL`, { headers: { 'sec-fetch-site': site } });
    t.is(shown.status, 200, shown.text);
    t.is(shown.json.value, 'postgres://reveal-db-password@db/app');
  }
});

test('env vars: bad names and values are field errors that reach Render not at all', async (t) => {
  const bob = await tenant(stack, 'set-bob');
  const svc = await createService(bob, 'bob-settings');
  const base = `/api/render/services/${svc.id}/env-vars`;
  const before = renderWrites(bob);
  const cases: Array<[string, unknown, string]> = [
    [`${base}/1BAD`, { value: 'x' }, 'key'],
    [`${base}/A-B`, { value: 'x' }, 'key'],
    [`${base}/OK`, { value: 'x'.repeat(16 * 1024 + 1) }, 'value'],
    [`${base}/OK`, { value: 5 }, 'value'],
    [`${base}/OK`, {}, 'value'],
    [`${base}/OK`, { value: 'x', generate_value: true }, 'value'],
    // A process environment cannot hold NUL, and a lone UTF-16 surrogate has no UTF-8 form (it would be
    // replaced on the way to Render): neither can be the value the person meant.
    [`${base}/OK`, { value: 'a\u0000b' }, 'value'],
    [`${base}/OK`, { value: 'a\ud800b' }, 'value'],
  ];
  for (const [path, body, field] of cases) {
    const res = await put(bob.agent, path, body);
    t.is(res.status, 400, `${path} ${JSON.stringify(body).slice(0, 40)}: ${res.text.slice(0, 200)}`);
    t.is(res.json.error.code, 'validation_failed');
    t.is(res.json.error.field, field);
  }
  t.is(renderWrites(bob), before);
});

test('secret files: names listed, content on reveal, set and deleted one file at a time', async (t) => {
  const cy = await tenant(stack, 'set-cy');
  const svc = await createService(cy, 'cy-settings');
  const base = `/api/render/services/${svc.id}/secret-files`;
  t.is((await put(cy.agent, `${base}/.npmrc`, { content: '//registry.npmjs.org/:_authToken=npm-secret' })).status, 200);
  const list = await cy.agent.get(base);
  t.deepEqual(list.json, { secretFiles: [{ name: '.npmrc' }] });
  t.false(list.text.includes('npm-secret'));
  t.is((await cy.agent.get(`${base}/.npmrc`)).json.content, '//registry.npmjs.org/:_authToken=npm-secret');
  const bad = await put(cy.agent, `${base}/bad%20name`, { content: 'x' });
  t.is(bad.status, 400);
  t.is(bad.json.error.field, 'name');
  t.is((await cy.agent.delete(`${base}/.npmrc`)).status, 200);
  t.deepEqual((await cy.agent.get(base)).json.secretFiles, []);
});

test('custom domains: DNS records to create, Render\'s refusals in plain words, verification, removal', async (t) => {
  const dee = await tenant(stack, 'set-dee');
  const svc = await createService(dee, 'dee-settings');
  const base = `/api/render/services/${svc.id}/custom-domains`;
  const apex = await dee.agent.post(base, { name: 'Dee-Example.com.' });
  t.is(apex.status, 201, apex.text);
  t.deepEqual(apex.json.domains.map((d: { name: string }) => d.name), ['dee-example.com', 'www.dee-example.com']);
  const host = new URL(String((svc.serviceDetails as { url: string }).url)).hostname;
  t.deepEqual(apex.json.domains[0].dns.map((r: { type: string; value: string }) => `${r.type} ${r.value}`), [`ALIAS ${host}`, 'A 216.24.57.1']);
  t.deepEqual(apex.json.domains[1].dns.map((r: { type: string; value: string }) => `${r.type} ${r.value}`), [`CNAME ${host}`]);

  for (const name of ['not a domain', 'https://x.example.com', 'x.onrender.com', '10.0.0.1', 'localhost']) {
    const res = await dee.agent.post(base, { name });
    t.is(res.status, 400, name);
    t.is(res.json.error.field, 'name', name);
  }
  const taken = await dee.agent.post(base, { name: 'dee-example.com' });
  t.is(taken.status, 409);
  t.is(taken.json.error.code, 'render_conflict');
  t.regex(taken.json.error.message, /already in use.*Nothing was changed/);
  t.is(taken.json.error.field, 'name');

  const www = apex.json.domains[1];
  const unverified = await dee.agent.post(`${base}/${www.id}/verify`);
  t.is(unverified.status, 200, unverified.text);
  t.is(unverified.json.domain.verificationStatus, 'unverified');
  stack.render.configureDns('www.dee-example.com');
  t.is((await dee.agent.post(`${base}/${www.id}/verify`)).json.domain.verificationStatus, 'verified');
  t.is((await dee.agent.delete(`${base}/${www.id}`)).status, 204);
  t.deepEqual((await dee.agent.get(base)).json.domains.map((d: { name: string }) => d.name), ['dee-example.com']);
  t.is((await dee.agent.delete(`${base}/cdm-00000000000000000000`)).status, 404);
});

test('custom domains: a wildcard *.domain is added (Render issues its certificate too); a * anywhere else is refused', async (t) => {
  const wil = await tenant(stack, 'set-wil');
  const svc = await createService(wil, 'wil-settings');
  const base = `/api/render/services/${svc.id}/custom-domains`;
  const host = new URL(String((svc.serviceDetails as { url: string }).url)).hostname;
  const added = await wil.agent.post(base, { name: '*.Wil-Example.com' });
  t.is(added.status, 201, added.text);
  t.deepEqual(added.json.domains.map((d: { name: string; domainType: string }) => `${d.name}:${d.domainType}`), ['*.wil-example.com:subdomain'], 'no www entry for a wildcard');
  t.deepEqual(added.json.domains[0].dns.map((r: { type: string; name: string; value: string }) => `${r.type} ${r.name} ${r.value}`), [`CNAME *.wil-example.com ${host}`]);
  t.deepEqual((await wil.agent.get(base)).json.domains.map((d: { name: string }) => d.name), ['*.wil-example.com']);

  const before = renderWrites(wil);
  for (const name of ['*', '*.com', 'a.*.wil-example.com', '**.wil-example.com', '*.*.wil-example.com', '*x.wil-example.com', 'x*.wil-example.com', '*.onrender.com', '*.10.0.0.1']) {
    const res = await wil.agent.post(base, { name });
    t.is(res.status, 400, name);
    t.is(res.json.error.field, 'name', name);
  }
  t.is(renderWrites(wil), before, 'refused names never reach Render');
});

// Previews were never tested past [] (the simulator had none). Render's list cannot filter by parent, so the
// page reads the workspace's services of the parent's type made after it, up to a cap, and says when it hit it.
test('settings list the service\'s own pull request previews, not another service\'s; a look that hits its cap says so', async (t) => {
  const pia = await tenant(stack, 'set-pia');
  const web = await createService(pia, 'pia-web');
  const other = await createService(pia, 'pia-other');
  const ownPreview = stack.render.addPreview(web.id, { pullRequest: 7 });
  stack.render.addPreview(other.id, { pullRequest: 8 });
  const path = `/api/render/services/${web.id}/settings`;
  const got = await pia.agent.get(path);
  t.is(got.status, 200, got.text);
  t.deepEqual(got.json.settings.previewServices.map((p: { id: string; name: string }) => [p.id, p.name]), [[ownPreview, 'pia-web-pr-7']]);
  t.regex(got.json.settings.previewServices[0].url, /^https:\/\/pia-web-pr-7[\w-]*\.onrender\.com$/);
  t.true(got.json.settings.previewServicesComplete);
  const lists = stack.render.calls.filter((c) => c.accountId === pia.account.id && c.method === 'GET' && c.route === '/services');
  t.true(lists.length > 0);
  t.regex(lists.at(-1)!.query, /(^|&)type=web_service(&|$)/, 'narrowed to the parent\'s type');
  t.regex(lists.at(-1)!.query, /(^|&)createdAfter=/, 'narrowed to services made after the parent');
  t.deepEqual((await pia.agent.get(`/api/render/services/${other.id}/settings`)).json.settings.previewServices.map((p: { name: string }) => p.name), ['pia-other-pr-8']);

  // Up to the cap (500 services of the type made after it: pia-other, two previews and 497 more of
  // pia-other's) the look is complete; past it, the page says more may exist.
  for (let n = 100; n < 597; n++) stack.render.addPreview(other.id, { pullRequest: n });
  const full = await pia.agent.get(path);
  t.true(full.json.settings.previewServicesComplete, 'exactly the cap is a complete look');
  t.deepEqual(full.json.settings.previewServices.map((p: { id: string }) => p.id), [ownPreview]);
  for (let n = 597; n < 600; n++) stack.render.addPreview(other.id, { pullRequest: n });
  const capped = await pia.agent.get(path);
  t.is(capped.status, 200, capped.text);
  t.false(capped.json.settings.previewServicesComplete);
  t.deepEqual(capped.json.settings.previewServices, [], 'the own preview is older than the 501 read');
});

test('settings: shown, changed field by field, field errors for what a type does not have', async (t) => {
  const eve = await tenant(stack, 'set-eve');
  const svc = await createService(eve, 'eve-settings');
  const path = `/api/render/services/${svc.id}/settings`;
  const got = await eve.agent.get(path);
  t.is(got.status, 200, got.text);
  t.like(got.json.settings, { id: svc.id, autoDeploy: true, previews: 'off', plan: 'starter', healthCheckPath: '', numInstances: 1, region: 'oregon', previewServices: [] });

  const changed = await patch(eve.agent, path, { auto_deploy: false, previews: 'manual', plan: 'standard', health_check_path: '/healthz', num_instances: 3 });
  t.is(changed.status, 200, changed.text);
  t.like(changed.json.settings, { autoDeploy: false, previews: 'manual', plan: 'standard', healthCheckPath: '/healthz', numInstances: 3 });
  t.is(changed.json.settings.previewServices, null, 'a save does not list the preview services: not read, rather than none ([] before)');
  const onRender = await eve.render.getService(svc.id);
  t.is(onRender.autoDeploy, 'no');
  t.is((onRender.serviceDetails as { numInstances: number }).numInstances, 3);

  const bad: Array<[unknown, string]> = [
    [{}, ''], [{ num_instances: 0 }, 'num_instances'], [{ num_instances: 101 }, 'num_instances'], [{ num_instances: 1.5 }, 'num_instances'],
    [{ health_check_path: 'healthz' }, 'health_check_path'], [{ health_check_path: '/a b' }, 'health_check_path'],
    [{ plan: 'gold' }, 'plan'], [{ previews: 'on' }, 'previews'], [{ auto_deploy: 'yes' }, 'auto_deploy'],
  ];
  const cron = await createService(eve, 'eve-cron', 'cron_job');
  const writes = renderWrites(eve);
  for (const [body, field] of bad) {
    const res = await patch(eve.agent, path, body);
    t.is(res.status, 400, JSON.stringify(body));
    t.is(res.json.error.field ?? '', field, JSON.stringify(body));
  }
  const cronRes = await patch(eve.agent, `/api/render/services/${cron.id}/settings`, { num_instances: 2 });
  t.is(cronRes.status, 400);
  t.is(cronRes.json.error.field, 'num_instances');
  t.is(renderWrites(eve), writes, 'no refused change reached Render');
});

test.serial('settings: nothing half-applied when Render refuses the instance count', async (t) => {
  const fay = await tenant(stack, 'set-fay');
  const svc = await createService(fay, 'fay-settings');
  stack.render.setFault({ method: 'POST', route: '/services/{serviceId}/scale', kind: 'status', status: 400, count: 1 });
  t.teardown(() => stack.render.clearFaults());
  const res = await patch(fay.agent, `/api/render/services/${svc.id}/settings`, { auto_deploy: false, plan: 'standard', num_instances: 4 });
  t.is(res.status, 400, res.text);
  t.is(res.json.error.code, 'render_rejected');
  t.is(res.json.error.field, 'num_instances');
  t.regex(res.json.error.message, /Nothing was changed/);
  const after = await fay.render.getService(svc.id);
  t.is(after.autoDeploy, 'yes', 'auto-deploy put back');
  t.is((after.serviceDetails as { plan: string }).plan, 'starter', 'plan put back');
  t.is((after.serviceDetails as { numInstances: number }).numInstances, 1);
});

test.serial('settings: a save left half-applied (the scale refused, the put-back too) says which settings stayed changed, and is recorded as the change it partly is', async (t) => {
  const halfway = await tenant(stack, 'set-halfway');
  const svc = await createService(halfway, 'halfway-settings');
  stack.render.setFault({ method: 'POST', route: '/services/{serviceId}/scale', kind: 'status', status: 400, count: 1 });
  // The save's own update goes through; the one putting it back (the second) is refused.
  stack.render.setFault({ method: 'PATCH', route: '/services/{serviceId}', kind: 'status', status: 400, every: 2, count: 1 });
  t.teardown(() => stack.render.clearFaults());
  const trail = async () => ((await halfway.agent.get('/api/audit?limit=50')).json.entries as Array<{ detail: { lifecycleAction?: string; serviceId?: string } }>)
    .filter((e) => e.detail.lifecycleAction === 'settings_update' && e.detail.serviceId === svc.id).length;
  const before = await trail();
  const res = await patch(halfway.agent, `/api/render/services/${svc.id}/settings`, { auto_deploy: false, num_instances: 4 });
  t.is(res.status, 400, res.text);
  t.is(res.json.error.field, 'num_instances');
  t.notRegex(res.json.error.message, /Nothing was changed/);
  t.regex(res.json.error.message, /The other settings of this save \(auto-deploy\) were changed on Render and could not be put back/);
  const after = await halfway.render.getService(svc.id);
  t.is(after.autoDeploy, 'no', 'auto-deploy stayed changed on Render');
  t.is(await trail(), before + 1, 'recorded in the audit trail as a settings change');
});

test.serial('deploy history with Render\'s statuses, and a clear-cache redeploy the worker runs', async (t) => {
  const gus = await tenant(stack, 'set-gus');
  const svc = await createService(gus, 'gus-settings');
  for (let i = 0; i < 300 && !(await gus.render.listDeploys(svc.id)).some((d) => d.status === 'live'); i++) await new Promise((r) => setTimeout(r, 20));
  const worker = await startTestWorker(stack);
  t.teardown(() => worker.close(5_000));
  const redeploy = await gus.agent.post(`/api/render/services/${svc.id}/deploys`, { clear_cache: true });
  t.is(redeploy.status, 202, redeploy.text);
  t.like(redeploy.json, { kind: 'redeploy', serviceId: svc.id });
  const done = await waitFinished(gus.agent, redeploy.json.id);
  t.is(done.status, 'live');
  const events = await gus.render.listServiceEvents(svc.id, { limit: 100 });
  const build = events.items.find((e) => e.type === 'build_started' && (e.details as { trigger?: { clearCache?: boolean } }).trigger?.clearCache);
  t.truthy(build, 'Render was asked to build without its cache');

  const history = await gus.agent.get(`/api/render/services/${svc.id}/deploys?limit=10`);
  t.is(history.status, 200, history.text);
  t.deepEqual(history.json.deploys.map((d: { status: string; current: boolean; rollbackable: boolean }) => `${d.status}:${d.current}:${d.rollbackable}`), ['live:true:false', 'deactivated:false:true']);
  t.is(history.json.deploys[0].id, done.deployId);
  const bad = await gus.agent.get(`/api/render/services/${svc.id}/deploys?limit=0`);
  t.is(bad.status, 400);
});

test('a redeploy from the settings page (with or without the build cache) is audited with the deployment it started, as the lifecycle redeploy is', async (t) => {
  const ida = await tenant(stack, 'set-ida');
  const svc = await createService(ida, 'ida-settings');
  for (const [clearCache, action] of [[true, 'clear_cache_redeploy'], [false, 'redeploy']] as const) {
    const res = await ida.agent.post(`/api/render/services/${svc.id}/deploys`, { clear_cache: clearCache });
    t.is(res.status, 202, res.text);
    const entries = (await ida.agent.get('/api/audit?limit=50')).json.entries as Array<{ detail: { lifecycleAction?: string; serviceId?: string; deploymentId?: string } }>;
    const entry = entries.find((e) => e.detail.lifecycleAction === action);
    t.like(entry?.detail, { serviceId: svc.id, deploymentId: res.json.id }, `${action}: the entry leads to the deployment`);
  }
});

test('cross-tenant: every settings route with another tenant\'s service is the same 404 as a missing one, and nothing reaches their Render account', async (t) => {
  const owner = await tenant(stack, 'set-owner');
  const other = await tenant(stack, 'set-other');
  const svc = await createService(owner, 'owner-settings');
  await owner.render.putEnvVar(svc.id, 'OWNER_SECRET', 'owner-secret-value');
  const [domain] = await owner.render.addCustomDomain(svc.id, 'owner-settings.example.com');
  const calls = stack.render.calls.length;
  const routes: Array<[string, string, unknown?]> = [
    ['GET', 'env-vars'], ['GET', 'env-vars/OWNER_SECRET'], ['PUT', 'env-vars/OWNER_SECRET', { value: 'stolen' }], ['DELETE', 'env-vars/OWNER_SECRET'],
    ['GET', 'secret-files'], ['GET', 'secret-files/a.pem'], ['PUT', 'secret-files/a.pem', { content: 'x' }], ['DELETE', 'secret-files/a.pem'],
    ['GET', 'custom-domains'], ['POST', 'custom-domains', { name: 'stolen.example.com' }], ['POST', `custom-domains/${domain!.id}/verify`], ['DELETE', `custom-domains/${domain!.id}`],
    ['GET', 'settings'], ['PATCH', 'settings', { auto_deploy: false }], ['GET', 'deploys'], ['POST', 'deploys', { clear_cache: true }],
  ];
  for (const [method, sub, json] of routes) {
    const theirs = await other.agent.request(method, `/api/render/services/${svc.id}/${sub}`, json === undefined ? {} : { json });
    const missing = await other.agent.request(method, `/api/render/services/srv-00000000000000000000/${sub}`, json === undefined ? {} : { json });
    t.is(theirs.status, 404, `${method} ${sub}: ${theirs.text}`);
    t.deepEqual(theirs.json, missing.json, `${method} ${sub}`);
    t.false(theirs.text.includes('owner-secret-value'));
  }
  t.is(stack.render.calls.slice(calls).filter((c) => c.accountId === owner.account.id).length, 0, 'no call with the owner\'s key');
  t.is((await owner.render.getEnvVar(svc.id, 'OWNER_SECRET')).value, 'owner-secret-value');
  t.is((await owner.render.getService(svc.id)).autoDeploy, 'yes');
});

test('writes need the CSRF token and a Render key', async (t) => {
  const hal = await tenant(stack, 'set-hal');
  const svc = await createService(hal, 'hal-settings');
  const res = await hal.agent.request('PUT', `/api/render/services/${svc.id}/env-vars/X`, { json: { value: 'y' }, csrf: false });
  t.is(res.status, 403);
  t.is(res.json.error.code, 'csrf_failed');
  await hal.agent.post('/api/render/clear-credentials');
  const noKey = await hal.agent.get(`/api/render/services/${svc.id}/settings`);
  t.is(noKey.status, 400);
  t.is(noKey.json.error.code, 'render_key_missing');
});
