import { FileOverLimit, type DetectedStack, type RepoFiles } from './types.js';
import type { Template } from './templates.js';
import { procfileProcess, procfileWeb } from './procfile.js';

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

/**
 * A Procfile with a worker: process and no web: one, which detect.ts runs as a background worker (its
 * command the start command): a refiner then has no web server to propose or ask for.
 */
export async function procfileWorkerOnly(files: RepoFiles): Promise<boolean> {
  if (!files.list.includes('Procfile')) return false;
  const procfile = await files.read('Procfile');
  return procfileWeb(procfile) === null && procfileProcess(procfile, 'worker') !== null;
}

export function has(files: RepoFiles, ...names: string[]): boolean {
  return names.some((n) => files.list.includes(n));
}

/** Only whether the file is there (any path): one over the read limit is as much there as a small one. */
export async function exists(files: RepoFiles, path: string): Promise<boolean> {
  try {
    return (await files.read(path)) !== null;
  } catch (err) {
    if (err instanceof FileOverLimit) return true;
    throw err;
  }
}

/** A file detection may do without: its text, or null when it is missing or over the read limit (detection goes on without it). */
export async function readWithinLimit(files: RepoFiles, path: string): Promise<string | null> {
  try {
    return await files.read(path);
  } catch (err) {
    if (err instanceof FileOverLimit) return null;
    throw err;
  }
}
