import { notFound } from '../errors.js';
import { paginate } from '../pagination.js';
import type { RouteDef } from '../router.js';
import type { AccountRec, ServiceRec } from '../state.js';
import { serviceRoute, type RouteDeps } from './deps.js';

/**
 * A service's named items that Render serves alike (docs/render-api.md §7: secret files take "the
 * same shape" as env vars): the list, one item by name and its deletion here; each module keeps its
 * own writes (their bodies and answers differ). Reading values is audited (docs/render-api.md §10).
 */
export interface NamedItems<T extends { seq: number }> {
  /** Path segment and audit field: 'env-vars' → /services/{serviceId}/env-vars, field env_vars. */
  path: string;
  /** The route's param for one item, and the audit metadata key for its name. */
  param: string;
  auditKey: string;
  /** Wrapper of each list entry: { envVar: … }. */
  listKey: string;
  /** Event names: values read, one deleted. */
  viewEvent: string;
  deleteEvent: string;
  nameOf(item: T): string;
  items(svc: ServiceRec): T[];
  setItems(svc: ServiceRec, items: T[]): void;
  present(item: T): object;
}

/** Records an audit event about one service's items (what Render's audit log shows for them). */
export function itemAudit(recorder: RouteDeps['recorder'], field: string) {
  return (svc: ServiceRec, account: AccountRec, event: string, extra: Record<string, string> = {}) =>
    recorder.audit({ ownerId: svc.ownerId, event, actor: account, metadata: { service: svc.id, field, ...extra } });
}

export function namedItemRoutes<T extends { seq: number }>({ state, clock, recorder }: RouteDeps, kind: NamedItems<T>): RouteDef[] {
  const audit = itemAudit(recorder, kind.path.replaceAll('-', '_'));
  const collection = `/services/{serviceId}/${kind.path}`;
  const one = `${collection}/{${kind.param}}`;
  return [
    serviceRoute(state, 'GET', collection, (svc, { account, query }) => {
      const page = paginate(kind.items(svc), query, kind.listKey, kind.present, { order: 'asc' });
      audit(svc, account, kind.viewEvent);
      return { status: 200, body: page };
    }),
    serviceRoute(state, 'GET', one, (svc, { account, params }) => {
      const name = params[kind.param] ?? '';
      const item = kind.items(svc).find((i) => kind.nameOf(i) === name);
      if (!item) throw notFound(name);
      audit(svc, account, kind.viewEvent, { [kind.auditKey]: name });
      return { status: 200, body: kind.present(item) };
    }),
    serviceRoute(state, 'DELETE', one, (svc, { account, params }) => {
      const name = params[kind.param] ?? '';
      const kept = kind.items(svc).filter((i) => kind.nameOf(i) !== name);
      if (kept.length === kind.items(svc).length) throw notFound(name);
      kind.setItems(svc, kept);
      svc.updatedUs = clock.nowUs();
      audit(svc, account, kind.deleteEvent, { [kind.auditKey]: name });
      return { status: 204 };
    }),
  ];
}
