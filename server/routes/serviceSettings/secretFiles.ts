import type Router from '@koa/router';
import { z } from 'zod';
import type { AppDeps } from '../../deps.js';
import { errors } from '../../errors.js';
import { pathParam, validate } from '../../middleware/validate.js';
import { NoQuery } from './envVars.js';
import { plainRender, type settingsScope } from './scope.js';
import { documented } from '../../openapi/describe.js';
import { SecretFileDeletedView, SecretFileNamesView, SecretFileSetView, SecretFileView } from './views.js';

/** A file name under /etc/secrets: letters, digits, dot, dash and underscore; not "." or "..". */
export const SECRET_FILE_NAME = /^(?!\.\.?$)[A-Za-z0-9._-]{1,255}$/;
const NAME_RULE = 'File names are letters, digits, dots, dashes and underscores (at most 255), and not "." or "..".';
/** Under the 64 KB body limit, so an oversized file is a field error rather than "body too large". */
export const SECRET_FILE_MAX_BYTES = 48 * 1024;

const SecretFileBody = z.object({
  content: z.string().refine((v) => Buffer.byteLength(v, 'utf8') <= SECRET_FILE_MAX_BYTES, 'This file is larger than 48 KB, the most this page can send.'),
  _csrf: z.string().optional(),
}).strict();

const nameParam = () => pathParam('name', SECRET_FILE_NAME, () => errors.validation(NAME_RULE, { field: 'name' }));

/**
 * Secret files (mounted at /etc/secrets/<name> on Render), managed like env vars: names listed,
 * contents only on a reveal, one file at a time, applied at the next deploy.
 */
export function secretFileRoutes(router: Router, deps: AppDeps, scope: ReturnType<typeof settingsScope>) {
  const base = '/api/render/services/:id/secret-files';

  router.get(base, documented({ summary: 'A service\'s secret file names (never contents)', tag: 'service-settings', responses: { 200: SecretFileNamesView } }), ...scope.read, validate({ query: NoQuery }), scope.ownService, async (ctx) => {
    const { caller, service } = ctx.state.own;
    const files = await caller.client.listSecretFiles(service.id);
    ctx.body = { secretFiles: files.map((f) => ({ name: f.name })).sort((a, b) => a.name.localeCompare(b.name)) };
  });

  router.get(`${base}/:name`, documented({ summary: 'Reveal one secret file\'s content', tag: 'service-settings', responses: { 200: SecretFileView } }), ...scope.read, nameParam(), validate({ query: NoQuery }), scope.ownService, async (ctx) => {
    const { caller, service } = ctx.state.own;
    const file = await plainRender('the file', 'name', () => caller.client.getSecretFile(service.id, String(ctx.params.name)), { notFound: 'Secret file' });
    await scope.changed(ctx, 'secret_file_reveal');
    ctx.body = { name: file.name, content: file.content };
  });

  router.put(`${base}/:name`, documented({ summary: 'Set one secret file (mounted at /etc/secrets/<name>); applies at the next deploy', tag: 'service-settings', responses: { 200: SecretFileSetView }, errors: ['render_rejected', 'render_payment_required', 'render_conflict'] }), ...scope.write(), nameParam(), validate({ body: SecretFileBody }, { messages: 'as-written' }), scope.ownService, async (ctx) => {
    const { caller, service } = ctx.state.own;
    const name = String(ctx.params.name);
    const { content } = ctx.input.body;
    await plainRender(`the file ${name}`, 'content', () => caller.client.putSecretFile(service.id, name, content));
    await scope.changed(ctx, 'secret_file_set');
    ctx.body = { name, redeployToApply: true };
  });

  router.delete(`${base}/:name`, documented({ summary: 'Remove one secret file; applies at the next deploy', tag: 'service-settings', responses: { 200: SecretFileDeletedView } }), ...scope.write(), nameParam(), scope.ownService, async (ctx) => {
    const { caller, service } = ctx.state.own;
    const name = String(ctx.params.name);
    await plainRender(`removing ${name}`, 'name', () => caller.client.deleteSecretFile(service.id, name), { notFound: 'Secret file' });
    await scope.changed(ctx, 'secret_file_delete');
    ctx.body = { name, deleted: true, redeployToApply: true };
  });
}
