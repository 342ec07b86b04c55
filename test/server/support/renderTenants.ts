import type { Stack } from '../../helpers/stack.js';
import type { Agent } from '../../helpers/agent.js';
import { createRenderClient, type RenderClient, type Service } from '../../../server/render/client.js';
import type { PresentedService } from '../../../server/presenters/service.js';
import type { SimAccount } from '../../../sandbox/render/index.js';

// Signed-in users with their own Render key, and services made straight on the simulator (not through
// the orchestrator), for the services list tests.

export interface Tenant { agent: Agent; account: SimAccount; apiKey: string; render: RenderClient }

export async function tenant(stack: Stack, name: string): Promise<Tenant> {
  const apiKey = `rnd_${name.replace(/[^a-z0-9]/g, '').padEnd(24, 'x')}`;
  const account = stack.render.addAccount({ apiKey });
  const agent = stack.agent();
  await stack.signIn(agent, name);
  const setup = await agent.post('/api/render/setup', { api_key: apiKey });
  if (setup.status !== 200) throw new Error(`setup: ${setup.status} ${setup.text}`);
  return { agent, account, apiKey, render: createRenderClient({ baseUrl: stack.render.url, apiKey }) };
}

export async function createService(tn: Tenant, name: string, type: 'web_service' | 'cron_job' = 'web_service'): Promise<Service> {
  const serviceDetails = type === 'cron_job'
    ? { runtime: 'node' as const, schedule: '*/5 * * * *', envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'node job.js' } }
    : { runtime: 'node' as const, plan: 'starter' as const, region: 'oregon' as const, envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'npm start' } };
  const { service } = await tn.render.createService({ type, name, ownerId: tn.account.ownerId, repo: `https://github.com/acme/${name}`, branch: 'main', autoDeploy: 'yes', serviceDetails });
  if (!service) throw new Error('createService: no service in the answer');
  return service;
}

/** Render list calls (GET /services) the tenant's key made. */
export const listCalls = (stack: Stack, tn: Tenant) => stack.render.calls.filter((c) => c.method === 'GET' && c.route === '/services' && c.accountId === tn.account.id).length;
export const names = (res: { json: { services: PresentedService[] } }) => res.json.services.map((s) => s.name).sort();
