import test from 'ava';
import { startOpsEnv, eventually, PROCESS_TEST_TIMEOUT_MS, PROGRESS_WAIT_MS, type OpsEnv, type ChildWeb } from './support/cluster.js';
import { Roamer, signInAcross, connectRenderKey, addNodeRepo } from './support/users.js';
import { assertEveryDeployLiveOnce } from './support/liveOnce.js';

// Redis (with persistence, like Render Key Value) restarted while deploys run through two web and
// two worker processes: readiness reports it, and every deploy that was accepted still ends live.

const run = process.env.REDIS_URL ? test.skip : test; // needs a private redis-server it can restart

let env: OpsEnv;
let webs: ChildWeb[];
test.before(async () => {
  if (process.env.REDIS_URL) return;
  env = await startOpsEnv({ persistence: true });
  webs = await Promise.all([env.spawnWeb(), env.spawnWeb()]);
  await Promise.all([env.spawnWorker(), env.spawnWorker()]);
});
test.after.always(async () => { await env?.close(); });

async function readiness(url: string): Promise<{ status: number; checks?: Record<string, string> }> {
  try {
    const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(3_000) });
    return { status: res.status, checks: ((await res.json()) as { checks: Record<string, string> }).checks };
  } catch {
    return { status: 0 };
  }
}

run('Redis restart mid-load: /readyz goes 503 and back to 200, no accepted deploy is lost', async (t) => {
  t.timeout(PROCESS_TEST_TIMEOUT_MS);
  const user = new Roamer(webs.map((w) => w.url));
  await signInAcross(env, user, 'restarter');
  const { apiKey } = await connectRenderKey(env, user.next(), 'restarter');
  for (const w of webs) t.is((await readiness(w.url)).status, 200);

  const accepted: Array<{ id: string; name: string }> = [];
  const deploy = async (name: string) => {
    addNodeRepo(env, 'restarter', name);
    const res = await user.next().post('/api/render/deploy', { github_repo: `restarter/${name}`, project_name: name });
    // While Redis is away a deploy is refused (never half-accepted); only 202s are promises we keep.
    if (res.status === 202) accepted.push({ id: res.json.id, name });
    else t.true(res.status >= 500, `refused with ${res.status}`);
  };
  for (let i = 0; i < 6; i++) await deploy(`before-${i}`);

  // Watch readiness on both processes while Redis goes away and comes back.
  const seen = webs.map(() => new Set<number>());
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      const states = await Promise.all(webs.map((w) => readiness(w.url)));
      states.forEach((s, i) => seen[i]!.add(s.status));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  await new Promise((r) => setTimeout(r, 300)); // deploys are mid-way now
  const during = env.redis.restart({ downMs: 2_500 });
  await new Promise((r) => setTimeout(r, 800));
  await deploy('during-0'); // refused or accepted; either way it is not lost
  await during;
  const recovered = await eventually(async () => (await Promise.all(webs.map((w) => readiness(w.url)))).every((s) => s.status === 200), PROGRESS_WAIT_MS, 100);
  watching = false;
  await watcher;
  t.true(recovered, 'both web processes ready again');
  seen.forEach((statuses, i) => {
    t.true(statuses.has(503), `web ${i} reported 503 while Redis was down (saw ${[...statuses].join(',')})`);
    t.true(statuses.has(200), `web ${i} reported 200`);
  });

  for (let i = 0; i < 3; i++) await deploy(`after-${i}`);
  t.log(`${accepted.length} deploys accepted (one was requested while Redis was down)`);
  t.true(accepted.length >= 9);

  await assertEveryDeployLiveOnce(t, env, apiKey, user, accepted, { finishedMessage: 'every accepted deploy finished', everyMs: 200 });
});
