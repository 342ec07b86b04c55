import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

// The orchestrator's own contract, checked on every response the test suites see: the shared stack
// (test/helpers/stack.ts) loads GET /api/openapi.json once it runs and registers it for its origin;
// Agent.request and the attack suites' send() then check each response against it and throw on a
// mismatch, which fails the test that made the request. Same idea as the Render contract tests
// (test/render/), turned on ourselves.

const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => Ajv2020;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

interface SeenResponse {
  method: string;
  /** Path and query as sent. */
  path: string;
  status: number;
  contentType: string;
  text: string;
}

interface ApiContract {
  /** What is wrong with this response according to the document ([] when it conforms). */
  problems(res: SeenResponse): string[];
}

interface Operation { method: string; template: string; pattern: RegExp; params: number; responses: JsonObject }

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Compiles a document into a response checker. */
export function compileContract(doc: JsonObject): ApiContract {
  const components = doc.components as { schemas: JsonObject; responses: JsonObject };
  // Component refs point into the root document; ajv gets them as $defs of one root schema.
  const rebase = (node: Json): Json => JSON.parse(JSON.stringify(node).replaceAll('"#/components/schemas/', '"api#/$defs/')) as Json;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ $id: 'api', $defs: rebase(components.schemas) });
  const compiled = new Map<string, ValidateFunction>();
  const validatorFor = (key: string, schema: Json) => {
    let v = compiled.get(key);
    if (!v) { v = ajv.compile(rebase(schema) as JsonObject); compiled.set(key, v); }
    return v;
  };

  const operations: Operation[] = [];
  for (const [template, methods] of Object.entries(doc.paths as Record<string, Record<string, JsonObject>>)) {
    let params = 0;
    const source = template.split(/(\{\w+\})/).map((part) => (/^\{\w+\}$/.test(part) ? (params++, '[^/]+') : escapeRe(part))).join('');
    // The app's router is case-sensitive (server/app.ts) and takes a trailing slash.
    const pattern = new RegExp(`^${source}/?$`);
    for (const [method, op] of Object.entries(methods)) operations.push({ method: method.toUpperCase(), template, pattern, params, responses: op.responses as JsonObject });
  }
  operations.sort((a, b) => a.params - b.params); // a literal segment wins over a parameter

  const resolve = (r: JsonObject): JsonObject => (typeof r.$ref === 'string' ? components.responses[r.$ref.split('/').pop()!] as JsonObject : r);
  const check = (label: string, key: string, entry: JsonObject, res: SeenResponse): string[] => {
    const content = entry.content as Record<string, JsonObject> | undefined;
    if (!content) return [];
    const actual = res.contentType.split(';')[0]!.trim().toLowerCase();
    const media = content[actual] ?? content['*/*'];
    if (!media) return [`${label}: content-type ${actual || '(none)'} is not one of ${Object.keys(content).join(', ')}`];
    if (actual !== 'application/json' || !media.schema) return [];
    let body: unknown;
    try { body = JSON.parse(res.text); } catch { return [`${label}: body is not JSON: ${res.text.slice(0, 120)}`]; }
    const validate = validatorFor(key, media.schema);
    if (validate(body)) return [];
    return (validate.errors ?? []).slice(0, 8).map((e) => `${label}: ${e.instancePath || '(body)'} ${e.message ?? ''} ${e.params ? JSON.stringify(e.params) : ''}`.trim());
  };

  return {
    problems(res) {
      const method = res.method.toUpperCase();
      if (method === 'HEAD' || method === 'OPTIONS') return [];
      const path = res.path.split('?')[0]!;
      const label = `${method} ${res.path.slice(0, 120)} → ${res.status}`;
      const op = operations.find((o) => o.method === method && o.pattern.test(path));
      if (!op) {
        if (!path.toLowerCase().startsWith('/api/')) return [];
        // No operation: the router answered for a route it does not have (404/405): still our error shape.
        if (res.status < 400) return [`${label}: no operation in GET /api/openapi.json answers this`];
        return check(label, 'error', resolve({ $ref: '#/components/responses/Error' }), res);
      }
      const declared = (op.responses[String(res.status)] ?? (res.status >= 400 ? op.responses.default : undefined)) as JsonObject | undefined;
      if (!declared) return [`${label}: status ${res.status} is not declared for ${method} ${op.template}`];
      return check(label, `${method} ${op.template} ${op.responses[String(res.status)] ? res.status : 'default'}`, resolve(declared), res);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Registration by origin

const byOrigin = new Map<string, ApiContract>();
const byText = new Map<string, ApiContract>();

/** Loads the document from a running web process and checks every later response from that origin against it. */
export async function registerApiContract(baseUrl: string): Promise<ApiContract> {
  // As if through the proxy over https: an HTTPS_ONLY stack would otherwise redirect this plain-http request.
  const res = await fetch(`${baseUrl}/api/openapi.json`, { headers: { 'x-forwarded-proto': 'https' }, redirect: 'manual' });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET /api/openapi.json: ${res.status} ${text.slice(0, 200)}`);
  let contract = byText.get(text);
  if (!contract) { contract = compileContract(JSON.parse(text) as JsonObject); byText.set(text, contract); }
  byOrigin.set(new URL(baseUrl).origin, contract);
  return contract;
}

export function unregisterApiContract(baseUrl: string): void {
  byOrigin.delete(new URL(baseUrl).origin);
}

/** Throws when a response from a registered origin breaks the document (the test that made the request fails). */
export function assertConforms(url: string, res: Omit<SeenResponse, 'path'>): void {
  const parsed = new URL(url);
  const contract = byOrigin.get(parsed.origin);
  if (!contract) return;
  const problems = contract.problems({ ...res, path: parsed.pathname + parsed.search });
  if (problems.length) throw new Error(`response does not match GET /api/openapi.json (test/helpers/apiContract.ts):\n${problems.join('\n')}`);
}
