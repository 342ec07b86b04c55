import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { STACKS } from './types.js';

const templateSchema = z.object({
  stack: z.enum(STACKS),
  runtime: z.enum(['node', 'python', 'go', 'ruby', 'rust', 'elixir', 'docker', 'static']),
  serviceType: z.enum(['web_service', 'static_site']),
  detect: z.object({
    /** Root files whose presence makes this preset a candidate. */
    files: z.array(z.string().min(1)).min(1),
    /** Root directories that do the same (a file of that name does not). */
    dirs: z.array(z.string().min(1)).default([]),
    /** Higher wins when several presets match (a Rails app also has package.json). */
    priority: z.number().int(),
  }),
  buildCommand: z.string(),
  startCommand: z.string().nullable(),
  publishPath: z.string().optional(),
  notes: z.string(),
}).strict();

export type Template = z.infer<typeof templateSchema>;

/** Walks up from this module to the directory holding package.json (works from src and from dist/). */
async function packageRoot(): Promise<string> {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      if ((await stat(join(dir, 'package.json'))).isFile()) return dir;
    } catch { /* keep climbing */ }
    const up = dirname(dir);
    if (up === dir) throw new Error('templates: package root (package.json) not found');
    dir = up;
  }
}

// The packaged presets never change while the process runs: read them once. Stack detection runs for
// every deploy, and re-reading (a stat walk, a readdir, eight files, zod) cost ~2 ms of worker CPU each
// time, the largest single item in a deploy's CPU profile (see bench/). A failed read is not cached.
let packaged: Promise<Template[]> | null = null;

/** Reads and validates templates/*.json, highest priority first. A broken preset fails loudly. */
export async function loadTemplates(dir?: string): Promise<Template[]> {
  if (dir !== undefined) return readTemplates(dir);
  packaged ??= packageRoot().then((root) => readTemplates(join(root, 'templates')));
  const p = packaged;
  try {
    return [...await p];
  } catch (err) {
    if (packaged === p) packaged = null;
    throw err;
  }
}

async function readTemplates(root: string): Promise<Template[]> {
  const names = (await readdir(root)).filter((n) => n.endsWith('.json')).sort();
  const out: Template[] = [];
  for (const name of names) {
    const raw = await readFile(join(root, name), 'utf8');
    const parsed = templateSchema.safeParse(JSON.parse(raw));
    if (!parsed.success) throw new Error(`templates/${name}: ${z.prettifyError(parsed.error)}`);
    if (`${parsed.data.stack}.json` !== name) throw new Error(`templates/${name}: stack "${parsed.data.stack}" does not match the file name`);
    out.push(parsed.data);
  }
  return out.sort((a, b) => b.detect.priority - a.detect.priority);
}
