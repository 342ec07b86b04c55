import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { OpenAPIBackend, type Request as OpenApiRequest } from 'openapi-backend';

/**
 * Contract checks for requests and responses against Render's OpenAPI spec
 * (spec/render-openapi.json), using openapi-backend's validators. Deliberate leniencies, each
 * documented in docs/render-api.md:
 * - enums known to grow accept any string: `plan`/`paidPlan` (§5.3), audit `event` (§10),
 *   webhook/service event types (§12);
 * - a JSON `null` counts as an absent field (§1: "Unset fields can be JSON null"); a required
 *   field that is null still fails;
 * - `oneOf` is read as `anyOf`: the spec's variants overlap (web-service details also satisfy
 *   the background-worker variant), so a strict `oneOf` rejects every real response.
 */

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const specPath = fileURLToPath(new URL('../../spec/render-openapi.json', import.meta.url));

function relax(node: Json): Json {
  if (Array.isArray(node)) return node.map((n) => relax(n));
  if (node === null || typeof node !== 'object') return node;
  const out: { [k: string]: Json } = {};
  for (const [k, v] of Object.entries(node)) out[k === 'oneOf' ? 'anyOf' : k] = relax(v);
  const values = Array.isArray(out.enum) ? out.enum : null;
  const growing = values && (
    values.includes('deploy_ended') // service / webhook event types
    || values.includes('CreateServerEvent') // audit log events
    || (values.includes('starter') && values.includes('pro')) // instance types
  );
  if (growing) delete out.enum;
  return out;
}

/**
 * Inlines every local $ref (the spec has no cycles). openapi-backend's own dereferencer does not
 * unescape `~1` in pointers such as `#/paths/~1logs/get/parameters/3`, so it gets a ref-free copy.
 */
function inlineRefs(root: Json): Json {
  const lookup = (ref: string): Json => {
    let node: Json | undefined = root;
    for (const raw of ref.replace(/^#\//, '').split('/')) {
      const key = decodeURIComponent(raw.replaceAll('~1', '/').replaceAll('~0', '~'));
      // A pointer may pass through another $ref (e.g. a parameter that is itself a $ref).
      while (node && typeof node === 'object' && !Array.isArray(node) && typeof node.$ref === 'string') node = lookup(node.$ref);
      node = node && typeof node === 'object' ? (node as Record<string, Json>)[key] : undefined;
    }
    if (node === undefined) throw new Error(`unresolvable $ref ${ref}`);
    return node;
  };
  const walk = (node: Json, seen: string[]): Json => {
    if (Array.isArray(node)) return node.map((n) => walk(n, seen));
    if (node === null || typeof node !== 'object') return node;
    const ref = node.$ref;
    if (typeof ref === 'string') {
      if (seen.includes(ref)) throw new Error(`cyclic $ref ${ref}`);
      return walk(lookup(ref), [...seen, ref]);
    }
    const out: { [k: string]: Json } = {};
    for (const [k, v] of Object.entries(node)) out[k] = walk(v, seen);
    return out;
  };
  return walk(root, []);
}

/** Recursively removes null-valued object keys (null ≡ absent). */
function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = dropNulls(v);
  return out;
}

export interface ContractValidator {
  /** Operation id for a request below /v1, or undefined when the spec has no such operation. */
  operationId(method: string, pathAndQuery: string): string | undefined;
  /** Problems with a request we are about to send ([] = valid). */
  checkRequest(req: { method: string; pathAndQuery: string; body?: unknown; headers?: Record<string, string> }): string[];
  /** Problems with a response ([] = valid): status declared, body matches its schema, empty when the spec has no content. */
  checkResponse(operationId: string, status: number, text: string): string[];
}

export async function createContractValidator(): Promise<ContractValidator> {
  const raw = JSON.parse(readFileSync(specPath, 'utf8')) as Json;
  const definition = relax(inlineRefs(raw)) as unknown as ConstructorParameters<typeof OpenAPIBackend>[0]['definition'];
  const api = new OpenAPIBackend({ definition, quick: true, validate: true, apiRoot: '/', ajvOpts: { strict: false, logger: false } });
  await api.init();
  const spec = raw as { paths: Record<string, Record<string, { operationId?: string; responses?: Record<string, { content?: unknown; $ref?: string }> }>> };
  const responsesOf = new Map<string, Record<string, { content?: unknown; $ref?: string }>>();
  for (const methods of Object.values(spec.paths)) {
    for (const op of Object.values(methods)) if (op?.operationId && op.responses) responsesOf.set(op.operationId, op.responses);
  }
  const toRequest = (method: string, pathAndQuery: string, body?: unknown, headers: Record<string, string> = {}): OpenApiRequest => {
    const [path = '/', query = ''] = pathAndQuery.split('?');
    return { method: method.toLowerCase(), path, query, body, headers };
  };

  return {
    operationId(method, pathAndQuery) {
      return api.matchOperation(toRequest(method, pathAndQuery))?.operationId;
    },
    checkRequest({ method, pathAndQuery, body, headers }) {
      const req = toRequest(method, pathAndQuery, body, { 'content-type': 'application/json', ...(headers ?? {}) });
      const op = api.matchOperation(req);
      if (!op) return [`no operation in the spec for ${method} ${pathAndQuery}`];
      const result = api.validator.validateRequest(req, op);
      return (result.errors ?? []).map((e) => `${e.instancePath || '(request)'} ${e.message ?? ''}`.trim());
    },
    checkResponse(operationId, status, text) {
      const declared = responsesOf.get(operationId)?.[String(status)];
      if (!declared) return [`status ${status} is not declared for ${operationId}`];
      const hasContent = Boolean(declared.content) || Boolean(declared.$ref);
      if (!hasContent) return text === '' ? [] : [`${operationId} ${status} must have an empty body, got ${text.slice(0, 80)}`];
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return [`${operationId} ${status}: body is not JSON: ${text.slice(0, 80)}`];
      }
      const result = api.validator.validateResponse(dropNulls(body), operationId, status);
      return (result.errors ?? []).map((e) => `${operationId} ${status} ${e.instancePath || '(body)'} ${e.message ?? ''}`.trim());
    },
  };
}
