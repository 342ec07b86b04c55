import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import { addNodeRepo, FAST_WATCH, signedInWithKey, waitFinished } from '../helpers/pipeline.js';
import { spawnWorker, type ChildWorker } from '../helpers/processes.js';

let stack: Stack;
test.before(async () => {
  stack = await startStack({ renderOptions: { phaseMs: { created: 100, build_in_progress: 2_000, pre_deploy_in_progress: 0, update_in_progress: 500 } } });
});
test.after.always(async () => { await stack?.close(); });

const WORKER_OPTIONS = {
  watch: FAST_WATCH, retryBackoffMs: 50, renderTimeoutMs: 2_000,
  workerOptions: { concurrency: 10, lockDurationMs: 1_500, stalledIntervalMs: 500 },
};

async function servicesNamed(apiKey: string, name: string): Promise<number> {
  const res = await fetch(`${stack.render.url}/services?name=${encodeURIComponent(name)}&limit=100`, { headers: { authorization: `Bearer ${apiKey}` } });
  const list = (await res.json()) as Array<{ service: { name: string } }>;
  return list.filter((e) => e.service.name === name).length;
}

test('kill -9 workers at random points: every deploy completes, exactly one service per project', async (t) => {
  t.timeout(150_000);
  const users = await Promise.all(['crash-a', 'crash-b', 'crash-c'].map((login) => signedInWithKey(stack, login)));
  const projects: Array<{ user: (typeof users)[number]; id: string; name: string }> = [];
  let workers: ChildWorker[] = [await spawnWorker(stack.config, WORKER_OPTIONS), await spawnWorker(stack.config, WORKER_OPTIONS)];

  for (const [u, user] of users.entries()) {
    for (let p = 0; p < 4; p++) {
      const login = ['crash-a', 'crash-b', 'crash-c'][u]!;
      const name = `${login}-app-${p}`;
      addNodeRepo(stack, login, name);
      const res = await user.agent.post('/api/render/deploy', { github_repo: `${login}/${name}`, project_name: name });
      t.is(res.status, 202);
      projects.push({ user, id: res.json.id, name });
    }
  }

  // Kill a random worker at a random moment, start a fresh one, many times over while deploys run.
  let kills = 0;
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && kills < 6) {
    await new Promise((r) => setTimeout(r, 50 + Math.floor(Math.random() * 350)));
    const victim = Math.floor(Math.random() * workers.length);
    await workers[victim]!.kill('SIGKILL');
    kills++;
    workers[victim] = await spawnWorker(stack.config, WORKER_OPTIONS);
    const states = await Promise.all(projects.map((p) => p.user.agent.get(`/api/render/deployments/${p.id}`)));
    if (states.every((s) => s.json.finished)) break;
  }
  t.log(`${kills} workers killed with SIGKILL`);
  t.true(kills >= 2, 'workers were killed while deploys ran');
  for (const w of workers) await w.kill('SIGKILL');
  workers = [];

  // Second round: workers that kill themselves at the riskiest moments — right after Render created a
  // service or a deploy and before anything was recorded — until the deploys get through.
  const crashy = { ...WORKER_OPTIONS, crashProbability: 0.2 };
  let selfKills = 0;
  const more: typeof projects = [];
  for (const [u, user] of users.entries()) {
    const login = ['crash-a', 'crash-b', 'crash-c'][u]!;
    for (let p = 4; p < 6; p++) {
      const name = `${login}-app-${p}`;
      addNodeRepo(stack, login, name);
      const res = await user.agent.post('/api/render/deploy', { github_repo: `${login}/${name}`, project_name: name });
      more.push({ user, id: res.json.id, name });
    }
  }
  projects.push(...more);
  const end2 = Date.now() + 45_000;
  while (Date.now() < end2) {
    const w = await spawnWorker(stack.config, crashy);
    workers = [w];
    const exited = await Promise.race([
      new Promise<boolean>((r) => w.proc.once('exit', () => r(true))),
      new Promise<boolean>((r) => setTimeout(() => r(false), 1_000)),
    ]);
    if (exited) selfKills++;
    const states = await Promise.all(more.map((p) => p.user.agent.get(`/api/render/deployments/${p.id}`)));
    if (states.every((s) => s.json.finished)) break;
    if (!exited) await w.kill('SIGKILL');
  }
  t.log(`${selfKills} workers died at a crash point`);
  t.true(selfKills >= 1);
  workers.push(await spawnWorker(stack.config, WORKER_OPTIONS));

  try {
    for (const p of projects) {
      const done = await waitFinished(p.user.agent, p.id, 60_000);
      t.is(done.status, 'live', `${p.name}: ${done.status} ${JSON.stringify(done.failure)}`);
      t.is(await servicesNamed(p.user.apiKey, p.name), 1, `${p.name} has exactly one service`);
    }
  } finally {
    await Promise.all(workers.map((w) => w.kill('SIGKILL')));
  }
});
