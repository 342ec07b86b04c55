// Small response bodies shaped like Render's real ones (docs/render-api.md §5.2, §6.2 and recorded real exchanges),
// typed by the generated spec types so the compiler and the contract server both check them.
import type { components } from '../../../server/render/schema.js';
import type { LogsResponse } from '../../../server/render/types.js';

type Schemas = components['schemas'];

export const OWNER_ID = 'tea-ct6vmjtj0q5s700ckea0';
export const SERVICE_ID = 'srv-ct6vmjtj0q5s700ckeb0';
export const DEPLOY_ID = 'dep-ct6vmk5j0q5s700ckeeg';
const STAMP = '2024-12-02T18:24:16.047704Z';

export function owner(n = 0): Schemas['owner'] {
  return { id: n === 0 ? OWNER_ID : `tea-${String(n).padStart(20, '0')}`, name: `Team ${n}`, email: `team${n}@example.com`, type: 'team' };
}

export function user(): Schemas['user'] {
  return { name: 'Ada Lovelace', email: 'ada@example.com' };
}

export function service(n = 0, overrides: Partial<Schemas['service']> = {}): Schemas['service'] {
  const id = n === 0 ? SERVICE_ID : `srv-${String(n).padStart(20, '0')}`;
  const slug = `my-app-${n}`;
  return {
    id,
    name: slug,
    ownerId: OWNER_ID,
    type: 'web_service',
    repo: 'https://github.com/render-examples/express-hello-world',
    branch: 'main',
    autoDeploy: 'yes',
    createdAt: STAMP,
    updatedAt: STAMP,
    dashboardUrl: `https://dashboard.render.com/web/${id}`,
    suspended: 'not_suspended',
    suspenders: [],
    notifyOnFail: 'default',
    slug,
    rootDir: '',
    serviceDetails: {
      buildPlan: 'starter',
      env: 'node',
      runtime: 'node',
      envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'npm start' },
      healthCheckPath: '',
      numInstances: 1,
      openPorts: [{ port: 10000, protocol: 'TCP' }],
      plan: 'starter',
      region: 'oregon',
      url: `https://${slug}.onrender.com`,
    },
    ...overrides,
  };
}

export function deploy(n = 0, overrides: Partial<Schemas['deploy']> = {}): Schemas['deploy'] {
  return {
    id: n === 0 ? DEPLOY_ID : `dep-${String(n).padStart(20, '0')}`,
    commit: { id: 'a1b2c3d4e5f6', message: 'Initial commit', createdAt: STAMP },
    status: 'build_in_progress',
    trigger: 'api',
    createdAt: STAMP,
    updatedAt: STAMP,
    ...overrides,
  };
}

export function envVar(key: string, value: string): Schemas['envVar'] {
  return { key, value };
}

export function auditLog(n: number): Schemas['auditLog'] {
  return {
    id: `aud-${n}`,
    timestamp: STAMP,
    event: 'ViewEnvVarValuesEvent',
    status: 'success',
    actor: { type: 'rest_api', id: 'usr-ct6vmjtj0q5s700ckec0' },
    metadata: { service: SERVICE_ID, field: 'env_vars' },
  };
}

export function logsPage(ids: string[], hasMore: boolean, next: { start: string; end: string }): LogsResponse {
  return {
    hasMore,
    nextStartTime: next.start,
    nextEndTime: next.end,
    logs: ids.map((id) => ({
      id,
      message: `log line ${id}`,
      timestamp: STAMP,
      labels: [
        { name: 'resource', value: SERVICE_ID },
        { name: 'type', value: 'build' },
      ],
    })),
  };
}

/** `[{<key>: item, cursor}]` as Render returns lists (docs/render-api.md §4). */
export function wrap<K extends string, T>(key: K, items: T[], cursorPrefix = 'c'): Array<Record<K, T> & { cursor: string }> {
  return items.map((item, i) => ({ [key]: item, cursor: `${cursorPrefix}${i}` }) as Record<K, T> & { cursor: string });
}
