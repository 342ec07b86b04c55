import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash, timingSafeEqual } from 'node:crypto';
import { base62, type SimState } from './state.js';
import { parseFields, readBody, sendText } from './http.js';

export interface OAuthConfig {
  clientId: string;
  clientSecret: string;
  now: () => number;
}

const CODE_TTL_MS = 10 * 60_000;
const TROUBLESHOOT = 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors';

/** GET /login/oauth/authorize: approves (or denies) at once and redirects back like GitHub does. */
export function handleAuthorize(state: SimState, cfg: OAuthConfig, url: URL, res: ServerResponse): { login?: string } {
  const q = url.searchParams;
  if (q.get('client_id') !== cfg.clientId) {
    sendText(res, 404, '<!DOCTYPE html><title>Page not found · GitHub</title><h1>404</h1><p>This is not the web page you are looking for.</p>');
    return {};
  }
  const redirectUri = q.get('redirect_uri');
  let target: URL;
  try {
    if (!redirectUri) throw new Error('missing');
    target = new URL(redirectUri);
    if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new Error('scheme');
  } catch {
    // GitHub would fall back to the app's registered callback; the simulator has none.
    sendText(res, 400, '<!DOCTYPE html><title>Redirect URI mismatch</title><p>The redirect_uri is missing or not a valid http(s) URL.</p>');
    return {};
  }
  const stateParam = q.get('state');
  const redirectWith = (params: Record<string, string>) => {
    for (const [k, v] of Object.entries(params)) target.searchParams.set(k, v);
    // state is echoed byte for byte, whatever it contains.
    if (stateParam !== null) target.searchParams.set('state', stateParam);
    res.writeHead(302, { location: target.toString(), 'content-type': 'text/html; charset=utf-8' });
    res.end();
  };

  const challenge = q.get('code_challenge') ?? undefined;
  const method = q.get('code_challenge_method') ?? (challenge ? 'S256' : undefined);
  if (challenge && method !== 'S256') {
    redirectWith({ error: 'invalid_request', error_description: 'code_challenge_method must be S256' });
    return {};
  }

  const chosen = q.get('login') ?? state.approvingLogin();
  const user = chosen ? state.user(chosen) : undefined;
  if (!user) {
    redirectWith({
      error: 'access_denied',
      error_description: 'The user has denied your application access.',
      error_uri: 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#access-denied',
    });
    return {};
  }
  const code = base62(20);
  state.codes.set(code, {
    login: user.login,
    clientId: cfg.clientId,
    redirectUri: redirectUri ?? undefined,
    scope: normaliseScope(q.get('scope') ?? ''),
    expiresAt: cfg.now() + CODE_TTL_MS,
    codeChallenge: challenge,
    codeChallengeMethod: method,
  });
  redirectWith({ code });
  return { login: user.login };
}

/** POST /login/oauth/access_token: errors come back as 200 with an `error` field, as on GitHub. */
export async function handleAccessToken(state: SimState, cfg: OAuthConfig, req: IncomingMessage, url: URL, res: ServerResponse): Promise<{ login?: string }> {
  const body = await readBody(req);
  if (body === null) {
    sendText(res, 413, 'Payload Too Large', 'text/plain; charset=utf-8');
    return {};
  }
  const fields = { ...Object.fromEntries(url.searchParams), ...parseFields(body, req.headers['content-type']) };
  const wantsJson = (req.headers.accept ?? '').includes('json');
  const reply = (payload: Record<string, string>) => {
    if (wantsJson) {
      const text = JSON.stringify(payload);
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
      res.end(text);
    } else {
      const text = new URLSearchParams(payload).toString();
      res.writeHead(200, { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
      res.end(text);
    }
  };

  if (fields.client_id !== cfg.clientId || !safeEqual(fields.client_secret ?? '', cfg.clientSecret)) {
    reply({
      error: 'incorrect_client_credentials',
      error_description: 'The client_id and/or client_secret passed are incorrect.',
      error_uri: `${TROUBLESHOOT}/#incorrect-client-credentials`,
    });
    return {};
  }
  const badCode = () => reply({
    error: 'bad_verification_code',
    error_description: 'The code passed is incorrect or expired.',
    error_uri: `${TROUBLESHOOT}/#bad-verification-code`,
  });
  const code = fields.code ? state.codes.get(fields.code) : undefined;
  // Single use: any attempt that names a real code burns it.
  if (fields.code) state.codes.delete(fields.code);
  if (!code || code.clientId !== fields.client_id || code.expiresAt <= cfg.now()) {
    badCode();
    return {};
  }
  if (fields.redirect_uri && code.redirectUri && fields.redirect_uri !== code.redirectUri) {
    reply({
      error: 'redirect_uri_mismatch',
      error_description: 'The redirect_uri MUST match the registered callback URL for this application.',
      error_uri: `${TROUBLESHOOT}/#redirect-uri-mismatch2`,
    });
    return {};
  }
  if (code.codeChallenge) {
    // GitHub does not document a distinct PKCE error; a failed verifier is reported as a bad code.
    const verifier = fields.code_verifier ?? '';
    const computed = createHash('sha256').update(verifier).digest('base64url');
    if (!verifier || !safeEqual(computed, code.codeChallenge)) {
      badCode();
      return {};
    }
  }
  const token = state.issueToken(code.login, code.scope, cfg.now());
  reply({ access_token: token, token_type: 'bearer', scope: code.scope });
  return { login: code.login };
}

/** GitHub answers with the granted scopes comma-separated. */
function normaliseScope(raw: string): string {
  return raw.split(/[\s,]+/).filter(Boolean).join(',');
}

function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}
