import { requireService } from '../access.js';
import { badRequest, notFound } from '../errors.js';
import { paginate } from '../pagination.js';
import { isObject, jsonBody, type RouteDef } from '../router.js';
import { nextSeq, type AccountRec, type SecretFileRec, type ServiceRec } from '../state.js';
import { assertSpec, type RouteDeps } from './deps.js';

const PUT_ONE = '/paths/~1services~1{serviceId}~1secret-files~1{secretFileName}/put/requestBody/content/application~1json/schema';

const present = (f: SecretFileRec) => ({ name: f.name, content: f.content });

/**
 * Service secret files (docs/render-api.md §7: "the same shape" as env vars): list, and per-name
 * retrieve / add-or-update / delete. Reading contents is audited like env var values. None deploys.
 */
export function secretFileRoutes({ state, clock, recorder, spec }: RouteDeps): RouteDef[] {
  const files = (svc: ServiceRec) => (svc.secretFiles ??= []);
  const audit = (svc: ServiceRec, account: AccountRec, event: string, extra: Record<string, string> = {}) =>
    recorder.audit({ ownerId: svc.ownerId, event, actor: account, metadata: { service: svc.id, field: 'secret_files', ...extra } });

  return [
    {
      method: 'GET',
      route: '/services/{serviceId}/secret-files',
      handler: ({ account, params, query }) => {
        const svc = requireService(state, account, params.serviceId ?? '');
        const page = paginate(files(svc), query, 'secretFile', present, { order: 'asc' });
        audit(svc, account, 'ViewSecretFilesEvent');
        return { status: 200, body: page };
      },
    },
    {
      method: 'GET',
      route: '/services/{serviceId}/secret-files/{secretFileName}',
      handler: ({ account, params }) => {
        const svc = requireService(state, account, params.serviceId ?? '');
        const file = files(svc).find((f) => f.name === params.secretFileName);
        if (!file) throw notFound(params.secretFileName ?? '');
        audit(svc, account, 'ViewSecretFilesEvent', { name: file.name });
        return { status: 200, body: present(file) };
      },
    },
    {
      method: 'PUT',
      route: '/services/{serviceId}/secret-files/{secretFileName}',
      handler: (ctx) => {
        const svc = requireService(state, ctx.account, ctx.params.serviceId ?? '');
        const name = ctx.params.secretFileName ?? '';
        const body = jsonBody(ctx);
        if (!isObject(body)) throw badRequest('request body must be a JSON object');
        assertSpec(spec.checkPointer(PUT_ONE, body));
        if (typeof body.content !== 'string') throw badRequest('content is required');
        const existing = files(svc).find((f) => f.name === name);
        if (existing) existing.content = body.content;
        else files(svc).push({ seq: nextSeq(state), name, content: body.content });
        svc.updatedUs = clock.nowUs();
        audit(svc, ctx.account, existing ? 'UpdateSecretFilesEvent' : 'CreateSecretFilesEvent', { name });
        // The spec answers 201 here (env vars answer 200).
        return { status: 201, body: { name, content: body.content } };
      },
    },
    {
      method: 'DELETE',
      route: '/services/{serviceId}/secret-files/{secretFileName}',
      handler: ({ account, params }) => {
        const svc = requireService(state, account, params.serviceId ?? '');
        const name = params.secretFileName ?? '';
        const before = files(svc).length;
        svc.secretFiles = files(svc).filter((f) => f.name !== name);
        if (svc.secretFiles.length === before) throw notFound(name);
        svc.updatedUs = clock.nowUs();
        audit(svc, account, 'DeleteSecretFilesEvent', { name });
        return { status: 204 };
      },
    },
  ];
}
