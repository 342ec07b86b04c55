import { randomBytes } from 'node:crypto';
import type { AppSession, SessionRenderCredentials, SessionUser } from './types.js';

/** A new session id: 256 random bits. */
export const newSessionId = () => randomBytes(32).toString('base64url');

/** What the session middleware does for `ctx.session` (server/sessions/middleware.ts). */
export interface SessionControl {
  /** The session id (created on first use for a session that does not exist yet). */
  sessionId(): string;
  /** Destroy the current id and save the session under a new one (sign-in: session fixation). */
  regenerate(session: RequestSession): Promise<void>;
}

/**
 * `ctx.session`: the session's fields as own properties (AppSession), and what koa-session's Session
 * offered that our routes use: `externalKey`, `regenerate()`, `toJSON()`. The middleware saves it when
 * a top-level field was set or deleted (nested objects of a loaded session are frozen), or when
 * grant's OAuth state changed; `ctx.session = null` destroys it.
 */
export class RequestSession implements AppSession {
  declare createdAt?: number;
  declare lastSeenAt?: number;
  declare user?: SessionUser;
  declare githubTokenSealed?: string;
  declare csrfToken?: string;
  declare clientHash?: string;
  declare render?: SessionRenderCredentials;
  declare bearer?: true;
  declare ephemeral?: true;
  declare grant?: unknown;
  readonly #control: SessionControl;

  constructor(control: SessionControl, fields?: Readonly<AppSession>) {
    this.#control = control;
    if (fields) Object.assign(this, fields);
  }

  /**
   * The session id (koa-session's name for it). Always a string here; typed as koa-session typed it,
   * so the routes' `as string` stays meaningful until they take the ref from a typed context (issue 16).
   */
  get externalKey(): string | undefined { return this.#control.sessionId(); }

  regenerate(): Promise<void> { return this.#control.regenerate(this); }

  /** The fields, as a plain object. */
  toJSON(): AppSession {
    return { ...this };
  }
}

/** Whether a top-level field of `current` was set, replaced or deleted since `loaded`. */
export function fieldsChanged(loaded: Readonly<AppSession>, current: AppSession): boolean {
  let count = 0;
  for (const key in current) {
    count++;
    if (current[key as keyof AppSession] !== loaded[key as keyof AppSession]) return true;
  }
  for (const _key in loaded) count--;
  return count !== 0;
}
