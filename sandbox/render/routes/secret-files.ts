import { badRequest } from '../errors.js';
import { objectBody, type RouteDef } from '../router.js';
import { nextSeq, type SecretFileRec, type ServiceRec } from '../state.js';
import { assertSpec, serviceRoute, type RouteDeps } from './deps.js';
import { itemAudit, namedItemRoutes, type NamedItems } from './named-items.js';

const PUT_ONE = '/paths/~1services~1{serviceId}~1secret-files~1{secretFileName}/put/requestBody/content/application~1json/schema';

const files = (svc: ServiceRec) => (svc.secretFiles ??= []);

const SECRET_FILES: NamedItems<SecretFileRec> = {
  path: 'secret-files', param: 'secretFileName', auditKey: 'name', listKey: 'secretFile',
  viewEvent: 'ViewSecretFilesEvent', deleteEvent: 'DeleteSecretFilesEvent',
  nameOf: (f) => f.name, items: files, setItems: (svc, items) => { svc.secretFiles = items; },
  present: (f) => ({ name: f.name, content: f.content }),
};

/**
 * Service secret files (docs/render-api.md §7: "the same shape" as env vars): list, and per-name
 * retrieve / add-or-update / delete. Reading contents is audited like env var values. None deploys.
 */
export function secretFileRoutes(deps: RouteDeps): RouteDef[] {
  const { state, clock, recorder, spec } = deps;
  const audit = itemAudit(recorder, 'secret_files');

  return [
    ...namedItemRoutes(deps, SECRET_FILES),
    serviceRoute(state, 'PUT', '/services/{serviceId}/secret-files/{secretFileName}', (svc, ctx) => {
      const name = ctx.params.secretFileName ?? '';
      const body = objectBody(ctx);
      assertSpec(spec.checkPointer(PUT_ONE, body));
      if (typeof body.content !== 'string') throw badRequest('content is required');
      const existing = files(svc).find((f) => f.name === name);
      if (existing) existing.content = body.content;
      else files(svc).push({ seq: nextSeq(state), name, content: body.content });
      svc.updatedUs = clock.nowUs();
      audit(svc, ctx.account, existing ? 'UpdateSecretFilesEvent' : 'CreateSecretFilesEvent', { name });
      // The spec answers 201 here (env vars answer 200).
      return { status: 201, body: { name, content: body.content } };
    }),
  ];
}
