import type Router from '@koa/router';
import { z } from 'zod';
import type { AppDeps } from '../../deps.js';
import { errors } from '../../errors.js';
import { ENV_VALUE_MAX_BYTES } from '../../deployments/input.js';
import { pathParam, validate } from '../../middleware/validate.js';
import { plainRender, type settingsScope } from './scope.js';
import { documented } from '../../openapi/describe.js';
import { EnvVarDeletedView, EnvVarNamesView, EnvVarSetView, EnvVarValueView } from './views.js';

/** Render's env var names as the deploy form takes them: letters, digits and _, not starting with a digit. */
export const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const KEY_RULE = 'Variable names are letters, digits and _, not starting with a digit (at most 128 characters).';

const utf8Bytes = (v: string) => Buffer.byteLength(v, 'utf8');
const EnvVarBody = z.object({
  value: z.string().refine((v) => utf8Bytes(v) <= ENV_VALUE_MAX_BYTES, 'This value is larger than 16 KB, the most a variable can hold here.').optional(),
  generate_value: z.literal(true, 'generate_value can only be true (Render then makes a random 256-bit value)').optional(),
  _csrf: z.string().optional(),
}).strict().refine((b) => (b.value === undefined) !== (b.generate_value === undefined), { message: 'Give either a value or generate_value: true.', path: ['value'] });

/** These routes take no query: an unexpected parameter is refused before Render is asked (and the read audited). */
export const NoQuery = z.object({}).strict();

/** A malformed name in the path is a field error on `key`, before any Render call. */
const keyParam = () => pathParam('key', ENV_KEY, () => errors.validation(KEY_RULE, { field: 'key' }));

/**
 * A service's env vars, one key at a time through Render's per-key endpoints (never the replace-all
 * PUT, which deletes every key not sent). Lists show names only; a value leaves only on a reveal,
 * which Render records in the workspace's audit log (ViewEnvVarValuesEvent). Changes apply at the
 * next deploy: Render does not redeploy for them.
 */
export function envVarRoutes(router: Router, deps: AppDeps, scope: ReturnType<typeof settingsScope>) {
  const base = '/api/render/services/:id/env-vars';

  router.get(base, documented({ summary: 'A service\'s env var names (never values)', tag: 'service-settings', responses: { 200: EnvVarNamesView } }), ...scope.read, validate({ query: NoQuery }), scope.ownService, async (ctx) => {
    const { caller, service } = ctx.state.own;
    const vars = await caller.client.listEnvVars(service.id);
    ctx.body = { envVars: vars.map((v) => ({ key: v.key })).sort((a, b) => a.key.localeCompare(b.key)) };
  });

  router.get(`${base}/:key`, documented({ summary: 'Reveal one env var\'s value (audited by Render)', tag: 'service-settings', responses: { 200: EnvVarValueView } }), ...scope.read, keyParam(), validate({ query: NoQuery }), scope.ownService, async (ctx) => {
    const { caller, service } = ctx.state.own;
    const key = String(ctx.params.key);
    const v = await plainRender('the variable', 'key', () => caller.client.getEnvVar(service.id, key), { notFound: 'Environment variable' });
    await scope.changed(ctx, 'env_var_reveal');
    ctx.body = { key: v.key, value: v.value };
  });

  router.put(`${base}/:key`, documented({ summary: 'Set one env var (a value, or generate_value: true); applies at the next deploy', tag: 'service-settings', responses: { 200: EnvVarSetView }, errors: ['render_rejected', 'render_payment_required', 'render_conflict'] }), ...scope.write(), keyParam(), validate({ body: EnvVarBody }, { messages: 'as-written' }), scope.ownService, async (ctx) => {
    const { caller, service } = ctx.state.own;
    const key = String(ctx.params.key);
    const body = ctx.input.body;
    const input = body.value !== undefined ? body.value : { generateValue: true as const };
    await plainRender(`the variable ${key}`, 'value', () => caller.client.putEnvVar(service.id, key, input));
    await scope.changed(ctx, 'env_var_set');
    ctx.body = { key, redeployToApply: true };
  });

  router.delete(`${base}/:key`, documented({ summary: 'Remove one env var; applies at the next deploy', tag: 'service-settings', responses: { 200: EnvVarDeletedView } }), ...scope.write(), keyParam(), scope.ownService, async (ctx) => {
    const { caller, service } = ctx.state.own;
    const key = String(ctx.params.key);
    await plainRender(`removing ${key}`, 'key', () => caller.client.deleteEnvVar(service.id, key), { notFound: 'Environment variable' });
    await scope.changed(ctx, 'env_var_delete');
    ctx.body = { key, deleted: true, redeployToApply: true };
  });
}
