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
      const action = Object.hasOwn(CONTROL_ACTIONS, route) ? CONTROL_ACTIONS[route] : undefined;
      if (!action) {
        send(res, 404, { message: `no control route ${route}` });
        return;
      }
      const answer = action(s, body);
      if (answer) send(res, answer.status, answer.body);
      else send(res, 204, undefined);
    } catch (err) {
      send(res, 400, { message: (err as Error).message });
    }
  };
}

/** What a control route does; nothing returned is a 204. */
type ControlAction = (s: RenderSimulator, body: Record<string, unknown>) => { status: number; body: unknown } | void;

const CONTROL_ACTIONS: Record<string, ControlAction> = {
  'POST /accounts': (s, body) => ({ status: 201, body: s.addAccount(body as unknown as SimAccountInput) }),
  'POST /keys/revoke': (s, body) => { s.revokeKey(str(body.apiKey) ?? ''); },
  'POST /faults': (s, body) => ({ status: 201, body: { id: s.setFault(body as unknown as FaultRule) } }),
  'DELETE /faults': (s) => { s.clearFaults(); },
  'POST /builds/fail': (s, body) => {
    const match = isObject(body.match) ? body.match : body;
    s.failBuilds(
      { repo: str(match.repo), serviceId: str(match.serviceId), serviceName: str(match.serviceName) },
      (str(body.status) ?? 'build_failed') as BuildFailureStatus,
      typeof body.count === 'number' ? body.count : undefined,
    );
  },
  'POST /logs': (s, body) => {
    // One line (`message`) or many (`messages`, e.g. a crash loop), in order.
    const messages = Array.isArray(body.messages) ? body.messages.map(String) : [str(body.message) ?? ''];
    for (const message of messages) {
      s.appendLog(str(body.resourceId) ?? '', message, { type: str(body.type) as AppendLogOptions['type'], level: str(body.level) });
    }
  },
  'POST /audit': (s, body) => {
    s.addAuditEvent(str(body.ownerId) ?? '', str(body.event) ?? '', isObject(body.metadata) ? (body.metadata as Record<string, string>) : undefined, {
      actorType: str(body.actorType) as 'user' | 'rest_api' | 'system' | undefined,
      status: str(body.status) as 'success' | 'error' | undefined,
    });
  },
  'POST /audit-access': (s, body) => { s.setAuditLogAccess(str(body.apiKey) ?? '', body.allowed !== false); },
  'POST /events': (s, body) => { s.addServiceEvent(str(body.serviceId) ?? '', str(body.type) ?? '', isObject(body.details) ? body.details : undefined); },
  'POST /dns': (s, body) => { s.configureDns(str(body.name) ?? ''); },
  'GET /calls': (s) => ({ status: 200, body: s.calls }),
  'GET /stats': (s) => ({ status: 200, body: s.stats() }),
  'POST /reset': (s) => { s.reset(); },
};

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
