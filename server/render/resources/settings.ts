// A service's settings kept one entry at a time: env vars, secret files, custom domains. Each is a
// collection under the service with the same list / get / put / delete shape, built once here.
import type { components } from '../schema.js';
import { isObject, serviceRoute, type RenderCalls } from '../calls.js';
import { unexpectedShape, type RenderRequest } from '../transport.js';
import { QueryBuilder } from '../query.js';
import type { CustomDomain, EnvGroup, EnvGroupMeta, EnvVar, RenderRoute, SecretFile } from '../types.js';

export type EnvVarValueInput = string | { generateValue: true };

export interface SettingsApi {
  listEnvVars(serviceId: string): Promise<EnvVar[]>;
  /** Adds or updates one variable; never the replace-all PUT (docs/render-api.md §7). */
  putEnvVar(serviceId: string, key: string, value: EnvVarValueInput): Promise<EnvVar>;
  /** One variable with its value (Render records the read in the workspace's audit log). */
  getEnvVar(serviceId: string, key: string): Promise<EnvVar>;
  deleteEnvVar(serviceId: string, key: string): Promise<void>;
  listSecretFiles(serviceId: string): Promise<SecretFile[]>;
  getSecretFile(serviceId: string, name: string): Promise<SecretFile>;
  /** Adds or updates one file; never the replace-all PUT. */
  putSecretFile(serviceId: string, name: string, content: string): Promise<SecretFile>;
  deleteSecretFile(serviceId: string, name: string): Promise<void>;
  listCustomDomains(serviceId: string): Promise<CustomDomain[]>;
  /** 201 with every entry created (an apex name also gets its www entry). */
  addCustomDomain(serviceId: string, name: string): Promise<CustomDomain[]>;
  getCustomDomain(serviceId: string, idOrName: string): Promise<CustomDomain>;
  deleteCustomDomain(serviceId: string, idOrName: string): Promise<void>;
  /** 202: Render re-checks the domain's DNS; read the domain again for the outcome. */
  verifyCustomDomain(serviceId: string, idOrName: string): Promise<void>;
  /**
   * A workspace's env groups and the services linked to each, without values. Render answers bare items
   * with no cursor: a full page is followed by the groups created before its oldest (`createdBefore`),
   * up to ENV_GROUP_PAGES pages; past them, EnvGroupsTooMany (a caller redacting with them fails closed).
   */
  listEnvGroups(ownerId: string): Promise<EnvGroupMeta[]>;
  /** One env group with its values (Render records the read in the workspace's audit log). */
  getEnvGroup(envGroupId: string): Promise<EnvGroup>;
}

/** Env groups read a page: Render's largest; the list has no cursor (docs/render-api.md §7). */
export const ENV_GROUPS_PAGE = 100;
/** Pages of env groups read at most (1,000 groups a workspace). */
export const ENV_GROUP_PAGES = 10;

/** A workspace with more env groups than ENV_GROUP_PAGES pages hold: the list read is not complete. */
export class EnvGroupsTooMany extends Error {
  constructor() {
    super(`more than ${ENV_GROUPS_PAGE * ENV_GROUP_PAGES} env groups in the workspace`);
    this.name = 'EnvGroupsTooMany';
  }
}

/**
 * One listed env group, read leniently: an item Render wraps as `{envGroup, cursor}` (as its other
 * lists are) is unwrapped, a group without `serviceLinks` links nothing; an item without an id is no
 * group. One odd item must not fail every log read of the workspace.
 */
function listedEnvGroup(item: unknown): EnvGroupMeta | null {
  const group = isObject(item) && isObject(item.envGroup) ? item.envGroup : item;
  if (!isObject(group) || typeof group.id !== 'string') return null;
  const links = Array.isArray(group.serviceLinks) ? group.serviceLinks.filter((l): l is { id: string; name: string; type: 'web' } => isObject(l) && typeof l.id === 'string') : [];
  return { ...(group as unknown as EnvGroupMeta), serviceLinks: links };
}

/** One collection: its list route, its entry route, the entry's path parameter and the list's wrapper key. */
interface Collection {
  list: RenderRoute; entry: RenderRoute; param: string; wrapper: string;
  /** What one entry must hold (a 200 with anything else is a bad_response), and how that shape is named. */
  shape: { what: string; check(body: Record<string, unknown>): boolean };
}

/** Fields that must be text in an entry Render returns (its name and, for a reveal, its value). */
const textFields = (...names: string[]) => (body: Record<string, unknown>) => names.every((n) => typeof body[n] === 'string');

function collection<T>(calls: RenderCalls, c: Collection) {
  const entry = (method: RenderRequest['method'], serviceId: string, id: string) => serviceRoute(method, c.entry, serviceId, { [c.param]: id });
  return {
    list: (serviceId: string) => calls.listAll<T>(serviceRoute('GET', c.list, serviceId), c.wrapper),
    // Shaped: a reveal answers with what Render sent, so an item without its value (or a value that is
    // not text) must not leave as a 200 (test/server/serviceSettingsOddAnswers.test.ts).
    get: (serviceId: string, id: string) => calls.shaped<T>(entry('GET', serviceId, id), c.shape.what, c.shape.check),
    put: (serviceId: string, id: string, json: unknown) => calls.object<T>({ ...entry('PUT', serviceId, id), json }),
    async remove(serviceId: string, id: string): Promise<void> {
      await calls.send(entry('DELETE', serviceId, id));
    },
    entry,
  };
}

export function settingsApi(calls: RenderCalls): SettingsApi {
  const envVars = collection<EnvVar>(calls, { list: '/services/{serviceId}/env-vars', entry: '/services/{serviceId}/env-vars/{envVarKey}', param: 'envVarKey', wrapper: 'envVar', shape: { what: 'an env var {key, value}', check: textFields('key', 'value') } });
  const secretFiles = collection<SecretFile>(calls, { list: '/services/{serviceId}/secret-files', entry: '/services/{serviceId}/secret-files/{secretFileName}', param: 'secretFileName', wrapper: 'secretFile', shape: { what: 'a secret file {name, content}', check: textFields('name', 'content') } });
  const domains = collection<CustomDomain>(calls, {
    list: '/services/{serviceId}/custom-domains', entry: '/services/{serviceId}/custom-domains/{customDomainIdOrName}', param: 'customDomainIdOrName', wrapper: 'customDomain',
    shape: { what: 'a custom domain {id, name}', check: textFields('id', 'name') },
  });
  return {
    listEnvVars: envVars.list,
    putEnvVar(serviceId, key, value) {
      const body: components['schemas']['addUpdateEnvVarInput'] = typeof value === 'string' ? { value } : { generateValue: true };
      return envVars.put(serviceId, key, body);
    },
    getEnvVar: envVars.get,
    deleteEnvVar: envVars.remove,
    listSecretFiles: secretFiles.list,
    getSecretFile: secretFiles.get,
    putSecretFile: (serviceId, name, content) => secretFiles.put(serviceId, name, { content }),
    deleteSecretFile: secretFiles.remove,
    listCustomDomains: domains.list,
    async addCustomDomain(serviceId, name) {
      const request: RenderRequest = { ...serviceRoute('POST', '/services/{serviceId}/custom-domains', serviceId), json: { name } };
      const { raw, body } = await calls.json(request);
      if (!Array.isArray(body) || !body.every(isObject)) throw unexpectedShape(raw, request, 'an array of custom domains');
      return body as CustomDomain[];
    },
    getCustomDomain: domains.get,
    deleteCustomDomain: domains.remove,
    async listEnvGroups(ownerId) {
      const byId = new Map<string, EnvGroupMeta>();
      let before: string | undefined;
      for (let page = 0; page < ENV_GROUP_PAGES; page += 1) {
        const request: RenderRequest = { method: 'GET', route: '/env-groups', query: new QueryBuilder().set('ownerId', ownerId).set('createdBefore', before).set('limit', ENV_GROUPS_PAGE) };
        const { raw, body } = await calls.json(request);
        if (!Array.isArray(body)) throw unexpectedShape(raw, request, 'an array of env groups');
        const groups = body.map(listedEnvGroup).filter((g): g is EnvGroupMeta => g !== null);
        for (const g of groups) byId.set(g.id, g);
        if (body.length < ENV_GROUPS_PAGE) return [...byId.values()];
        // The oldest on a full page: the next page is what was created before it. Groups created at that
        // same instant are not asked again; a page that names nothing older ends the read as incomplete.
        // Compared to the microsecond Render writes: Date.parse keeps milliseconds, and of groups made within one (a
        // Blueprint sync) it took the newest as the oldest, each page went back by one group, and 150 groups read as
        // more than the 1,000 this reads (found by a probe of paging at scale).
        const oldest = groups.map((g) => g.createdAt).filter((at) => typeof at === 'string' && !Number.isNaN(Date.parse(at))).sort((a, b) => microsOf(a) - microsOf(b))[0];
        if (!oldest || oldest === before) break;
        before = oldest;
      }
      throw new EnvGroupsTooMany();
    },
    getEnvGroup: (envGroupId) => calls.shaped<EnvGroup>(
      { method: 'GET', route: '/env-groups/{envGroupId}', pathParams: { envGroupId }, envGroupId },
      'an env group {envVars, secretFiles}', (g) => Array.isArray(g.envVars) && Array.isArray(g.secretFiles),
    ),
    async verifyCustomDomain(serviceId, idOrName) {
      await calls.send({ ...domains.entry('POST', serviceId, idOrName), route: '/services/{serviceId}/custom-domains/{customDomainIdOrName}/verify' });
    },
  };
}

/** An ISO time as microseconds since the epoch: Date.parse's milliseconds, and the fraction's 4th to 6th digits. */
function microsOf(at: string): number {
  const fraction = /\.(\d+)/.exec(at)?.[1] ?? '';
  return Date.parse(at) * 1000 + Number(fraction.slice(3, 6).padEnd(3, '0'));
}
