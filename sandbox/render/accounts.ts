import { newId } from './clock.js';
import { nextSeq, type SimState, type WorkspaceRec } from './state.js';
import type { SimAccount, SimAccountInput } from './types.js';

/**
 * Registers an account with its API key and workspaces. A personal ('user') workspace takes the
 * user's own id, as Render's personal owners did; team workspaces get `tea-` ids. A workspace id
 * that already exists is joined, so two accounts can share a team.
 */
export function addAccount(state: SimState, input: SimAccountInput): SimAccount {
  if (!input.apiKey) throw new Error('addAccount: apiKey is required');
  if (state.keys.has(input.apiKey)) throw new Error('addAccount: this API key is already registered');
  const userId = newId('usr');
  const user = input.user ?? { name: 'Sim User', email: `${userId}@example.com` };
  const wanted = input.workspaces?.length ? input.workspaces : [{ name: `${user.name}'s Workspace`, type: 'team' as const }];
  let personalTaken = false;
  const workspaces: WorkspaceRec[] = wanted.map((w) => {
    const existing = w.id ? state.workspaces.get(w.id) : undefined;
    if (existing) return existing;
    const type = w.type ?? 'team';
    let id = w.id;
    if (!id) {
      if (type === 'user' && !personalTaken) {
        id = userId;
        personalTaken = true;
      } else {
        id = newId(type === 'user' ? 'usr' : 'tea');
      }
    }
    const rec: WorkspaceRec = { seq: nextSeq(state), id, name: w.name, type, email: user.email };
    state.workspaces.set(id, rec);
    return rec;
  });
  state.accounts.set(userId, {
    id: userId,
    name: user.name,
    email: user.email,
    workspaceIds: workspaces.map((w) => w.id),
    scoped: input.scoped ?? false,
    hasPaymentInfo: input.hasPaymentInfo ?? true,
    auditLogs: input.auditLogs ?? true,
  });
  state.keys.set(input.apiKey, userId);
  return {
    id: userId,
    user: { id: userId, name: user.name, email: user.email },
    workspaces: workspaces.map((w) => ({ id: w.id, name: w.name, type: w.type })),
    ownerId: workspaces[0]?.id ?? '',
  };
}
