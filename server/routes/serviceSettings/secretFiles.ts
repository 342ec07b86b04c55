import type Router from '@koa/router';
import { z } from 'zod';
import { hasLoneSurrogate } from '../../deployments/input.js';
import type { settingsScope } from './scope.js';
import { keyedItemRoutes } from './keyedItems.js';
import { SecretFileDeletedView, SecretFileNamesView, SecretFileSetView, SecretFileView } from './views.js';

/** A file name under /etc/secrets: letters, digits, dot, dash and underscore; not "." or "..". */
const SECRET_FILE_NAME = /^(?!\.\.?$)[A-Za-z0-9._-]{1,255}$/;
const NAME_RULE = 'File names are letters, digits, dots, dashes and underscores (at most 255), and not "." or "..".';
/** Under the 64 KB body limit, so an oversized file is a field error rather than "body too large". */
const SECRET_FILE_MAX_BYTES = 48 * 1024;

const SecretFileBody = z.object({
  content: z.string().refine((v) => Buffer.byteLength(v, 'utf8') <= SECRET_FILE_MAX_BYTES, 'This file is larger than 48 KB, the most this page can send.')
    .refine((v) => !hasLoneSurrogate(v), 'This file holds half of a UTF-16 surrogate pair, which has no UTF-8 form; paste the contents again.'),
  _csrf: z.string().optional(),
}).strict();

/**
 * Secret files (mounted at /etc/secrets/<name> on Render), managed like env vars: names listed,
 * contents only on a reveal, one file at a time, applied at the next deploy.
 */
export function secretFileRoutes(router: Router, scope: ReturnType<typeof settingsScope>) {
  keyedItemRoutes(router, scope, {
    path: '/api/render/services/:id/secret-files', param: 'name', rule: SECRET_FILE_NAME, ruleText: NAME_RULE,
    noun: 'the file', notFound: 'Secret file', body: SecretFileBody, bodyField: 'content',
    actions: { reveal: 'secret_file_reveal', set: 'secret_file_set', remove: 'secret_file_delete' },
    docs: {
      list: { summary: 'A service\'s secret file names (never contents)', responses: { 200: SecretFileNamesView } },
      reveal: { summary: 'Reveal one secret file\'s content', responses: { 200: SecretFileView } },
      set: { summary: 'Set one secret file (mounted at /etc/secrets/<name>); applies at the next deploy', responses: { 200: SecretFileSetView } },
      remove: { summary: 'Remove one secret file; applies at the next deploy', responses: { 200: SecretFileDeletedView } },
    },
    async list(client, serviceId) {
      const files = await client.listSecretFiles(serviceId);
      return { secretFiles: files.map((f) => ({ name: f.name })).sort((a, b) => a.name.localeCompare(b.name)) } satisfies z.infer<typeof SecretFileNamesView>;
    },
    async reveal(client, serviceId, name) {
      const file = await client.getSecretFile(serviceId, name);
      return { name: file.name, content: file.content } satisfies z.infer<typeof SecretFileView>;
    },
    current: async (client, serviceId, name) => (await client.listSecretFiles(serviceId)).find((f) => f.name === name)?.content ?? null,
    put: (client, serviceId, name, body) => client.putSecretFile(serviceId, name, body.content),
    remove: (client, serviceId, name) => client.deleteSecretFile(serviceId, name),
  });
}
