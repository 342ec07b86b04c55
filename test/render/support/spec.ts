// Loads Render's official OpenAPI spec for openapi-backend. The spec points some `$ref`s into
// `#/paths/...` with URI-escaped braces (`%7B`), which openapi-backend's quick dereferencer cannot
// follow, so those are inlined here first; `#/components/...` refs are left for openapi-backend.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ajvFormats from 'ajv-formats';
import { OpenAPIBackend, type Document } from 'openapi-backend';

const SPEC_PATH = fileURLToPath(new URL('../../../spec/render-openapi.json', import.meta.url));

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function loadRenderSpec(): Document {
  // Refs into the service-event details variants are re-pointed at the anyOf made below.
  const text = readFileSync(SPEC_PATH, 'utf8').replaceAll('/event/properties/details/oneOf/', '/event/properties/details/anyOf/');
  const root = JSON.parse(text) as Json;
  const spec = inlinePathRefs(root, root, []) as unknown as SpecShape;
  // The spec says `serviceDetails` is oneOf five detail schemas, but none forbids extra fields, so
  // every real web service matches both webServiceDetails and privateServiceDetails (and every
  // PATCH matches all five) and fails "exactly one". anyOf keeps the field checks without that
  // false failure.
  // servicePOST too (issue 15): a background worker's or private service's details match the web
  // service variant as well. The type's own variant is checked by test/render/serviceTypes-contract.test.ts.
  for (const name of ['service', 'servicePATCH', 'servicePOST'] as const) {
    const details = spec.components.schemas[name].properties.serviceDetails;
    details.anyOf = details.oneOf;
    delete details.oneOf;
  }
  // Same for the build details: dockerDetailsPOST has no required field, so native build and start
  // commands match it as well as nativeEnvironmentDetailsPOST.
  for (const name of ['envSpecificDetailsPOST', 'envSpecificDetails'] as const) {
    const variants = spec.components.schemas[name];
    variants.anyOf = variants.oneOf;
    delete variants.oneOf;
  }
  // Service event details have the same problem: several variants (Server Available, Server Failed…)
  // have no required field, so any details object matches more than one.
  const eventDetails = spec.components.schemas.serviceEventWithCursor.properties.event.properties.details;
  eventDetails.anyOf = eventDetails.oneOf;
  delete eventDetails.oneOf;
  return spec as unknown as Document;
}

type OneOfHolder = { properties: { serviceDetails: { oneOf?: Json; anyOf?: Json } } };
type OneOf = { oneOf?: Json; anyOf?: Json };
interface SpecShape {
  components: { schemas: { service: OneOfHolder; servicePATCH: OneOfHolder; servicePOST: OneOfHolder; envSpecificDetailsPOST: OneOf; envSpecificDetails: OneOf; serviceEventWithCursor: { properties: { event: { properties: { details: { oneOf?: Json; anyOf?: Json } } } } } } };
}

/** An initialised openapi-backend over the Render spec (validation only, no handlers). */
export async function createSpecValidator(): Promise<OpenAPIBackend> {
  const api = new OpenAPIBackend({
    definition: loadRenderSpec(),
    quick: true,
    strict: true,
    // Check date-time and other formats instead of ignoring them (with a console warning).
    customizeAjv: (ajv) => {
      ajvFormats.default(ajv); // CJS module: the plugin is its .default under nodenext
      return ajv;
    },
  });
  await api.init();
  return api;
}

function inlinePathRefs(node: Json, root: Json, seen: string[]): Json {
  if (Array.isArray(node)) return node.map((item) => inlinePathRefs(item, root, seen));
  if (node === null || typeof node !== 'object') return node;
  const ref = node.$ref;
  if (typeof ref === 'string' && ref.startsWith('#/paths/')) {
    if (seen.includes(ref)) throw new Error(`circular $ref ${ref}`);
    return inlinePathRefs(resolvePointer(root, ref), root, [...seen, ref]);
  }
  const out: { [key: string]: Json } = {};
  for (const [key, value] of Object.entries(node)) out[key] = inlinePathRefs(value, root, seen);
  return out;
}

function resolvePointer(root: Json, ref: string): Json {
  let target: Json = root;
  for (const raw of ref.slice(2).split('/')) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (target === null || typeof target !== 'object') throw new Error(`bad $ref ${ref}`);
    const next: Json | undefined = Array.isArray(target) ? target[Number(key)] : target[key];
    if (next === undefined) throw new Error(`unresolvable $ref ${ref}`);
    target = next;
  }
  return target;
}
