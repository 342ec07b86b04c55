import { createHash, randomUUID } from 'node:crypto';
import { newId, type SimClock } from './clock.js';
import { nextSeq, type AccountRec, type AuditRec, type EventRec, type LogRec, type SimState } from './state.js';

/** Appends log lines, audit entries and service events; shared by the deploy engine, the routes and the control surface. */
export interface Recorder {
  event(serviceId: string, type: string, details?: Record<string, unknown>): EventRec;
  log(entry: { resourceId: string; ownerId: string | null; message: string; type?: string; level?: string; instance?: string; us?: number }): LogRec;
  /** `actor` is the calling account (a REST API actor); `actorType` overrides the actor type (e.g. 'user' for Dashboard actions). */
  audit(entry: { ownerId: string; event: string; actor?: AccountRec | null; actorType?: AuditRec['actor']['type']; metadata?: Record<string, string>; status?: 'success' | 'error' }): AuditRec;
}

export function createRecorder(state: SimState, clock: SimClock): Recorder {
  return {
    event(serviceId, type, details = {}) {
      const rec: EventRec = { seq: nextSeq(state), id: newId('evt'), serviceId, us: clock.nowUs(), type, details };
      state.events.push(rec);
      return rec;
    },
    log({ resourceId, ownerId, message, type = 'app', level = 'info', instance, us }) {
      const labels: Record<string, string> = { resource: resourceId, type, level };
      if (instance) labels.instance = instance;
      const rec: LogRec = { seq: nextSeq(state), id: randomUUID(), resourceId, ownerId, us: us ?? clock.nowUs(), message, labels };
      state.logs.push(rec);
      return rec;
    },
    audit({ ownerId, event, actor, actorType, metadata = {}, status = 'success' }) {
      const rec: AuditRec = {
        seq: nextSeq(state),
        id: newId('aud'),
        ownerId,
        us: clock.nowUs(),
        event,
        status,
        actor: actor ? { type: actorType ?? 'rest_api', email: actor.email, id: actor.id } : { type: actorType ?? 'system' },
        metadata,
      };
      state.audit.push(rec);
      return rec;
    },
  };
}

/** A service's instance id (`srv-…-xxxxx`), stable per service so log filters by instance work. */
export function instanceOf(serviceId: string): string {
  return `${serviceId}-${createHash('sha1').update(serviceId).digest('hex').slice(0, 5)}`;
}
