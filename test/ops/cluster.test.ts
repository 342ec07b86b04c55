import test from 'ava';
import { startOpsEnv, logLines, eventually, PROCESS_TEST_TIMEOUT_MS, PROGRESS_WAIT_MS, type OpsEnv, type ChildWeb } from './support/cluster.js';
import { Roamer, signInAcross, connectRenderKey, addNodeRepo, openEvents } from './support/users.js';
import { assertEveryDeployLiveOnce } from './support/liveOnce.js';
import type { ChildWorker } from '../helpers/processes.js';

// Two web processes and two worker processes (real child processes) against one Redis: whichever
// process serves a request, the session, the live updates and the jobs are the same.

let env: OpsEnv;
let webs: ChildWeb[];
let workers: ChildWorker[];
test.before(async () => {
  env = await startOpsEnv();
  webs = await Promise.all([env.spawnWeb(), env.spawnWeb()]);
  workers = await Promise.all([env.spawnWorker(), env.spawnWorker()]);
});
test.after.always(async () => { await env?.close(); });

test('one user across two web processes; deploys spread over two workers; SSE from either web', async (t) => {
  t.timeout(PROCESS_TEST_TIMEOUT_MS);
  const user = new Roamer(webs.map((w) => w.url));
  await signInAcross(env, user, 'roamer');

  // The same cookie is one session on both processes.
  const [a, b] = await Promise.all([user.at(0).get('/api/session'), user.at(1).get('/api/session')]);
  t.is(a.status, 200);
  t.is(b.status, 200);
  t.is(a.json.user.login, 'roamer');
  t.deepEqual(b.json.user, a.json.user);
  const { apiKey } = await connectRenderKey(env, user.at(0), 'roamer');
  const status = await user.at(1).get('/api/render/status');
  t.true(status.json.configured, 'the key set through one process is seen by the other');

  // A live stream on each process, then deploys requested alternately through both.
  const cookie = user.at(0).cookieHeader();
  const streams = await Promise.all(webs.map((w) => openEvents(w.url, cookie)));
  t.deepEqual(streams.map((s) => s.status), [200, 200]);
  // Render holds every build until this test lets it go: the deploys get under way on either worker,
  // then finish in two halves, each while the other worker is paused, so both workers finish deploys
  // whatever the machine's load (left to chance, a loaded machine once let one worker take all ten).
  const holds = new Map<string, () => void>();
  const release = (name: string) => { holds.get(name)?.(); holds.delete(name); };
  t.teardown(() => { for (const name of [...holds.keys()]) release(name); });
  for (let i = 0; i < 10; i++) holds.set(`roam-app-${i}`, env.render.holdPhase({ serviceName: `roam-app-${i}` }, 'build_in_progress'));
  const projects: Array<{ id: string; name: string }> = [];
  for (let i = 0; i < 10; i++) {
    const name = `roam-app-${i}`;
    addNodeRepo(env, 'roamer', name);
    const res = await user.next().post('/api/render/deploy', { github_repo: `roamer/${name}`, project_name: name });
    t.is(res.status, 202, res.text);
    projects.push({ id: res.json.id, name });
  }

  const building = async () => (await Promise.all(projects.map((p) => user.next().get(`/api/render/deployments/${p.id}`)))).every((r) => r.json.status === 'build_in_progress');
  t.true(await eventually(building, PROGRESS_WAIT_MS), 'every deploy reached its held build');
  const doneIn = (w: ChildWorker) => logLines(w.output, 'deploy job done').map((l) => l.deploymentId as string);
  const turns: Array<[ChildWorker, ChildWorker]> = [[workers[0]!, workers[1]!], [workers[1]!, workers[0]!]];
  for (const [half, [runs, paused]] of turns.entries()) {
    const mine = projects.slice(half * 5, half * 5 + 5);
    await paused.pause();
    for (const p of mine) release(p.name);
    t.true(await eventually(() => mine.every((p) => doneIn(runs).includes(p.id)), PROGRESS_WAIT_MS), `half ${half + 1} finished by the running worker`);
    await paused.resume();
  }

  await assertEveryDeployLiveOnce(t, env, apiKey, user, projects, { finishedMessage: 'every deploy finished' });

  // Every deployment's final update reached the browser through both processes.
  const sawLive = (i: number) => projects.every((p) => streams[i]!.events.some((e) => e.event === 'deployment' && JSON.parse(e.data).id === p.id && JSON.parse(e.data).status === 'live'));
  t.true(await eventually(() => sawLive(0) && sawLive(1), PROGRESS_WAIT_MS), 'both SSE streams saw every deploy go live');
  for (const s of streams) s.close();

  // Each job finished exactly once, and both workers took part. A record is final before its job is
  // done (the job still asks for the commit status and Slack message, then BullMQ completes it, then the
  // line is written and piped here): wait for every deployment's line instead of reading them at once.
  const finishedIds = () => new Set(workers.flatMap((w) => logLines(w.output, 'deploy job done').map((l) => l.deploymentId as string)));
  t.true(await eventually(() => projects.every((p) => finishedIds().has(p.id)), PROGRESS_WAIT_MS), 'every deploy job logged done');
  const doneBy = workers.map(doneIn);
  t.log(`jobs finished per worker: ${doneBy.map((d) => d.length).join(' / ')}`);
  const all = doneBy.flat();
  t.is(all.length, projects.length, 'no job finished twice');
  t.deepEqual([...new Set(all)].sort(), projects.map((p) => p.id).sort());
  t.true(doneBy.every((d) => d.length > 0), 'both workers finished deploys');
});

test('signing out through one process ends the session on the other', async (t) => {
  const user = new Roamer(webs.map((w) => w.url).reverse());
  await signInAcross(env, user, 'leaver');
  t.is((await user.at(1).get('/api/session')).status, 200);
  const oldCookie = user.at(0).cookieHeader();
  const out = await user.at(0).post('/api/auth/logout');
  t.true(out.status === 200 || out.status === 204, `logout: ${out.status}`);
  // The old cookie, replayed on the other process: the session is gone from Redis, not just from the jar.
  const replay = await fetch(`${webs[0]!.url}/api/session`, { headers: { cookie: oldCookie } });
  t.is(replay.status, 401);
});
