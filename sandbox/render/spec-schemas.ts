import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

/**
 * Request-body validation against Render's own OpenAPI spec (docs/render-api.md §19), compiled lazily
 * so the simulator starts fast. Two deliberate leniencies:
 * - `plan` enums accept any string: Render has more plans than the spec lists (docs/render-api.md §5.3);
 * - `oneOf` is read as `anyOf`: the spec's variants overlap (a web service's details also match
 *   the background-worker variant), so strict `oneOf` would reject every real body. The
 *   type-specific variant is checked separately by the caller.
 */

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const SPEC_ID = 'render-openapi';

// ajv-formats is CommonJS; under nodenext its default import is the module object.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => Ajv;

export function specFilePath(name: string): string {
  // From sandbox/render/ (tsx) or dist/sandbox/render/ (compiled).
  for (const rel of ['../../spec/', '../../../spec/']) {
    const p = fileURLToPath(new URL(rel + name, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new Error(`cannot find spec/${name}`);
}

function relax(node: Json): Json {
  if (Array.isArray(node)) return node.map(relax);
  if (node === null || typeof node !== 'object') return node;
  const out: { [k: string]: Json } = {};
  for (const [k, v] of Object.entries(node)) out[k === 'oneOf' ? 'anyOf' : k] = relax(v);
  return out;
}

export interface SpecValidator {
  /** Errors for `value` against components.schemas[name], or [] when valid. */
  check(schemaName: string, value: unknown): SpecError[];
  /** Same for any JSON pointer into the spec, e.g. '/paths/~1services~1{serviceId}~1rollback/post/requestBody/content/application~1json/schema'. */
  checkPointer(pointer: string, value: unknown): SpecError[];
}

interface SpecError {
  path: string;
  message: string;
}

export function createSpecValidator(): SpecValidator {
  let ajv: Ajv | undefined;
  const compiled = new Map<string, ValidateFunction>();
  const load = (): Ajv => {
    if (ajv) return ajv;
    const spec = JSON.parse(readFileSync(specFilePath('render-openapi.json'), 'utf8')) as { [k: string]: Json };
    const relaxed = relax(spec) as { components: { schemas: Record<string, { [k: string]: Json }> } };
    for (const name of ['plan', 'paidPlan']) {
      const s = relaxed.components.schemas[name];
      if (s) delete s.enum;
    }
    ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false, logger: false });
    addFormats(ajv);
    ajv.addSchema(relaxed, SPEC_ID);
    return ajv;
  };
  const checkPointer = (pointer: string, value: unknown): SpecError[] => {
    let fn = compiled.get(pointer);
    if (!fn) {
      fn = load().compile({ $ref: `${SPEC_ID}#${pointer.replaceAll('{', '%7B').replaceAll('}', '%7D')}` });
      compiled.set(pointer, fn);
    }
    return fn(value) ? [] : formatErrors(fn.errors ?? []);
  };
  return {
    check: (schemaName, value) => checkPointer(`/components/schemas/${schemaName}`, value),
    checkPointer,
  };
}

function formatErrors(errors: ErrorObject[]): SpecError[] {
  // anyOf branches report every failed variant; keep the first few distinct messages.
  const seen = new Set<string>();
  const out: SpecError[] = [];
  for (const e of errors) {
    if (e.keyword === 'anyOf') continue;
    const path = e.instancePath.replace(/^\//, '').replaceAll('/', '.') || '(body)';
    const extra = e.keyword === 'enum' ? ` (${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')})` : '';
    const message = `${path}: ${e.message ?? 'invalid'}${extra}`;
    if (seen.has(message)) continue;
    seen.add(message);
    out.push({ path, message });
  }
  return out.slice(0, 5);
}

let shared: SpecValidator | undefined;

/**
 * One validator per process. Compiling servicePOST costs ~80 ms, and tests start many simulators;
 * the compiled schemas are immutable functions of the vendored spec, so sharing them is safe.
 */
export function sharedSpecValidator(): SpecValidator {
  shared ??= createSpecValidator();
  return shared;
}
