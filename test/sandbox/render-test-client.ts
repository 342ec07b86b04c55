import type { ContractValidator } from './render-contract-validator.js';

/** A tiny fetch client for the simulator's /v1 API, used by the render-*.test.ts files. */

export interface ApiResponse {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed JSON, or undefined for an empty body. */
  body: any;
}

export interface RenderTestClient {
  /** `invalidRequest: true` marks a request that is meant to break the spec (the contract check then expects that). */
  call(method: string, pathAndQuery: string, body?: unknown, opts?: { key?: string | null; headers?: Record<string, string>; invalidRequest?: boolean }): Promise<ApiResponse>;
  get(pathAndQuery: string): Promise<ApiResponse>;
  /** Contract problems seen so far (only when created with a validator). */
  problems: string[];
}

/**
 * A request that met a kept-alive socket the simulator had just closed for idleness (its 5 s keep-alive
 * timeout; under load, fetch's own 4 s expiry fires late) never reached it: an idempotent one goes once more,
 * on a new socket, as the product's Render client does (server/render/adapter.ts). Seen in CI under load:
 * `TypeError: fetch failed` in render-contract.
 */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE']);
const SOCKET_GONE = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);
async function fetchOnce(url: string, init: RequestInit & { method: string }): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    const code = ((err as { cause?: { code?: string } }).cause)?.code;
    if (!IDEMPOTENT.has(init.method.toUpperCase()) || !code || !SOCKET_GONE.has(code)) throw err;
    return fetch(url, init);
  }
}

export function renderTestClient(baseUrl: string, apiKey: string, contract?: ContractValidator): RenderTestClient {
  const problems: string[] = [];
  const call: RenderTestClient['call'] = async (method, pathAndQuery, body, opts = {}) => {
    const key = opts.key === undefined ? apiKey : opts.key;
    const headers: Record<string, string> = { Accept: 'application/json', ...(opts.headers ?? {}) };
    if (key) headers.Authorization = `Bearer ${key}`;
    let payload: string | undefined;
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    if (contract) {
      const found = contract.checkRequest({ method, pathAndQuery, body, headers });
      if (opts.invalidRequest && found.length === 0) problems.push(`request ${method} ${pathAndQuery} was expected to break the spec`);
      if (!opts.invalidRequest) for (const p of found) problems.push(`request ${method} ${pathAndQuery}: ${p}`);
    }
    const res = await fetchOnce(`${baseUrl}${pathAndQuery}`, { method, headers, body: payload });
    const text = await res.text();
    if (contract) {
      const op = contract.operationId(method, pathAndQuery);
      if (!op) problems.push(`no spec operation for ${method} ${pathAndQuery}`);
      else for (const p of contract.checkResponse(op, res.status, text)) problems.push(p);
    }
    return { status: res.status, headers: res.headers, text, body: text ? (JSON.parse(text) as unknown) : undefined };
  };
  return { call, get: (p) => call('GET', p), problems };
}

/** Minimal valid POST /services body for a Node web service (docs/render-api.md §5.3). */
export function webServiceBody(ownerId: string, name: string, extra: Record<string, unknown> = {}) {
  return {
    type: 'web_service',
    name,
    ownerId,
    repo: `https://github.com/acme/${name}`,
    branch: 'main',
    autoDeploy: 'yes',
    envVars: [{ key: 'NODE_ENV', value: 'production' }],
    serviceDetails: {
      runtime: 'node',
      plan: 'starter',
      region: 'oregon',
      envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'npm start' },
    },
    ...extra,
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls until `check` returns a value (not undefined) or `timeoutMs` passes. */
export async function waitFor<T>(check: () => Promise<T | undefined>, timeoutMs = 5000, stepMs = 10): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('waitFor: condition not met in time');
    await sleep(stepMs);
  }
}
