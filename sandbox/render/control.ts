import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody, send } from './http.js';
import { isObject } from './router.js';
import type { AppendLogOptions, BuildFailureStatus, FaultRule, RenderSimulator, SimAccountInput } from './types.js';
import { withoutTrailingSlashes } from '../text.js';

/**
 * The control surface under /__control: the simulator's test hooks over HTTP (JSON, no auth;
 * loopback only), for tests and processes that did not start the simulator themselves.
 */
export function createControlHandler(sim: () => RenderSimulator) {
  return async function handleControl(req: IncomingMessage, res: ServerResponse, subPath: string): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const raw = await readBody(req);
    let body: Record<string, unknown> = {};
    if (raw && raw.length > 0) {
      try {
        const parsed: unknown = JSON.parse(raw.toString('utf8'));
        if (isObject(parsed)) body = parsed;
      } catch {
        send(res, 400, { message: 'invalid JSON body' });
        return;
      }
    }
    const s = sim();
    try {
      const route = `${method} ${withoutTrailingSlashes(subPath) || '/'}`;
      const advance = /^POST \/deploys\/([^/]+)\/advance$/.exec(route);
      if (advance) {
        s.advanceDeploy(decodeURIComponent(advance[1] ?? ''));
        send(res, 200, { ok: true });
        return;
      }
      switch (route) {
        case 'POST /accounts':
          send(res, 201, s.addAccount(body as unknown as SimAccountInput));
          return;
        case 'POST /keys/revoke':
          s.revokeKey(str(body.apiKey) ?? '');
          send(res, 204, undefined);
          return;
        case 'POST /faults':
          send(res, 201, { id: s.setFault(body as unknown as FaultRule) });
          return;
        case 'DELETE /faults':
          s.clearFaults();
          send(res, 204, undefined);
          return;
        case 'POST /builds/fail': {
          const match = isObject(body.match) ? body.match : body;
          s.failBuilds(
            { repo: str(match.repo), serviceId: str(match.serviceId), serviceName: str(match.serviceName) },
            (str(body.status) ?? 'build_failed') as BuildFailureStatus,
            typeof body.count === 'number' ? body.count : undefined,
          );
          send(res, 204, undefined);
          return;
        }
        case 'POST /logs': {
          // One line (`message`) or many (`messages`, e.g. a crash loop), in order.
          const messages = Array.isArray(body.messages) ? body.messages.map(String) : [str(body.message) ?? ''];
          for (const message of messages) {
            s.appendLog(str(body.resourceId) ?? '', message, { type: str(body.type) as AppendLogOptions['type'], level: str(body.level) });
          }
          send(res, 204, undefined);
          return;
        }
        case 'POST /audit':
          s.addAuditEvent(str(body.ownerId) ?? '', str(body.event) ?? '', isObject(body.metadata) ? (body.metadata as Record<string, string>) : undefined, {
            actorType: str(body.actorType) as 'user' | 'rest_api' | 'system' | undefined,
            status: str(body.status) as 'success' | 'error' | undefined,
          });
          send(res, 204, undefined);
          return;
        case 'POST /audit-access':
          s.setAuditLogAccess(str(body.apiKey) ?? '', body.allowed !== false);
          send(res, 204, undefined);
          return;
        case 'POST /events':
          s.addServiceEvent(str(body.serviceId) ?? '', str(body.type) ?? '', isObject(body.details) ? body.details : undefined);
          send(res, 204, undefined);
          return;
        case 'POST /dns':
          s.configureDns(str(body.name) ?? '');
          send(res, 204, undefined);
          return;
        case 'GET /calls':
          send(res, 200, s.calls);
          return;
        case 'GET /stats':
          send(res, 200, s.stats());
          return;
        case 'POST /reset':
          s.reset();
          send(res, 204, undefined);
          return;
        default:
          send(res, 404, { message: `no control route ${route}` });
      }
    } catch (err) {
      send(res, 400, { message: (err as Error).message });
    }
  };
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
