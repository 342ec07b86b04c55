import { ApiError, forbidden, notFound } from './errors.js';
import type { AccountRec, ServiceRec, SimState, WorkspaceRec } from './state.js';

/**
 * Tenancy: a key sees only its account's workspaces (a scoped key only the first). Anything
 * outside the account is a 404, exactly as for an id that does not exist; a workspace of the
 * account that a scoped key is not allowed into is a 403 (docs/render-api.md §3).
 */

export function visibleOwnerIds(account: AccountRec): string[] {
  return account.scoped ? account.workspaceIds.slice(0, 1) : [...account.workspaceIds];
}

function canSeeOwner(account: AccountRec, ownerId: string): boolean {
  return visibleOwnerIds(account).includes(ownerId);
}

/** Throws 404/403 unless the key may use this workspace. */
export function requireOwner(state: SimState, account: AccountRec, ownerId: string): WorkspaceRec {
  const ws = state.workspaces.get(ownerId);
  if (!ws || !account.workspaceIds.includes(ownerId)) throw notFound(ownerId);
  if (!canSeeOwner(account, ownerId)) throw forbidden();
  return ws;
}

export function requireService(state: SimState, account: AccountRec, serviceId: string): ServiceRec {
  const svc = state.services.get(serviceId);
  if (!svc || !account.workspaceIds.includes(svc.ownerId)) throw notFound(serviceId);
  if (!canSeeOwner(account, svc.ownerId)) throw forbidden();
  return svc;
}

/** Resolves an owner id for POST bodies, where the spec offers 400 rather than 404. */
export function requireOwnerForCreate(state: SimState, account: AccountRec, ownerId: string): WorkspaceRec {
  try {
    return requireOwner(state, account, ownerId);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) throw new ApiError(400, `invalid ownerId: ${ownerId}`);
    throw err;
  }
}
