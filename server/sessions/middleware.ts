import type Koa from 'koa';
import type { Clock } from '../clock.js';
import type { CookieKeys } from '../crypto/cookieKeys.js';
import type { AppSession } from './types.js';
import type { LoadedForRequest, SessionStore } from './store.js';
import { fieldsChanged, newSessionId, RequestSession, type SessionControl } from './requestSession.js';

export const SESSION_COOKIE_SECURE = '__Host-sid';
export const SESSION_COOKIE_PLAIN = 'sid';

declare module 'koa' {
  interface ExtendableContext {
    /** The request's session (server/sessions/middleware.ts); null once destroyed (`ctx.session = null`). */
    session: RequestSession | null;
  }
}

const STATE = Symbol('session state');
const PRELOADED = Symbol('preloaded session');
type WithState = Koa.Context & { [STATE]?: SessionState; [PRELOADED]?: { sid: string; found: LoadedForRequest } };

/**
 * The bearer middleware has just loaded the token session this request runs on (to know it lives):
 * the session middleware takes it instead of loading it a second time (a cache lookup and a wait for
 * one event-loop turn), when the request runs on that same id.
 */
export function preloadSession(ctx: Koa.Context, sid: string, found: LoadedForRequest): void {
  (ctx as WithState)[PRELOADED] = { sid, found };
}

/**
 * The session middleware, over the Redis store only: there is no code path that keeps session data in
 * the cookie. The cookie holds a random 256-bit id, signed (HMAC-SHA256 with the current or previous
 * key from SECRET_KEY: crypto/cookieKeys.ts), HttpOnly, SameSite=Lax (not Strict: the OAuth callback
 * is a cross-site top-level navigation), Secure with HTTPS_ONLY; a browser-session cookie (no
 * Expires), as expiry is enforced by the store. A bearer request (server/bearer/) names its token
 * session in `ctx.state.bearerSid` and never gets a cookie.
 *
 * Per request: one signature check, one lookup (the store's cache answers a signed-in browser without
 * Redis), and no serialisation to find out whether to save: a loaded session is written back (one
 * compare-and-set) only when a top-level field was set or deleted, a new one only when it has fields.
 * Replaces koa-session, which hashed the whole session twice per request to decide (bench/README.md).
 *
 * Pitfalls: change a session by assigning (or deleting) a top-level field of `ctx.session`; nested
 * objects of a loaded session are frozen (a cached record is shared by requests), so mutating one
 * throws. grant's OAuth state is the one nested object compared by value. `ctx.session = null`
 * destroys the session when the request ends and leaves `ctx.session` null for the rest of it. A new
 * session on a bearer request is never saved. The package `koa-session` is no longer imported.
 */
export function sessionMiddleware(app: Koa, opts: { store: SessionStore; secure: boolean; touch?: { clock: Clock; everyMs: number } }): Koa.Middleware {
  if (!opts.store) throw new Error('refusing to start: sessions need the Redis store');
  const keys = app.keys as unknown as CookieKeys;
  if (typeof keys?.index !== 'function') throw new Error('refusing to start: app.keys must be crypto/cookieKeys.ts signing keys');
  const name = opts.secure ? SESSION_COOKIE_SECURE : SESSION_COOKIE_PLAIN;
  const config: SessionConfig = {
    store: opts.store, keys, name,
    cookie: { httpOnly: true, secure: opts.secure, sameSite: 'lax', signed: true, overwrite: true, path: '/' },
  };
  Object.defineProperty(app.context, 'session', {
    get(this: WithState) { return this[STATE]?.session ?? null; },
    set(this: WithState, value: AppSession | null) {
      const state = this[STATE];
      if (!state) throw new Error('ctx.session is set only behind the session middleware');
      state.replace(value);
    },
    configurable: true,
  });
  return async (ctx, next) => {
    const state = new SessionState(ctx, config);
    (ctx as WithState)[STATE] = state;
    await state.load();
    if (opts.touch) touchSession(ctx, opts.touch.clock, opts.touch.everyMs);
    try {
      await next();
    } finally {
      // Most requests change nothing: no await for them (a commit's promise is one more step per request).
      if (state.mayWrite()) await state.commit();
    }
  };
}

interface SessionConfig {
  store: SessionStore;
  keys: CookieKeys;
  name: string;
  cookie: { httpOnly: true; secure: boolean; sameSite: 'lax'; signed: true; overwrite: true; path: '/' };
}

/** One request's session: which id it runs on, the version it loaded, and what to write at the end. */
class SessionState implements SessionControl {
  session: RequestSession | null = null;
  /** The id this request runs on; undefined until a new session needs one. */
  private sid: string | undefined;
  /** The version loaded (or last written): set when a record exists under `sid`. */
  private version: string | undefined;
  /** The fields as loaded or last written, to tell whether anything changed. */
  private saved: Readonly<AppSession> = {};
  /** grant's OAuth state is a nested object grant may change in place: compared by its JSON. */
  private savedGrant: string | undefined;
  private destroyRequested = false;
  private readonly bearerSid: string | undefined;
  private readonly ctx: Koa.Context;
  private readonly config: SessionConfig;

  constructor(ctx: Koa.Context, config: SessionConfig) {
    this.ctx = ctx;
    this.config = config;
    this.bearerSid = bearerSessionId(ctx);
  }

  async load(): Promise<void> {
    const sid = this.bearerSid ?? this.cookieSessionId();
    const preloaded = (this.ctx as WithState)[PRELOADED];
    const found = !sid ? undefined : preloaded?.sid === sid ? preloaded.found : await this.config.store.load(sid);
    // A token session is never reachable through a cookie, nor a cookie session through a token.
    if (found && Boolean(this.bearerSid) === Boolean(found.sess.bearer)) {
      this.sid = sid;
      this.version = found.version;
      this.remember(found.sess);
      this.session = new RequestSession(this, found.sess);
    } else {
      this.session = new RequestSession(this);
    }
  }

  sessionId(): string {
    return (this.sid ??= newSessionId());
  }

  async regenerate(session: RequestSession): Promise<void> {
    if (this.version !== undefined && this.sid) await this.config.store.destroy(this.sid);
    this.sid = newSessionId();
    this.version = undefined;
    this.session = session;
    this.destroyRequested = false;
    await this.saveNew(session);
  }

  replace(value: AppSession | null): void {
    if (value === null) { this.session = null; this.destroyRequested = true; return; }
    this.session = new RequestSession(this, value instanceof RequestSession ? value.toJSON() : value);
    this.destroyRequested = false;
  }

  /** Whether commit() has anything to do: a destroy, a new session, or a changed field. */
  mayWrite(): boolean {
    return this.destroyRequested || !this.session || this.version === undefined || this.changed(this.session);
  }

  async commit(): Promise<void> {
    const { session } = this;
    if (this.destroyRequested || !session) {
      if (this.version !== undefined && this.sid) await this.config.store.destroy(this.sid);
      this.version = undefined;
      if (!this.bearerSid) this.setCookie('');
      return;
    }
    if (this.version === undefined) { await this.saveNew(session); return; }
    if (!this.changed(session)) return;
    const next = await this.config.store.save(this.sid!, this.version, session.toJSON());
    // Null: the record moved on (ended, expired or written by another request); this write is dropped.
    if (next !== null) { this.version = next; this.remember(session.toJSON()); }
  }

  /** A session that has no record yet is created when it has fields; never on a bearer request (no cookie to carry it). */
  private async saveNew(session: RequestSession): Promise<void> {
    const fields = session.toJSON();
    if (this.bearerSid || Object.keys(fields).length === 0) return;
    // Credentials are never copied into a new session from memory: only the credential calls set them.
    delete fields.render;
    const sid = this.sessionId();
    if (!(await this.config.store.create(sid, fields))) return;
    this.version = '1';
    this.remember(fields);
    this.setCookie(sid);
  }

  /**
   * HTTPS_ONLY declares the public origin https. Without TRUST_PROXY Koa cannot see that (this server
   * speaks plain http behind the TLS proxy), and the cookies package refuses a Secure cookie it thinks
   * goes over http: every sign-in and sign-out was a 500. The operator's declaration stands.
   */
  private setCookie(value: string): void {
    const jar = this.ctx.cookies;
    if (this.config.cookie.secure) jar.secure = true;
    jar.set(this.config.name, value, this.config.cookie);
  }

  private remember(fields: Readonly<AppSession>): void {
    this.saved = fields;
    this.savedGrant = fields.grant === undefined ? undefined : JSON.stringify(fields.grant);
  }

  private changed(session: RequestSession): boolean {
    if (fieldsChanged(this.saved, session)) return true;
    return this.savedGrant !== undefined && JSON.stringify(session.grant) !== this.savedGrant;
  }

  /** The signed cookie's session id, or undefined (absent, or the signature does not match either key). */
  private cookieSessionId(): string | undefined {
    const header = this.ctx.req.headers.cookie;
    if (!header) return undefined;
    const { name, keys } = this.config;
    const sid = cookieValue(header, name);
    const signature = sid === undefined ? undefined : cookieValue(header, `${name}.sig`);
    if (!sid || !signature) return undefined;
    const index = keys.index(`${name}=${sid}`, signature);
    if (index < 0) return undefined;
    // Signed with the previous key (a SECRET_KEY rotation): signed again with the current one.
    if (index > 0) this.setCookie(sid);
    return sid;
  }
}

/**
 * A cookie's value from a Cookie header, as the `cookies` package reads it: the first `name=` at the
 * start or after a `;` and spaces, up to the next `;`, surrounding double quotes removed.
 */
function cookieValue(header: string, name: string): string | undefined {
  const needle = `${name}=`;
  for (let at = header.indexOf(needle); at >= 0; at = header.indexOf(needle, at + 1)) {
    let before = at - 1;
    while (before >= 0 && header.charCodeAt(before) === 0x20) before--;
    if (before >= 0 && header.charCodeAt(before) !== 0x3b) continue;
    const end = header.indexOf(';', at);
    const value = header.slice(at + needle.length, end < 0 ? header.length : end);
    return value.charCodeAt(0) === 0x22 ? value.slice(1, -1) : value;
  }
  return undefined;
}

/** The token session this request runs on (set by the bearer middleware), or undefined for cookie requests. */
export function bearerSessionId(ctx: Koa.Context): string | undefined {
  const sid: unknown = ctx.state.bearerSid;
  return typeof sid === 'string' ? sid : undefined;
}

/** Typed access to the session (an empty one when the request has none). */
export function getSession(ctx: Koa.Context): AppSession {
  return ctx.session ?? {};
}

/**
 * `X-Background: 1` on a GET or HEAD: the page read on its own (a timer, a poll, a stream event, a retry),
 * not because a person did something (web/assets/api.js decides). It only means "not activity": the read
 * does not slide the idle window, so it neither keeps an unattended tab signed in nor writes the session.
 * It skips no check: the session is still loaded and refused once expired (store.load), and every layer
 * after this one runs as for any request. Other methods are always activity, whatever they carry.
 */
export const BACKGROUND_HEADER = 'x-background';

/**
 * Whether this request leaves the idle window where it is. Besides reads marked as above, a cookie
 * session's live stream (GET /api/events, which EventSource opens and reopens by itself: a dropped
 * connection, the page's retry every 30 s while it polls) cannot carry a header; a person's own page
 * load or navigation reads /api/session or the page's data beside it, which count. A bearer client's
 * requests count as they always did unless it marks them itself.
 */
function notActivity(ctx: Koa.Context): boolean {
  if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return false;
  if (ctx.get(BACKGROUND_HEADER) === '1') return true;
  return ctx.path === '/api/events' && bearerSessionId(ctx) === undefined;
}

/**
 * Slide the idle window: update lastSeenAt at most once per `touchMs` so an active user stays signed
 * in without a Redis write on every request. Run by the session middleware right after the load (a
 * layer of its own cost an async step per request). A request that is not activity (notActivity) leaves
 * lastSeenAt alone: reads a tab makes unattended slid the window like use, so a tab left on a page that
 * reads on a timer (the service page every 20 s, the dashboard every 60 s, a polling page every 3 s)
 * was never signed out at its idle deadline.
 */
function touchSession(ctx: Koa.Context, clock: Clock, touchMs: number): void {
  const s = ctx.session;
  if (s?.user) {
    ctx.state.userId = s.user.id;
    if (notActivity(ctx)) return;
    const now = clock.now();
    if (typeof s.lastSeenAt !== 'number' || now - s.lastSeenAt >= touchMs) s.lastSeenAt = now;
  }
}
