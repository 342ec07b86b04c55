/**
 * The JSON API client. State-changing calls carry the session's CSRF token (X-CSRF-Token);
 * errors arrive as ApiError with the server's stable code and its human message.
 */

export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null, field = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
    /** The request field a validation error is about (e.g. env_vars.2.value), when the server names one. */
    this.field = field;
  }
}

const enc = encodeURIComponent;
/** The UI release this page was served as (server/routes/ui.ts names it in the page's head). */
const ownRelease = typeof document === 'undefined' ? null : document.querySelector('meta[name="ui-release"]')?.getAttribute('content') ?? null;
const OPENED_FROM_ADDRESS = Object.freeze({ 'x-opened-from': 'address' });

/**
 * How long after a person's input in the page (a click, a key, typing, a wheel or touch) or a navigation
 * (the page's load, a hash change) its reads count as their activity. Every other read is the page's own:
 * a timer (the service page's history every 20 s, the dashboard's cards every 60 s), a poll (live.js,
 * every 3 s without a stream), a stream event's or a reconnect's read again, a retry. Those carry
 * `X-Background: 1` and do not extend the session's idle timeout (server/sessions/middleware.ts): they
 * did, and a tab left on such a page was never signed out at its idle deadline. Decided here, for every
 * read, rather than by each caller: a timed read added later is not activity unless a person is there.
 * A person's own action reads within milliseconds of it; writes always count (the server ignores the
 * header on them), so it is never sent with one.
 */
const ACTIVE_MS = 10_000;
const INPUT_EVENTS = ['pointerdown', 'keydown', 'input', 'wheel', 'touchstart', 'hashchange'];
let lastActivity = Date.now();
let watchingActivity = false;
function watchActivity() {
  if (watchingActivity || typeof window === 'undefined') return;
  watchingActivity = true;
  // Only the browser's own events: one dispatched by a script is nobody's input.
  const note = (e) => { if (e.isTrusted) lastActivity = Date.now(); };
  for (const type of INPUT_EVENTS) window.addEventListener(type, note, { capture: true, passive: true });
}
/** Headers for a read made now: X-Background when nobody has used the page for ACTIVE_MS. */
const readHeaders = () => (Date.now() - lastActivity > ACTIVE_MS ? { 'x-background': '1' } : {});

/**
 * No answer of the server's: the connection failed, a proxy answered in its stead (a 502 or 504 page,
 * not our JSON error), or the same request is still being made. What was asked may have happened.
 */
export const noAnswer = (err) => err instanceof ApiError
  && (err.code === 'network_error' || err.code.startsWith('http_') || err.code === 'idempotency_in_progress');

/**
 * @param {{ onSignedOut?: (err: ApiError) => void, onBlocked?: (err: ApiError) => void, onKeyRejected?: (err: ApiError) => void, onNewRelease?: () => void }} hooks onSignedOut runs when a call answers 401
 *   (session ended, GitHub token revoked); onBlocked when one answers 429 account_temporarily_blocked; onKeyRejected
 *   when one answers render_key_invalid (Render refused the session's key: the server noted it on the session);
 *   onNewRelease when an answer comes from a server with another UI release than this page's (a deploy since it loaded).
 */
export function createApi(hooks = {}) {
  let csrfToken = null;
  /** Whose session the token is of: a retry is made only as that user. */
  let userId = null;

  watchActivity();

  async function raw(method, path, body, headers = {}) {
    const init = { method, credentials: 'same-origin', headers: { accept: 'application/json', ...headers } };
    if (method === 'GET') Object.assign(init.headers, readHeaders());
    else {
      init.headers['content-type'] = 'application/json';
      init.headers['x-csrf-token'] = csrfToken ?? '';
      init.body = JSON.stringify(body ?? {});
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch {
      throw new ApiError(0, 'network_error', 'Could not reach the server. Check your connection and try again.');
    }
    // The page runs the modules it loaded; a deploy since then may have changed them and the API they call.
    const theirs = res.headers.get('x-ui-release');
    if (ownRelease && theirs && theirs !== ownRelease) hooks.onNewRelease?.();
    const text = await res.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch { data = null; }
    }
    if (!res.ok) {
      const err = data && typeof data === 'object' && data.error ? data.error : {};
      const apiError = new ApiError(
        res.status,
        typeof err.code === 'string' ? err.code : `http_${res.status}`,
        typeof err.message === 'string' ? err.message : `The server answered ${res.status}.`,
        res.headers.get('retry-after'),
        typeof err.field === 'string' ? err.field : null,
      );
      // The anomaly detector blocked this account: every call says so until it lifts (banner).
      if (apiError.code === 'account_temporarily_blocked') hooks.onBlocked?.(apiError);
      // Render refused the session's key on this call (revoked on its side): the session now says so. Not a key
      // being connected, whose refusal is of the key pasted, not of the session's.
      if (apiError.code === 'render_key_invalid' && path !== '/api/render/setup') hooks.onKeyRejected?.(apiError);
      throw apiError;
    }
    return data;
  }

  async function request(method, path, body, headers) {
    try {
      return await raw(method, path, body, headers);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      // A stale token (e.g. after signing in again in another tab): fetch the current one and retry once.
      if (err.code === 'csrf_failed' && method !== 'GET') {
        const session = await raw('GET', '/api/session').catch(() => null);
        // Another user's session (signed in elsewhere in this browser): the page is of this one, and
        // its action is not redone as the other; the page's session is over.
        if (session?.csrfToken && userId !== null && session.user?.id !== userId) {
          const ended = new ApiError(401, 'unauthenticated', 'Your session has ended. Sign in again to continue.');
          hooks.onSignedOut?.(ended);
          throw ended;
        }
        if (session?.csrfToken) {
          csrfToken = session.csrfToken;
          return raw(method, path, body, headers);
        }
      }
      if (err.status === 401 && path !== '/api/session') hooks.onSignedOut?.(err);
      throw err;
    }
  }

  const get = (path, headers) => request('GET', path, undefined, headers);
  const post = (path, body, headers) => request('POST', path, body, headers);

  /**
   * Redeploys and rollbacks carry an Idempotency-Key per user action. When no answer came (the
   * connection dropped, a proxy timed out: the server may have started it) the same action asked again
   * goes with the same key, and opens that deployment rather than starting a second deploy on Render.
   * Any answer of the server's ends the action: the next click is a new one, with a new key. So does a
   * new session or Render key (forgetUnanswered): the same action asked again then is a new request, with
   * the new key; the unanswered one went out with the old key, which the change stopped.
   */
  const unansweredKeys = new Map();
  async function startDeployment(path, body) {
    const action = `${path} ${JSON.stringify(body ?? {})}`;
    const key = unansweredKeys.get(action) ?? crypto.randomUUID();
    unansweredKeys.set(action, key);
    try {
      const rec = await post(path, body, { 'idempotency-key': key });
      unansweredKeys.delete(action);
      return rec;
    } catch (err) {
      if (!noAnswer(err)) { unansweredKeys.delete(action); throw err; }
      if (err.code === 'idempotency_in_progress') throw err;
      throw new ApiError(err.status, err.code, 'No answer from the server: it may have started. Check your connection and press the button again: that opens it if it started, and never starts a second one.', err.retryAfter);
    }
  }
  const del = (path) => request('DELETE', path);
  const put = (path, body) => request('PUT', path, body);
  const patch = (path, body) => request('PATCH', path, body);
  const svc = (id) => `/api/render/services/${enc(id)}`;

  return {
    forgetUnanswered: () => unansweredKeys.clear(),
    setCsrfToken(token) { csrfToken = token; },
    meta: () => get('/api/meta'),
    /** The session, or null when signed out. */
    async session() {
      try {
        const s = await raw('GET', '/api/session');
        csrfToken = s.csrfToken;
        userId = s.user?.id ?? null;
        return s;
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) return null;
        throw err;
      }
    },
    logout: () => post('/api/auth/logout'),
    setupRenderKey: (apiKey) => post('/api/render/setup', { api_key: apiKey }),
    clearRenderKey: () => post('/api/render/clear-credentials'),
    refreshWorkspaces: () => post('/api/render/workspaces/refresh'),
    renderStatus: () => get('/api/render/status'),

    repos: ({ page = 1, perPage = 30, q = '' } = {}) =>
      get(`/api/github/repos?page=${page}&per_page=${perPage}${q ? `&q=${enc(q)}` : ''}`),
    branches: (owner, repo) => get(`/api/github/repos/${enc(owner)}/${enc(repo)}/branches`),
    detect: (owner, repo, branch) =>
      get(`/api/github/repos/${enc(owner)}/${enc(repo)}/detect${branch ? `?branch=${enc(branch)}` : ''}`),
    blueprintPlan: (owner, repo, branch, ownerId) => get(`/api/github/repos/${enc(owner)}/${enc(repo)}/blueprint?${new URLSearchParams({ ...(branch ? { branch } : {}), ...(ownerId ? { owner_id: ownerId } : {}) })}`),

    deploy: (body, idempotencyKey) => post('/api/render/deploy', body, idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
    myDeployments: ({ limit = 20, cursor = null } = {}) =>
      get(`/api/render/my-deployments?limit=${limit}${cursor ? `&cursor=${enc(cursor)}` : ''}`),
    // Reads of one deployment say they are the UI's (X-Opened-From): the id came from the page's address,
    // or is one of the user's own. A link to someone else's then is noted by the server, not reported as a
    // cross-tenant probe (server/security/probes.ts); the live stream says it with ?opened=address (live.js).
    deployment: (id) => get(`/api/render/deployments/${enc(id)}`, OPENED_FROM_ADDRESS),
    deploymentLogs: (id, { limit = 100, cursor = null } = {}) =>
      get(`/api/render/deployments/${enc(id)}/logs?limit=${limit}${cursor ? `&cursor=${enc(cursor)}` : ''}`, OPENED_FROM_ADDRESS),
    cancelDeployment: (id) => post(`/api/render/deployments/${enc(id)}/cancel`),

    services: () => get('/api/render/services'),
    serviceNameCheck: (name, ownerId) => get(`/api/render/services/name-check?name=${enc(name)}${ownerId ? `&owner_id=${enc(ownerId)}` : ''}`),
    serviceAction: (id, action, body) => (action === 'redeploy' || action === 'rollback' ? startDeployment : post)(`/api/render/services/${enc(id)}/${action}`, body),
    deleteService: (id) => del(`/api/render/services/${enc(id)}`),
    // The service settings page (view-service.js).
    serviceSettings: (id) => get(`${svc(id)}/settings`),
    patchServiceSettings: (id, body) => patch(`${svc(id)}/settings`, body),
    envVars: (id) => get(`${svc(id)}/env-vars`),
    revealEnvVar: (id, key) => get(`${svc(id)}/env-vars/${enc(key)}`),
    putEnvVar: (id, key, body) => put(`${svc(id)}/env-vars/${enc(key)}`, body),
    deleteEnvVar: (id, key) => del(`${svc(id)}/env-vars/${enc(key)}`),
    secretFiles: (id) => get(`${svc(id)}/secret-files`),
    revealSecretFile: (id, name) => get(`${svc(id)}/secret-files/${enc(name)}`),
    putSecretFile: (id, name, content) => put(`${svc(id)}/secret-files/${enc(name)}`, { content }),
    deleteSecretFile: (id, name) => del(`${svc(id)}/secret-files/${enc(name)}`),
    customDomains: (id) => get(`${svc(id)}/custom-domains`),
    addCustomDomain: (id, name) => post(`${svc(id)}/custom-domains`, { name }),
    verifyCustomDomain: (id, domainId) => post(`${svc(id)}/custom-domains/${enc(domainId)}/verify`),
    deleteCustomDomain: (id, domainId) => del(`${svc(id)}/custom-domains/${enc(domainId)}`),
    serviceDeploys: (id, cursor = null, limit = 20) => get(`${svc(id)}/deploys?limit=${limit}${cursor ? `&cursor=${enc(cursor)}` : ''}`),
    redeployService: (id, clearCache) => startDeployment(`${svc(id)}/deploys`, { clear_cache: Boolean(clearCache) }),

    sentinel: () => get('/api/sentinel'),
    putSentinel: (body) => put('/api/sentinel', body),
    sentinelFindings: () => get('/api/sentinel/findings?limit=100'),
    sentinelTestAlert: (body) => post('/api/sentinel/test-alert', body),

    audit: ({ limit = 50, cursor = null, until = null } = {}) =>
      get(`/api/audit?limit=${limit}${cursor ? `&cursor=${enc(cursor)}` : ''}${until ? `&until=${enc(until)}` : ''}`),
  };
}
