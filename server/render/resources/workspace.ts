// The key's workspaces: which it can use, their audit logs, and Blueprint validation in one of them.
import type { DatedPage } from '../pagination.js';
import { QueryBuilder } from '../query.js';
import type { RenderCalls } from '../calls.js';
import type { AuditLog, BlueprintValidation, LogDirection, Owner } from '../types.js';

export interface ListAuditLogsParams {
  cursor?: string | null;
  /** Page size, 1–1000 (default 20). */
  limit?: number | null;
  startTime?: string | Date | null;
  endTime?: string | Date | null;
  direction?: LogDirection | null;
}

export interface WorkspaceApi {
  /** Every workspace the key can see (also the cheapest key check: docs/render-api.md §3). */
  listOwners(): Promise<Owner[]>;
  validateBlueprint(ownerId: string, yamlText: string): Promise<BlueprintValidation>;
  /** One page, with Render's clock at the answer (its Date header). */
  listAuditLogs(ownerId: string, params?: ListAuditLogsParams): Promise<DatedPage<AuditLog>>;
}

const AUDIT_LOG_MAX_PAGE = 1000;

export function workspaceApi(calls: RenderCalls): WorkspaceApi {
  return {
    listOwners: () => calls.listAll<Owner>({ method: 'GET', route: '/owners' }, 'owner'),

    async validateBlueprint(ownerId, yamlText) {
      if (!ownerId) throw new TypeError('Render client: ownerId must be a non-empty id');
      const form = new FormData();
      form.append('ownerId', ownerId);
      form.append('file', new Blob([yamlText], { type: 'application/yaml' }), 'render.yaml');
      return calls.shaped<BlueprintValidation>({ method: 'POST', route: '/blueprints/validate', form }, 'a validation result', (body) => typeof body.valid === 'boolean');
    },

    listAuditLogs(ownerId, params = {}) {
      const query = new QueryBuilder().set('startTime', params.startTime).set('endTime', params.endTime).set('direction', params.direction);
      return calls.datedCursorPage<AuditLog>({ method: 'GET', route: '/owners/{ownerId}/audit-logs', pathParams: { ownerId }, query }, 'auditLog', params, AUDIT_LOG_MAX_PAGE);
    },
  };
}
