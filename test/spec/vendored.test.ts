import test from 'ava';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RENDER_PLANS, RENDER_REGIONS } from '../../server/deployments/input.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

test('vendored specs are Render\'s published bytes (and match ../shared when present)', (t) => {
  t.is(sha(`${root}spec/render-openapi.json`), '4e3d58371191351d42cfcfe8a1da7d961deb3be76656f22027efc711241b1ae8');
  t.is(sha(`${root}spec/render.yaml.json`), '665539cb0c191856ba38d292b985a963880bb69b030d666e5fe7788e78e7e696');
  for (const [vendored, shared] of [['spec/render-openapi.json', '../shared/render-api/render-openapi.json'], ['spec/render.yaml.json', '../shared/render-blueprint/render.yaml.json']] as const) {
    if (existsSync(`${root}${shared}`)) t.is(sha(`${root}${vendored}`), sha(`${root}${shared}`), shared);
  }
});

test('the deploy form\'s regions and plans are Render\'s', (t) => {
  const spec = JSON.parse(readFileSync(`${root}spec/render-openapi.json`, 'utf8'));
  t.deepEqual([...RENDER_REGIONS], spec.components.schemas.region.enum);
  const plans: string[] = spec.components.schemas.plan.enum;
  for (const p of RENDER_PLANS) t.true(plans.includes(p), p);
  t.deepEqual(plans.filter((p) => !(RENDER_PLANS as readonly string[]).includes(p)), ['custom'], 'only "custom" (not a real plan name) is left out');
});

test('server/render/schema.d.ts is what openapi-typescript generates from the vendored spec', async (t) => {
  const { default: openapiTS, astToString } = await import('openapi-typescript');
  const ast = await openapiTS(new URL(`file://${root}spec/render-openapi.json`));
  const generated = astToString(ast);
  const committed = readFileSync(`${root}server/render/schema.d.ts`, 'utf8');
  // The CLI adds a header comment; compare the type bodies.
  t.true(committed.includes(generated.trim().slice(0, 2000)), 'regenerate with npm run gen:render-types');
  t.is(committed.replace(/^\/\*\*[\s\S]*?\*\/\s*/, '').trim(), generated.trim());
});
