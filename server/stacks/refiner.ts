import type { DetectedStack, RepoFiles } from './types.js';
import type { Template } from './templates.js';
import { procfileWeb } from './procfile.js';

/** Looks closer at a candidate preset: the concrete stack, or a sentence saying why it does not fit. */
export type Refiner = (files: RepoFiles, template: Template) => Promise<DetectedStack | string>;

/** A DetectedStack from a preset with some fields overridden. */
export function fromTemplate(t: Template, reason: string, over: Partial<DetectedStack> = {}): DetectedStack {
  const out: DetectedStack = {
    stack: t.stack,
    serviceType: t.serviceType,
    runtime: t.runtime,
    buildCommand: t.buildCommand,
    startCommand: t.startCommand,
    reason,
    ...over,
  };
  if (out.publishPath === undefined && t.publishPath !== undefined && out.serviceType === 'static_site') out.publishPath = t.publishPath;
  return out;
}

/** A Procfile's web: command beats any guess, as on Heroku-style platforms. */
export async function procfileStart(files: RepoFiles): Promise<string | null> {
  return files.list.includes('Procfile') ? procfileWeb(await files.read('Procfile')) : null;
}

export function has(files: RepoFiles, ...names: string[]): boolean {
  return names.some((n) => files.list.includes(n));
}
