import { readFileSync } from 'node:fs';
import { setImmediate as turn } from 'node:timers/promises';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { isMap, isSeq, type Document, type LineCounter } from 'yaml';
import { ErrorList, readBlueprintYaml, type BlueprintResult, type Json } from './blueprint-yaml.js';
import { specFilePath } from './spec-schemas.js';

/**
 * What POST /blueprints/validate answers (docs/render-api.md §14): the YAML is parsed with `yaml`, checked
 * against Render's Blueprint JSON Schema (spec/render.yaml.json, draft 2020-12) and summarised
 * as a plan. Errors carry a `services[0].plan`-style path and a 1-based line/column.
 * The YAML is read bounded (blueprint-yaml.ts); the schema is judged with a first-error pass, and only
 * a Blueprint that fails it is judged again for every error: services one by one against their own
 * branch, the rest with the services left out (ajv's allErrors over the root's `anyOf` grows faster
 * than the number of services), so the time stays proportional to the file.
 */

const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => Ajv2020;
const SCHEMA_ID = 'https://render.com/schema/render.yaml.json';
const KEY_VALUE_TYPES = new Set(['keyvalue', 'redis']);

interface BlueprintValidator {
  validate(text: string): Promise<BlueprintResult>;
}

interface Schemas {
  /** The whole schema, stopping at the first error: whether the Blueprint is valid. */
  firstError: ValidateFunction;
  /** The whole schema, every error. */
  root: ValidateFunction;
  /** A definition of the schema (a kind of service), every error. */
  branch: (name: string) => ValidateFunction;
  rootKeys: Set<string>;
}

function createBlueprintValidator(): BlueprintValidator {
  let compiled: Schemas | undefined;
  const load = () => {
    if (compiled) return compiled;
    const schema = JSON.parse(readFileSync(specFilePath('render.yaml.json'), 'utf8')) as Json;
    const ajv = new Ajv2020({ strict: false, allErrors: true, logger: false });
    addFormats(ajv);
    ajv.addSchema(schema);
    const firstErrorAjv = new Ajv2020({ strict: false, allErrors: false, logger: false });
    addFormats(firstErrorAjv);
    firstErrorAjv.addSchema(schema);
    const branches = new Map<string, ValidateFunction>();
    const defs = schema.definitions as Record<string, { properties?: Json }>;
    const rootExtra = ((schema.allOf as Json[])[1]?.properties ?? {}) as Json;
    compiled = {
      firstError: firstErrorAjv.getSchema(SCHEMA_ID) as ValidateFunction,
      root: ajv.getSchema(SCHEMA_ID) as ValidateFunction,
      branch(name) {
        let fn = branches.get(name);
        if (!fn) {
          fn = ajv.compile({ $ref: `${SCHEMA_ID}#/definitions/${name}` });
          branches.set(name, fn);
        }
        return fn;
      },
      rootKeys: new Set([...Object.keys(defs.resources?.properties ?? {}), ...Object.keys(rootExtra)]),
    };
    return compiled;
  };

  return {
    async validate(text) {
      const read = await readBlueprintYaml(text);
      if (!('doc' in read)) return read;
      const { doc, lines, data } = read;
      const v = load();
      // A turn between steps, as the parse gives in slices (blueprint-yaml.ts): each is tens of milliseconds on 256 KiB.
      await turn();
      const errors = new ErrorList();
      if (!v.firstError(data)) {
        await turn();
        focusedErrors(v, data, doc, lines, errors);
      }
      duplicateNames(data, doc, lines, errors);
      if (errors.items.length > 0) return { valid: false, errors: errors.items };
      return { valid: true, errors: [], plan: planOf(data) };
    },
  };
}

/** Every `services` array item in the document, with its JSON pointer. */
function serviceItems(data: Json): Array<{ pointer: string; item: unknown }> {
  const out: Array<{ pointer: string; item: unknown }> = [];
  const collect = (holder: unknown, base: string) => {
    const services = (holder as Json | undefined)?.services;
    if (Array.isArray(services)) services.forEach((item, i) => out.push({ pointer: `${base}/services/${i}`, item }));
  };
  collect(data, '');
  collect(data.ungrouped, '/ungrouped');
  if (Array.isArray(data.projects)) {
    data.projects.forEach((p: unknown, pi) => {
      const envs = (p as Json | undefined)?.environments;
      if (Array.isArray(envs)) envs.forEach((env, ei) => collect(env, `/projects/${pi}/environments/${ei}`));
    });
  }
  return out;
}

/** The schema branch a service item means to be, from its `type`/`runtime`. */
function branchOf(item: unknown): string {
  const s = (item ?? {}) as Json;
  if (typeof s.type === 'string' && KEY_VALUE_TYPES.has(s.type)) return 'redisServer';
  if (s.type === 'cron') return 'cronService';
  if (s.type === 'web' && (s.runtime === 'static' || s.env === 'static')) return 'staticService';
  return 'serverService';
}

/**
 * The root schema's `anyOf` over service kinds reports every branch's failures; instead, each
 * service is checked against the branch its `type` selects, and root-level "unevaluated
 * property" noise for known keys (caused by a failing item) is dropped.
 */
function focusedErrors(v: Schemas, data: Json, doc: Document, lines: LineCounter, out: ErrorList): void {
  for (const { pointer, item } of serviceItems(data)) {
    if (out.full) return;
    const fn = v.branch(branchOf(item));
    if (!fn(item)) for (const e of fn.errors ?? []) addError(out, e, pointer, doc, lines);
  }
  if (!v.root(withoutServiceItems(data))) {
    for (const e of v.root.errors ?? []) {
      if (out.full) return;
      if (e.keyword === 'anyOf') continue;
      const prop = (e.params as { unevaluatedProperty?: string }).unevaluatedProperty;
      if (e.keyword === 'unevaluatedProperties' && prop && (e.instancePath === '' ? v.rootKeys.has(prop) : isPreviewEnvironmentPath(e.instancePath))) {
        continue;
      }
      addError(out, e, '', doc, lines);
    }
  }
  // Every service passes its own branch and the rest passes without them, yet the whole fails: say what the schema says.
  if (out.items.length === 0 && !v.root(data)) {
    for (const e of v.root.errors ?? []) if (e.keyword !== 'anyOf') addError(out, e, '', doc, lines);
  }
}

/** The Blueprint with every `services` list emptied (serviceItems' places): what is judged besides the services. */
function withoutServiceItems(data: Json): Json {
  const emptied = (holder: unknown): unknown => {
    if (typeof holder !== 'object' || holder === null || Array.isArray(holder)) return holder;
    return Array.isArray((holder as Json).services) ? { ...(holder as Json), services: [] } : holder;
  };
  const out = emptied(data) as Json;
  if ('ungrouped' in data) out.ungrouped = emptied(data.ungrouped);
  if (Array.isArray(data.projects)) {
    out.projects = data.projects.map((p: unknown) => {
      const envs = (p as Json | null)?.environments;
      return Array.isArray(envs) ? { ...(p as Json), environments: envs.map(emptied) } : p;
    });
  }
  return out;
}

/** A JSON pointer ending in /environments/<n> or /ungrouped (what /\/(environments\/\d+|ungrouped)$/ tested, without backtracking). */
function isPreviewEnvironmentPath(pointer: string): boolean {
  const segments = pointer.split('/');
  const last = segments.at(-1) ?? '';
  if (segments.length >= 2 && last === 'ungrouped') return true;
  return segments.length >= 3 && segments.at(-2) === 'environments' && /^\d+$/.test(last);
}

function addError(out: ErrorList, e: ErrorObject, base: string, doc: Document, lines: LineCounter): void {
  if (out.full) return;
  const segments = `${base}${e.instancePath}`.split('/').filter(Boolean).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  const params = e.params as { additionalProperty?: string; unevaluatedProperty?: string; allowedValues?: unknown[]; allowedValue?: unknown };
  const extraProp = params.additionalProperty ?? params.unevaluatedProperty;
  const at = extraProp ? [...segments, extraProp] : segments;
  let message = e.message ?? 'invalid';
  if (extraProp) message = `unknown field "${extraProp}"`;
  if (params.allowedValues) message += `: ${params.allowedValues.map(String).join(', ')}`;
  if (e.keyword === 'const') message += `: ${String(params.allowedValue)}`;
  out.add(formatPath(at), message, () => position(doc, lines, at));
}

function formatPath(segments: Array<string | number>): string {
  return segments.reduce<string>((acc, s) => (typeof s === 'number' ? `${acc}[${s}]` : acc ? `${acc}.${s}` : s), '');
}

/** 1-based line/column of the deepest node that exists along `segments`. */
function position(doc: Document, lines: LineCounter, segments: Array<string | number>): { line?: number; column?: number } {
  for (let n = segments.length; n >= 0; n--) {
    const path = segments.slice(0, n);
    const node = path.length === 0 ? doc.contents : doc.getIn(path, true);
    // For a key that exists, point at the key rather than its value.
    const keyNode = path.length > 0 ? keyOf(doc, path) : null;
    const range = (keyNode ?? node) as { range?: [number, number, number] } | null | undefined;
    if (range?.range) {
      const pos = lines.linePos(range.range[0]);
      return { line: pos.line, column: pos.col };
    }
  }
  return {};
}

function keyOf(doc: Document, path: Array<string | number>): unknown {
  const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true);
  const last = path[path.length - 1];
  if (isMap(parent)) return parent.items.find((p) => (p.key as { value?: unknown } | null)?.value === last)?.key ?? null;
  if (isSeq(parent) && typeof last === 'number') return parent.items[last] ?? null;
  return null;
}

function duplicateNames(data: Json, doc: Document, lines: LineCounter, out: ErrorList): void {
  const seen = new Map<string, string>();
  const check = (name: unknown, segments: Array<string | number>) => {
    if (typeof name !== 'string') return;
    const where = formatPath(segments);
    if (seen.has(name)) out.add(`${where}.name`, `duplicate resource name "${name}" (also at ${seen.get(name)})`, () => position(doc, lines, [...segments, 'name']));
    else seen.set(name, where);
  };
  for (const { pointer, item } of serviceItems(data)) {
    check((item as Json | null)?.name, pointer.split('/').filter(Boolean).map((s) => (/^\d+$/.test(s) ? Number(s) : s)));
  }
  if (Array.isArray(data.databases)) data.databases.forEach((d: unknown, i) => check((d as Json | null)?.name, ['databases', i]));
}

function planOf(data: Json): NonNullable<BlueprintResult['plan']> {
  const plan = { services: [] as string[], databases: [] as string[], keyValue: [] as string[], envGroups: [] as string[], totalActions: 0 };
  const addResources = (holder: unknown) => {
    const h = (holder ?? {}) as Json;
    for (const s of Array.isArray(h.services) ? h.services : []) {
      const item = s as Json;
      (KEY_VALUE_TYPES.has(String(item.type)) ? plan.keyValue : plan.services).push(String(item.name));
    }
    for (const d of Array.isArray(h.databases) ? h.databases : []) plan.databases.push(String((d as Json).name));
    for (const g of Array.isArray(h.envVarGroups) ? h.envVarGroups : []) plan.envGroups.push(String((g as Json).name));
  };
  addResources(data);
  addResources(data.ungrouped);
  for (const p of Array.isArray(data.projects) ? data.projects : []) {
    for (const env of Array.isArray((p as Json).environments) ? ((p as Json).environments as unknown[]) : []) addResources(env);
  }
  plan.totalActions = plan.services.length + plan.databases.length + plan.keyValue.length + plan.envGroups.length;
  return plan;
}

let shared: BlueprintValidator | undefined;

/** One per process: the compiled Blueprint schema is immutable and costs ~70 ms to build. */
export function sharedBlueprintValidator(): BlueprintValidator {
  shared ??= createBlueprintValidator();
  return shared;
}
