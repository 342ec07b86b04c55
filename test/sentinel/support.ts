import { Writable } from 'node:stream';
import { createLogger } from '../../server/logger.js';
import { startWorker, type WorkerProcess } from '../../workers/process.js';
import type { RenderLimits } from '../../server/render/budget.js';
import type { Clock } from '../../server/clock.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { waitUntil } from '../helpers/wait.js';
import { FAST_WATCH, signedInWithKey } from '../helpers/pipeline.js';
import { renderTestClient, webServiceBody } from '../sandbox/render-test-client.js';
import type { Agent } from '../helpers/agent.js';
import { startSlackReceiver, type SlackReceiver } from '../helpers/slackReceiver.js';

export { startSlackReceiver, type SlackReceiver };

export interface SentinelStack { stack: Stack; worker: WorkerProcess & { logs: string[] }; tenantSlack: SlackReceiver; operatorSlack: SlackReceiver; close(): Promise<void> }

/**
 * Web + worker (with Sentinel) on real Redis and the simulators; rounds every second. `workerClock`: the
 * worker's, `webClock`: the web process's (Render's, the simulator's, is the machine's).
 */
export async function startSentinelStack(opts: { renderLimits?: RenderLimits; env?: Record<string, string>; workerClock?: Clock; webClock?: Clock } = {}): Promise<SentinelStack> {
  const [tenantSlack, operatorSlack] = await Promise.all([startSlackReceiver(), startSlackReceiver('/services/OPERATOR/OPERATOR/OPERATOR0000')]);
  const hosts = [tenantSlack.host, operatorSlack.host];
  const stack = await startStack({
    env: { SENTINEL_INTERVAL_SECONDS: '1', ...opts.env },
    ...(opts.webClock ? { clock: opts.webClock } : {}),
    renderOptions: { phaseMs: { created: 0, build_in_progress: 0, pre_deploy_in_progress: 0, update_in_progress: 0 } },
    appOptions: {
      sentinel: { slackHosts: ['hooks.slack.com', tenantSlack.host], slackOrigin: tenantSlack.origin, guard: { allowHosts: hosts } },
      // The operator's SLACK_WEBHOOK_URL (platform security events) points at its own receiver.
      security: { alerts: { webhookUrl: operatorSlack.url, guard: { allowHosts: hosts } } },
    },
  });
  const logs: string[] = [];
  const sink = new Writable({ write(chunk, _e, cb) { logs.push(String(chunk)); cb(); } });
  const proc = await startWorker({
    config: stack.config, logger: createLogger({ level: 'debug', destination: sink }), watch: FAST_WATCH, renderLimits: opts.renderLimits, ...(opts.workerClock ? { clock: opts.workerClock } : {}),
    workerOptions: { concurrency: 20, lockDurationMs: 5_000, stalledIntervalMs: 1_000 },
    sentinel: { alerts: { slackHosts: ['hooks.slack.com', tenantSlack.host], slackOrigin: tenantSlack.origin, guard: { allowHosts: hosts } } },
  });
  const worker = Object.assign(proc, { logs });
  return {
    stack, worker, tenantSlack, operatorSlack,
    async close() {
      await worker.close(5_000);
      await stack.close();
      await Promise.all([tenantSlack.close(), operatorSlack.close()]);
    },
  };
}

export const SECRET_ENV_VALUE = 'sup3r-secret-db-passw0rd';

/** A signed-in user with a Render key and one web service (with a secret env value) in their workspace. */
export async function tenant(stack: Stack, login: string, serviceNames = ['api']) {
  const user = await signedInWithKey(stack, login);
  const api = renderTestClient(stack.render.url, user.apiKey);
  const services: Array<{ id: string; name: string }> = [];
  for (const name of serviceNames) {
    const res = await api.call('POST', '/services', webServiceBody(user.ownerId, `${login}-${name}`, { envVars: [{ key: 'DATABASE_PASSWORD', value: SECRET_ENV_VALUE }] }));
    if (res.status !== 201) throw new Error(`create service: ${res.status} ${res.text}`);
    services.push({ id: res.body.service.id, name: res.body.service.name });
  }
  return { ...user, services };
}

export async function enable(agent: Agent, body: Record<string, unknown> = {}) {
  const res = await agent.request('PUT', '/api/sentinel', { json: { enabled: true, ...body } });
  if (res.status !== 200) throw new Error(`enable sentinel: ${res.status} ${res.text}`);
  return res.json;
}

export async function findings(agent: Agent): Promise<any[]> {
  const res = await agent.get('/api/sentinel/findings');
  if (res.status !== 200) throw new Error(`findings: ${res.status} ${res.text}`);
  return res.json.findings;
}

/** Poll until check() returns a value (bounded; the bound is a hang guard, not an assertion). */
export function waitFor<T>(what: string, check: () => Promise<T | null | undefined | false>, timeoutMs = 30_000): Promise<T> {
  return waitUntil(what, check, timeoutMs, 100);
}
