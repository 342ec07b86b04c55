import type { Stack } from './stack.js';
import { ATTACK_UA, type Caller } from './attackHttp.js';
import type { TenantIds } from './attackRoutes.js';
import { createRenderClient, type RenderClient } from '../../server/render/client.js';
import { findingId, sentinelKeys } from '../../server/sentinel/store.js';
import type { Finding } from '../../server/sentinel/types.js';

// Tenants of the attack suites: signed in with a Render key, and resources worth attacking
// (a private repo, a service with a live deploy, a deployment record, settings, a Sentinel finding).

export interface Tenant extends Caller {
  login: string;
  userId: number;
  apiKey: string;
  accountId: string;
  ownerId: string;
  /** The tenant's own Render client straight to the simulator (to create services as a user would on Render). */
  render: RenderClient;
}

/** Signs `login` in (agent with ATTACK_UA) and connects a fresh Render key. */
export async function tenantWithKey(stack: Stack, login: string): Promise<Tenant> {
  const apiKey = `rnd_${login.replace(/[^A-Za-z0-9]/g, '')}${'Q'.repeat(24)}`;
  const account = stack.render.addAccount({ apiKey, workspaces: [{ name: `${login} workspace` }] });
  const agent = stack.agent({ 'user-agent': ATTACK_UA });
  await stack.signIn(agent, login);
  const res = await agent.post('/api/render/setup', { api_key: apiKey });
  if (res.status !== 200) throw new Error(`key setup for ${login}: ${res.status} ${res.text}`);
  const session = await agent.get('/api/session');
  return {
    login, agent, apiKey, accountId: account.id, ownerId: res.json.owners[0].id, userId: session.json.user.id,
    render: createRenderClient({ baseUrl: stack.render.url, apiKey }),
  };
}

/** A service in the tenant's Render workspace (created on "Render", as the user might have done) and its live deploy. */
export async function serviceWithLiveDeploy(tn: Tenant, name: string): Promise<{ serviceId: string; deployId: string }> {
  const { service } = await tn.render.createService({
    type: 'web_service', name, ownerId: tn.ownerId, repo: `https://github.com/${tn.login}/${name}`, branch: 'main', autoDeploy: 'yes',
    serviceDetails: { runtime: 'node', plan: 'starter', region: 'oregon', envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'npm start' } },
  });
  if (!service) throw new Error('createService: no service');
  for (let i = 0; i < 300; i++) {
    const live = (await tn.render.listDeploys(service.id)).find((d) => d.status === 'live');
    if (live) return { serviceId: service.id, deployId: live.id };
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no deploy of ${name} went live`);
}

/**
 * A deploy a rollback may name: the service's live deploy, made an earlier one by a second deploy made live on
 * Render. Returns its id, `deactivated` now (a rollback to the one live now is refused: server/routes/services.ts).
 */
export async function supersededDeploy(render: Pick<RenderClient, 'listDeploys' | 'triggerDeploy'>, serviceId: string): Promise<string> {
  const liveOtherThan = async (id?: string) => {
    for (let i = 0; i < 500; i++) {
      const live = (await render.listDeploys(serviceId)).find((d) => d.status === 'live');
      if (live && live.id !== id) return live.id;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no ${id ? 'second ' : ''}deploy of ${serviceId} went live`);
  };
  const earlier = await liveOtherThan();
  await render.triggerDeploy(serviceId);
  await liveOtherThan(earlier);
  return earlier;
}

/** A private Node repo of the tenant in the GitHub simulator. */
export function addPrivateRepo(stack: Stack, owner: string, name: string) {
  stack.github.addRepo({
    owner, name, private: true,
    branches: { main: { 'package.json': JSON.stringify({ name, scripts: { start: 'node index.js' } }), 'package-lock.json': '{}', 'index.js': '' } },
  });
}

/**
 * A tenant with something to attack: a private repo, a Render service with two deploys that went live
 * (`deployId` the earlier, deactivated one: a rollback's target), and a deployment record (queued unless a
 * worker runs). Returns the tenant's ids.
 */
export async function withResources(stack: Stack, tn: Tenant, name = `${tn.login}-app`): Promise<TenantIds> {
  addPrivateRepo(stack, tn.login, name);
  const live = await serviceWithLiveDeploy(tn, `${name}-web`);
  // The deploy a rollback may name: one that went live before the one live now (which the route refuses).
  const svc = { ...live, deployId: await supersededDeploy(tn.render, live.serviceId) };
  const dep = await tn.agent.post('/api/render/deploy', { github_repo: `${tn.login}/${name}`, project_name: name });
  if (dep.status !== 202) throw new Error(`deploy for ${tn.login}: ${dep.status} ${dep.text}`);
  const findingId = await plantFinding(stack, tn.userId, svc.serviceId);
  return { deploymentId: dep.json.id, ...svc, repoOwner: tn.login, repoName: name, ownerId: tn.ownerId, apiKey: tn.apiKey, findingId, ...await plantSettings(tn, svc.serviceId) };
}

/** An env var, a secret file and a custom domain on the tenant's service, set on "Render" as the user might have. */
export async function plantSettings(tn: Pick<Tenant, 'render'>, serviceId: string): Promise<Pick<TenantIds, 'envVarKey' | 'secretFileName' | 'customDomainId'>> {
  await tn.render.putEnvVar(serviceId, 'ATTACK_SUITE_KEY', 'attack-suite-env-value');
  await tn.render.putSecretFile(serviceId, 'attack-suite.pem', 'attack-suite-file-content');
  const [domain] = await tn.render.addCustomDomain(serviceId, `${serviceId}.example.org`);
  return { envVarKey: 'ATTACK_SUITE_KEY', secretFileName: 'attack-suite.pem', customDomainId: domain!.id };
}

/** A Sentinel finding in the tenant's store (what a watch round would have written, written here without a watch), so its id can be probed. */
export async function plantFinding(stack: Stack, userId: number, serviceId: string): Promise<string> {
  const { deps } = stack.web;
  const keys = sentinelKeys(deps.config.redisPrefix);
  const at = new Date().toISOString();
  const id = findingId(String(userId), 'attack-suite', serviceId);
  const finding: Finding = { id, kind: 'service_event', rule: 'server_failed', severity: 'high', title: 'Instance failed', ownerId: null, serviceId, count: 1, firstAt: at, lastAt: at };
  await deps.redis.multi().hset(keys.findings(userId), id, JSON.stringify(finding)).zadd(keys.order(userId), Date.parse(at), id).exec();
  return id;
}
