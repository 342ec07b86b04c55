import type { AppSession } from '../sessions/types.js';

/**
 * Whether the session that turned a user's watch on (`consenting`, loaded by the ref the settings name) still
 * consents to it: it lives, is that user's, and holds a key. Signed out, expired or its key cleared, the watch is
 * over: a round stops it (workers/tasks/sentinelTask.ts), and until then it reads as off and posts nothing.
 */
export const watchConsentHolds = (consenting: AppSession | null | undefined, userId: number): consenting is AppSession & Required<Pick<AppSession, 'user' | 'render'>> =>
  consenting?.user?.id === userId && Boolean(consenting.render);
