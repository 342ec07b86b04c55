import { randomBytes } from 'node:crypto';
import type { createSessionStore } from '../../server/sessions/store.js';

/** A signed-in session of user `userId` written through `store` (a fresh id, made now); its id. */
export async function storedSession(store: ReturnType<typeof createSessionStore>, userId: number): Promise<string> {
  const sid = randomBytes(32).toString('base64url');
  const now = Date.now();
  if (!(await store.create(sid, { createdAt: now, lastSeenAt: now, user: { id: userId, login: `u${userId}`, name: null, avatarUrl: '' } }))) throw new Error('session not created');
  return sid;
}
