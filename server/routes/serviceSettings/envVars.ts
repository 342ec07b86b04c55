import type Router from '@koa/router';
import { z } from 'zod';
import { ENV_KEY, envValue } from '../../deployments/input.js';
import type { settingsScope } from './scope.js';
import { keyedItemRoutes } from './keyedItems.js';
import { EnvVarDeletedView, EnvVarNamesView, EnvVarSetView, EnvVarValueView } from './views.js';

const KEY_RULE = 'Variable names are letters, digits and _, not starting with a digit (at most 128 characters).';

const EnvVarBody = z.object({
  value: envValue.optional(),
  generate_value: z.literal(true, 'generate_value can only be true (Render then makes a random 256-bit value)').optional(),
  _csrf: z.string().optional(),
}).strict().refine((b) => (b.value === undefined) !== (b.generate_value === undefined), { message: 'Give either a value or generate_value: true.', path: ['value'] });

/**
 * A service's env vars, one key at a time through Render's per-key endpoints (never the replace-all
 * PUT, which deletes every key not sent). Lists show names only; a value leaves only on a reveal,
 * which Render records in the workspace's audit log (ViewEnvVarValuesEvent). Changes apply at the
 * next deploy: Render does not redeploy for them.
 */
export function envVarRoutes(router: Router, scope: ReturnType<typeof settingsScope>) {
  keyedItemRoutes(router, scope, {
    path: '/api/render/services/:id/env-vars', param: 'key', rule: ENV_KEY, ruleText: KEY_RULE,
    noun: 'the variable', notFound: 'Environment variable', body: EnvVarBody, bodyField: 'value',
    actions: { reveal: 'env_var_reveal', set: 'env_var_set', remove: 'env_var_delete' },
    docs: {
      list: { summary: 'A service\'s env var names (never values)', responses: { 200: EnvVarNamesView } },
      reveal: { summary: 'Reveal one env var\'s value (audited by Render)', responses: { 200: EnvVarValueView } },
      set: { summary: 'Set one env var (a value, or generate_value: true); applies at the next deploy', responses: { 200: EnvVarSetView } },
      remove: { summary: 'Remove one env var; applies at the next deploy', responses: { 200: EnvVarDeletedView } },
    },
    async list(client, serviceId) {
      const vars = await client.listEnvVars(serviceId);
      return { envVars: vars.map((v) => ({ key: v.key })).sort((a, b) => a.key.localeCompare(b.key)) } satisfies z.infer<typeof EnvVarNamesView>;
    },
    async reveal(client, serviceId, key) {
      const v = await client.getEnvVar(serviceId, key);
      return { key: v.key, value: v.value } satisfies z.infer<typeof EnvVarValueView>;
    },
    // From the list, as the log pages read values.
    current: async (client, serviceId, key) => (await client.listEnvVars(serviceId)).find((v) => v.key === key)?.value ?? null,
    put: (client, serviceId, key, body) => client.putEnvVar(serviceId, key, body.value !== undefined ? body.value : { generateValue: true }),
    remove: (client, serviceId, key) => client.deleteEnvVar(serviceId, key),
  });
}
