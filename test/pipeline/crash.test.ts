import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import { addNodeRepo, FAST_WATCH, signedInWithKey, waitFinished } from '../helpers/pipeline.js';
import { ChildExitedEarly, workerSpawner, type ChildWorker } from '../helpers/processes.js';

// Render's deploys move only when this test advances them (manual mode), so every kill below lands
// while deploys are still running, whatever the machine's load: the kills follow observed states,
// not timers.
let stack: Stack;
test.before(async () => {
  stack = await startStack({ renderOptions: { manualDeploys: true } });
});
test.after.always(async () => { await stack?.close(); });

const WORKER_OPTIONS = {
  watch: FAST_WATCH, retryBackoffMs: 50, renderTimeoutMs: 2_000,
  workerOptions: { concurrency: 10, lockDurationMs: 1_500, stalledIntervalMs: 500 },
};

type User = Awaited<ReturnType<typeof signedInWithKey>>;
interface Project { user: User; id: string; name: string }
interface Seen { status: string; serviceId: string | null; deployId: string | null; finished: boolean }

async function servicesNamed(apiKey: string, name: string): Promise<number> {
  const res = await fetch(`${stack.render.url}/services?name=${encodeURIComponent(name)}&limit=100`, { headers: { authorization: `Bearer ${apiKey}` } });
  const list = (await res.json()) as Array<{ service: { name: string } }>;
  return list.filter((e) => e.service.name === name).length;
}

async function look(projects: Project[]): Promise<Seen[]> {
  return Promise.all(projects.map(async (p) => (await p.user.agent.get(`/api/render/deployments/${p.id}`)).json as Seen));
}

/** Poll the deployments until `check` holds (bounded only against a hang; a miss fails the test). */
async function until(projects: Project[], what: string, check: (seen: Seen[]) => boolean): Promise<Seen[]> {
  const end = Date.now() + 90_000;
  for (;;) {
    const seen = await look(projects);
    if (check(seen)) return seen;
    if (Date.now() > end) throw new Error(`never observed: ${what} (${seen.map((s) => s.status).join(', ')})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One phase forward for every Render deploy our records know of (Render's manual mode). */
function advanceRecorded(seen: Seen[]) {
  for (const s of seen) if (s.deployId && !s.finished) stack.render.advanceDeploy(s.deployId);
}

test('kill -9 workers at random points: every deploy completes, exactly one service per project', async (t) => {
  t.timeout(280_000);
  // Every child is ended when the test ends, however it ends (an assertion, a throw, a timeout).
  const start = workerSpawner(t, stack.config);

  const logins = ['crash-a', 'crash-b', 'crash-c'];
  const users = await Promise.all(logins.map((login) => signedInWithKey(stack, login)));
  const projects: Project[] = [];
  const request = async (u: number, p: number) => {
    const name = `${logins[u]}-app-${p}`;
    addNodeRepo(stack, logins[u]!, name);
    const res = await users[u]!.agent.post('/api/render/deploy', { github_repo: `${logins[u]}/${name}`, project_name: name });
    t.is(res.status, 202, res.text);
    return { user: users[u]!, id: res.json.id as string, name };
  };
  for (let u = 0; u < users.length; u++) for (let p = 0; p < 4; p++) projects.push(await request(u, p));

  // Round 1: SIGKILL a random worker (after a random pause) at each of these observed moments, and
  // start a fresh one. Render's deploys advance only after the kills meant for their phase.
  const workers: ChildWorker[] = [await start(WORKER_OPTIONS), await start(WORKER_OPTIONS)];
  const moments: Array<{ what: string; check: (seen: Seen[]) => boolean; thenAdvance?: boolean }> = [
    { what: 'a worker picked up a deploy', check: (seen) => seen.some((s) => s.status !== 'queued') },
    { what: 'Render created a service', check: (seen) => seen.some((s) => s.serviceId) },
    { what: 'every deploy is being watched on Render', check: (seen) => seen.every((s) => s.deployId), thenAdvance: true },
    { what: 'a build is running', check: (seen) => seen.some((s) => s.status === 'build_in_progress'), thenAdvance: true },
    { what: 'an update is running', check: (seen) => seen.some((s) => s.status === 'update_in_progress') },
  ];
  const killedAt: string[] = [];
  for (const moment of moments) {
    await until(projects, moment.what, moment.check);
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 300)));
    const victim = Math.floor(Math.random() * workers.length);
    await workers[victim]!.kill('SIGKILL');
    const seen = await look(projects);
    killedAt.push(`${moment.what} (${seen.filter((s) => s.finished).length} finished)`);
    t.false(seen.every((s) => s.finished), `deploys were still running when killed at: ${moment.what}`);
    workers[victim] = await start(WORKER_OPTIONS);
    if (moment.thenAdvance) advanceRecorded(await look(projects));
  }
  t.log(`SIGKILL at: ${killedAt.join('; ')}`);

  // From here on Render's deploys advance by themselves, one phase every 100 ms.
  let advancing = true;
  const advancer = (async () => {
    while (advancing) {
      advanceRecorded(await look(projects));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    await until(projects, 'round 1 finished', (seen) => seen.every((s) => s.finished));
    await Promise.all(workers.map((w) => w.kill('SIGKILL')));

    // Round 2: workers that kill themselves at the riskiest moments — right after Render created a
    // service or a deploy and before anything was recorded, or between steps — until the deploys get
    // through. The first one surely dies right after Render's first service creation; later ones die
    // with probability 0.2 at each point. Each is waited on until it died or the deploys are done.
    const more: Project[] = [];
    for (let u = 0; u < users.length; u++) for (let p = 4; p < 6; p++) more.push(await request(u, p));
    projects.push(...more);
    const crashers = [{ ...WORKER_OPTIONS, crashProbability: 1, crashPoints: ['service_created'] }];
    let selfKills = 0;
    const end2 = Date.now() + 90_000;
    while (Date.now() < end2) {
      const options = crashers.shift() ?? { ...WORKER_OPTIONS, crashProbability: 0.2 };
      let w: ChildWorker;
      try {
        w = await start(options);
      } catch (err) {
        if (!(err instanceof ChildExitedEarly && err.signal === 'SIGKILL')) throw err;
        selfKills++; // it died at a crash point before it could even say it was ready
        continue;
      }
      // Watch both: the worker dying, or every deploy of this round finished (then it is stopped here).
      let roundOver = false;
      let died = false;
      while (!died && !roundOver && Date.now() < end2) {
        died = w.proc.exitCode !== null || w.proc.signalCode !== null;
        if (!died) roundOver = (await look(more)).every((s) => s.finished);
        if (!died && !roundOver) await new Promise((r) => setTimeout(r, 50));
      }
      if (died) selfKills++;
      else await w.kill('SIGKILL');
      if (roundOver) break;
    }
    t.log(`${selfKills} workers died at a crash point`);
    t.true(selfKills >= 1, 'a worker died right after Render created a service');

    // Whatever is left is finished by a worker that does not crash.
    await start(WORKER_OPTIONS);
    for (const p of projects) {
      const done = await waitFinished(p.user.agent, p.id, 60_000);
      t.is(done.status, 'live', `${p.name}: ${done.status} ${JSON.stringify(done.failure)}`);
      t.is(await servicesNamed(p.user.apiKey, p.name), 1, `${p.name} has exactly one service`);
    }
  } finally {
    advancing = false;
    await advancer;
  }
});
