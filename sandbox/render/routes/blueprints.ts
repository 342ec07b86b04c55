import busboy from 'busboy';
import { requireOwnerForCreate } from '../access.js';
import { sharedBlueprintValidator } from '../blueprint-validator.js';
import { ApiError, badRequest } from '../errors.js';
import type { RequestContext, RouteDef } from '../router.js';
import type { RouteDeps } from './deps.js';

const MAX_FILE_BYTES = 10 * 1024 * 1024;

/** POST /blueprints/validate: multipart/form-data with `ownerId` and `file` (docs/render-api.md §14). */
export function blueprintRoutes({ state }: RouteDeps): RouteDef[] {
  const validator = sharedBlueprintValidator();
  return [
    {
      method: 'POST',
      route: '/blueprints/validate',
      handler: async (ctx) => {
        const { fields, file } = await parseMultipart(ctx);
        const ownerId = fields.get('ownerId');
        if (!ownerId) throw badRequest('ownerId is required');
        requireOwnerForCreate(state, ctx.account, ownerId);
        if (!file) throw badRequest('file is required');
        return { status: 200, body: await validator.validate(file.toString('utf8')) };
      },
    },
  ];
}

function parseMultipart(ctx: RequestContext): Promise<{ fields: Map<string, string>; file: Buffer | null }> {
  const contentType = ctx.headers['content-type'] ?? '';
  if (!/^multipart\/form-data/i.test(contentType)) {
    return Promise.reject(badRequest('request must be multipart/form-data with ownerId and file'));
  }
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: ctx.headers, limits: { fileSize: MAX_FILE_BYTES, files: 1, fields: 20 } });
    } catch (err) {
      reject(badRequest(`invalid multipart body: ${(err as Error).message}`));
      return;
    }
    const fields = new Map<string, string>();
    let file: Buffer | null = null;
    let tooLarge = false;
    bb.on('field', (name, value) => fields.set(name, value));
    bb.on('file', (name, stream) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('limit', () => { tooLarge = true; });
      stream.on('end', () => { if (name === 'file') file = Buffer.concat(chunks); });
    });
    bb.on('error', (err) => reject(badRequest(`invalid multipart body: ${(err as Error).message}`)));
    bb.on('close', () => (tooLarge ? reject(new ApiError(400, 'file is larger than 10 MB')) : resolve({ fields, file })));
    bb.end(ctx.rawBody);
  });
}
