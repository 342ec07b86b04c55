import type { ExecutionContext } from 'ava';
import { eventually, PROGRESS_WAIT_MS, type OpsEnv } from './cluster.js';
import { servicesNamed, type Roamer } from './users.js';

/**
 * What a lost or doubled deploy would break, for multi-process tests: every deployment finishes
 * (bounded, `finishedMessage` when not), each ends live, and each project has exactly one service
 * on Render. Read through the roamer's processes in turn.
 */
export async function assertEveryDeployLiveOnce(
  t: ExecutionContext, env: OpsEnv, apiKey: string, user: Roamer, deploys: Array<{ id: string; name: string }>,
  opts: { finishedMessage: string; everyMs?: number },
): Promise<void> {
  const finished = await eventually(async () => {
    const states = await Promise.all(deploys.map((p) => user.next().get(`/api/render/deployments/${p.id}`)));
    return states.every((s) => s.status === 200 && s.json.finished);
  }, PROGRESS_WAIT_MS, opts.everyMs ?? 100);
  t.true(finished, opts.finishedMessage);
  for (const p of deploys) {
    const rec = await user.next().get(`/api/render/deployments/${p.id}`);
    t.is(rec.json.status, 'live', `${p.name}: ${JSON.stringify(rec.json.failure)}`);
    t.is(await servicesNamed(env, apiKey, p.name), 1, `${p.name} has exactly one service`);
  }
}
