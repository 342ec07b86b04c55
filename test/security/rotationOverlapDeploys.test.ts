import test from 'ava';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { loadConfig } from '../../server/config/env.js';
import { createLogger } from '../../server/logger.js';
import { startWeb, type WebProcess } from '../../server/web.js';
import { startWorker, type WorkerProcess } from '../../workers/process.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { envFor } from '../helpers/processes.js';
import { freePort } from '../helpers/ports.js';
import { startBalancer, type Balancer } from '../helpers/balancer.js';
import { addNodeRepo, FAST_WATCH, signedInWithKey } from '../helpers/pipeline.js';

// Step 2 overlap (A+B beside B+A, web and worker of each), as SECURITY.md prescribes. A user deploys and
// watches the deployment's page, whose polls land on either kind of process (each moves the session
// to its own key's name). Nobody signs out or changes the key: every deploy must go live.
const KEY_A = randomBytes(32).toString('hex');
const KEY_B = randomBytes(32).toString('hex');
let stack: Stack;
let balancer: Balancer;
const webs: WebProcess[] = [];
const workers: WorkerProcess[] = [];
const quiet = () => createLogger({ level: 'silent', destination: new Writable({ write(_c, _e, cb) { cb(); } }) });

test.before(async () => {
  stack = await startStack({ env: { SECRET_KEY: KEY_A }, renderOptions: { phaseMs: { created: 50, build_in_progress: 400, pre_deploy_in_progress: 50, update_in_progress: 200 } } });
  await stack.web.close();
  for (const secrets of [{ SECRET_KEY: KEY_A, SECRET_KEY_PREVIOUS: KEY_B }, { SECRET_KEY: KEY_B, SECRET_KEY_PREVIOUS: KEY_A }]) {
    webs.push(await startWeb({ config: loadConfig(envFor(stack.config, { ...secrets, PORT: String(await freePort()) })), logger: quiet(), host: '127.0.0.1' }));
    workers.push(await startWorker({ config: loadConfig(envFor(stack.config, secrets)), logger: quiet(), watch: FAST_WATCH, workerOptions: { concurrency: 5, lockDurationMs: 5_000, stalledIntervalMs: 1_000 }, rotationSweep: { everyMs: 0 } }));
  }
  balancer = await startBalancer(stack.config.port, webs.map((w) => w.url));
});
test.after.always(async () => {
  await balancer?.close();
  for (const w of webs) await w.close();
  for (const w of workers) await w.close(5_000);
  await stack?.close();
});

test.serial('deploys run while the user\'s page polls both kinds of process: none is stopped as credentials_revoked', async (t) => {
  t.timeout(100_000);
  const { agent } = await signedInWithKey(stack, 'overlapper');
  addNodeRepo(stack, 'overlapper', 'app');
  const outcomes: string[] = [];
  for (let i = 0; i < 6; i++) {
    const res = await agent.post('/api/render/deploy', { github_repo: 'overlapper/app', project_name: `overlapper-${i}` });
    t.is(res.status, 202, res.text);
    // The deployment page, polling (each request on the next process in turn).
    for (const end = Date.now() + 30_000; Date.now() < end;) {
      const rec = await agent.get(`/api/render/deployments/${res.json.id}`);
      t.is(rec.status, 200, 'still signed in');
      if (rec.json.finished) { outcomes.push(`${rec.json.status}${rec.json.failure ? `:${rec.json.failure.code}` : ''}`); break; }
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  t.is((await agent.get('/api/session')).status, 200, 'the user was never signed out');
  t.deepEqual(outcomes, Array(6).fill('live'), outcomes.join(', '));
});
