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
   * A workspace's env groups and the services linked to each, without values: one page of up to
   * ENV_GROUPS_PAGE (Render answers bare items, with no cursor to page on).
   */
  listEnvGroups(ownerId: string): Promise<EnvGroupMeta[]>;
  /** One env group with its values (Render records the read in the workspace's audit log). */
  getEnvGroup(envGroupId: string): Promise<EnvGroup>;
}

/** Env groups read a workspace: Render's largest page; the list has no cursor (docs/render-api.md §7). */
export const ENV_GROUPS_PAGE = 100;

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
      const request: RenderRequest = { method: 'GET', route: '/env-groups', query: new QueryBuilder().set('ownerId', ownerId).set('limit', ENV_GROUPS_PAGE) };
      const { raw, body } = await calls.json(request);
      if (!Array.isArray(body) || !body.every((g) => isObject(g) && typeof g.id === 'string' && Array.isArray(g.serviceLinks))) {
        throw unexpectedShape(raw, request, 'an array of env groups {id, serviceLinks}');
      }
      return body as EnvGroupMeta[];
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
