import test from 'ava';
import { manualClock } from '../../server/clock.js';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, signedInWithKey } from '../helpers/pipeline.js';
import { waitUntil } from '../helpers/wait.js';

// A long build while the user's tab is closed, the session's idle window passing; or its absolute lifetime ending
// while the user is active. SECURITY.md: the deploy stops in this app (credentials_revoked), saying Render may
// still build it. The reason said "you signed out or cleared your Render key": the user did neither (found by a
// probe of time and session lifetimes). A GitHub refusal or a replayed cookie ending the session said the same.

const clock = manualClock(Date.now());
let stack: Stack;
usePipelineStack(test, {
  clock,
  env: { SESSION_IDLE_MINUTES: '30', SESSION_ABSOLUTE_HOURS: '2' },
  renderOptions: { manualDeploys: true },
  worker: { clock },
}, (p) => { stack = p.stack; });

async function buildingDeploy(login: string) {
  const { agent } = await signedInWithKey(stack, login);
  addNodeRepo(stack, login, 'app');
  const res = await agent.post('/api/render/deploy', { github_repo: `${login}/app`, project_name: `${login}-app` });
  if (res.status !== 202) throw new Error(`deploy: ${res.status} ${res.text}`);
  const id = res.json.id as string;
  const rec = await waitUntil('the Render deploy', async () => {
    const r = await stack.web.deps.deployments.get(id);
    return r?.deployId ? r : null;
  }, 30_000, 25);
  stack.render.advanceDeploy(rec.deployId!); // building
  await waitUntil('building', async () => ((await stack.web.deps.deployments.get(id))?.status === 'build_in_progress' ? true : null), 30_000, 25);
  return { agent, id };
}

/** The deployment `id` once it has stopped building (bounded). */
const stopped = (id: string) => waitUntil('the deploy to stop', async () => {
  const r = await stack.web.deps.deployments.get(id);
  return r && r.status !== 'build_in_progress' ? r : null;
}, 30_000, 25);

test.serial('idle expiry mid-build (tab closed): the record says the session ended, not that the user signed out', async (t) => {
  const { agent, id } = await buildingDeploy('idlebuild');
  clock.advance(31 * 60_000);
  const done = await stopped(id);
  t.is(done.status, 'credentials_revoked');
  t.is((await agent.get('/api/session')).status, 401, 'the session is over');
  t.regex(done.failure?.message ?? '', /^Your session expired \(after a while without use, or at its time limit\), so this deploy was stopped, in this app only: .*Render may still build it/);
});

test.serial('absolute lifetime ends mid-build while the user is active: the record says why', async (t) => {
  const { agent, id } = await buildingDeploy('absbuild');
  // Kept busy: a read every 15 minutes slides idle, until the absolute 2 h end.
  for (let i = 0; i < 7; i++) {
    clock.advance(15 * 60_000);
    t.is((await agent.get('/api/session')).status, 200);
  }
  const before = await stack.web.deps.deployments.get(id);
  t.is(before?.status, 'build_in_progress');
  clock.advance(16 * 60_000);
  const done = await stopped(id);
  t.is(done.status, 'credentials_revoked');
  t.regex(done.failure?.message ?? '', /^Your session expired \(after a while without use, or at its time limit\), so this deploy was stopped, in this app only/);
});

test.serial('a sign-in again in the same browser ending the session mid-build: the record says so', async (t) => {
  const { id } = await buildingDeploy('againbuild');
  // As the OAuth callback ends the signed-in session its request came with (server/routes/auth.ts).
  const rec = await stack.web.deps.deployments.get(id);
  t.true(await stack.web.deps.sessionEnding.end(rec!.sessionRef, rec!.userId, 'signed_in_again'));
  const done = await stopped(id);
  t.is(done.status, 'credentials_revoked');
  t.regex(done.failure?.message ?? '', /^You signed in again in this browser, which ended the session that asked for it, so this deploy was stopped, in this app only/);
});
