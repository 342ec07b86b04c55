import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRenderSimulator } from '../../sandbox/render/index.js';
import { startGitHubSimulator } from '../../sandbox/github/index.js';
import { renderTestClient, waitFor, webServiceBody } from './render-test-client.js';

// Sandbox persistence: a simulator started on its saved state file has the same world, over HTTP.
const dir = mkdtempSync(join(tmpdir(), 'sim-persist-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

test('Render: services, deploys, env vars and keys survive a restart; a deploy caught mid-build finishes afterwards', async (t) => {
  const stateFile = join(dir, 'render.json');
  const slow = await startRenderSimulator({ stateFile, phaseMs: { created: 0, build_in_progress: 60_000 } });
  const account = slow.addAccount({ apiKey: 'rnd_persisted_key' });
  const before = renderTestClient(slow.url, 'rnd_persisted_key');
  const created = await before.call('POST', '/services', webServiceBody(account.ownerId, 'kept', { envVars: [{ key: 'GREETING', value: 'hi' }] }));
  t.is(created.status, 201, created.text);
  const serviceId = created.body.service.id as string;
  const deployId = created.body.deployId as string;
  t.is((await before.get(`/services/${serviceId}/deploys/${deployId}`)).body.status, 'build_in_progress');
  await slow.close();
  t.notRegex(readFileSync(stateFile, 'utf8'), /"timer"/, 'no timers in the file');
  t.false(slow.restored);

  const fast = await startRenderSimulator({ stateFile, phaseMs: { created: 0, build_in_progress: 0, pre_deploy_in_progress: 0, update_in_progress: 0 } });
  t.teardown(() => fast.close());
  t.true(fast.restored);
  const after = renderTestClient(fast.url, 'rnd_persisted_key');
  const service = await after.get(`/services/${serviceId}`);
  t.is(service.status, 200, 'the key and the service are known after the restart');
  t.is(service.body.name, 'kept');
  await waitFor(async () => (await after.get(`/services/${serviceId}/deploys/${deployId}`)).body.status === 'live');
  const env = await after.get(`/services/${serviceId}/env-vars`);
  t.deepEqual(env.body.map((e: { envVar: { key: string; value: string } }) => e.envVar), [{ key: 'GREETING', value: 'hi' }]);
  const redeploy = await after.call('POST', `/services/${serviceId}/deploys`, {});
  t.is(redeploy.status, 201, 'redeploy works on the restored service');
});

test('GitHub: users, repos and issued tokens survive a restart', async (t) => {
  const stateFile = join(dir, 'github.json');
  const first = await startGitHubSimulator({ stateFile });
  first.addUser({ id: 77, login: 'keeper' });
  first.addRepo({ owner: 'keeper', name: 'app', private: true, branches: { main: { 'package.json': '{}' } } });
  const token = first.issueToken('keeper');
  await first.close();

  const second = await startGitHubSimulator({ stateFile });
  t.teardown(() => second.close());
  t.true(second.restored);
  const res = await fetch(`${second.apiUrl}/repos/keeper/app`, { headers: { authorization: `Bearer ${token}` } });
  t.is(res.status, 200);
  t.is(((await res.json()) as { private: boolean }).private, true);
});

test('a state file that is not JSON stops the start with a message naming the file', async (t) => {
  const stateFile = join(dir, 'broken.json');
  writeFileSync(stateFile, '{"version":1,');
  const err = await t.throwsAsync(startRenderSimulator({ stateFile }));
  t.true(err.message.includes(stateFile));
});
