import { isEmptyBlueprint, stackFromBlueprint } from './blueprint.js';
import { loadTemplates, type Template } from './templates.js';
import { FileOverLimit, StackDetectionError, type DetectedStack, type RepoFiles, type StackName } from './types.js';
import type { Refiner } from './refiner.js';
import { detectNode } from './node.js';
import { detectPython } from './python.js';
import { detectGo } from './go.js';
import { detectRuby } from './ruby.js';
import { detectRust } from './rust.js';
import { detectElixir } from './elixir.js';
import { detectDocker } from './docker.js';
import { detectStatic } from './static.js';
import { firstControl, MAX_COMMAND_CHARS, MAX_FILE_CHARS } from './lines.js';
import { procfileProcess } from './procfile.js';

export { loadTemplates, type Template } from './templates.js';
export { FileOverLimit, StackDetectionError, type DetectedStack, type RepoFiles, type StackName } from './types.js';

/**
 * The repository as the detectors may read it: no file above MAX_FILE_CHARS, whatever RepoFiles was
 * given (the GitHub client refuses them too), so every parser's work is bounded by the file size.
 */
function sizeCapped(files: RepoFiles): RepoFiles {
  return {
    list: files.list,
    dirs: files.dirs,
    async read(path) {
      const text = await files.read(path);
      if (text !== null && text.length > MAX_FILE_CHARS) throw new FileOverLimit(path);
      return text;
    },
    ...(files.listDir ? { listDir: files.listDir.bind(files) } : {}),
  };
}

const REFINERS: Record<StackName, Refiner> = {
  node: detectNode, python: detectPython, go: detectGo, ruby: detectRuby,
  rust: detectRust, elixir: detectElixir, docker: detectDocker, static: detectStatic,
};

/**
 * Decides how Render should build and run a repository from its root files.
 * Order: a usable render.yaml web service, then presets by priority (Dockerfile first, plain
 * static last). A repo's render.yaml is returned raw in `blueprint`, unless it is empty (blank lines and
 * comments only: no Blueprint). `repo` (`owner/name`) is the
 * repository the files are from: a render.yaml service built from another one (its `repo:`) is not used.
 * `branch` is the branch they are from, the one deployed: the reason says when the service names another.
 */
export async function detectStack(repoFiles: RepoFiles, opts: { templates?: Template[]; repo?: string; branch?: string } = {}): Promise<DetectedStack> {
  const files = sizeCapped(repoFiles);
  const raw = files.list.includes('render.yaml') ? ((await files.read('render.yaml')) ?? undefined) : undefined;
  // An empty render.yaml (blank lines and comments only) declares nothing: no Blueprint, as if there were
  // no file. Passed on, the deploy form said it "is checked with Render before deploying" while a deploy,
  // taking an empty string for no file, checked nothing, and the form's check reported the file invalid.
  const blueprint = raw === undefined || isEmptyBlueprint(raw) ? undefined : raw;
  const withBlueprint = (d: DetectedStack): DetectedStack => (blueprint === undefined ? d : { ...d, blueprint });

  if (blueprint !== undefined) {
    const declared = stackFromBlueprint(blueprint, opts.repo, opts.branch);
    if (declared) return withBlueprint(printableFields(declared));
  }
  const templates = [...(opts.templates ?? await loadTemplates())].sort((a, b) => b.detect.priority - a.detect.priority);
  const misses: string[] = [];
  for (const t of templates) {
    if (!t.detect.files.some((f) => files.list.includes(f)) && !t.detect.dirs.some((d) => files.dirs.includes(d))) continue;
    const result = await REFINERS[t.stack](files, t);
    if (typeof result !== 'string') return withBlueprint(printableFields(await workerFromProcfile(files, result)));
    misses.push(result);
  }
  const looked = [...new Set(templates.flatMap((t) => t.detect.files.filter((f) => /\./.test(f) || /^[A-Z]/.test(f))))].join(', ');
  const detail = misses.length ? ` (${misses.join('; ')})` : '';
  // Commands of one's own need a runtime to run on, which only the repository's files can name.
  const remedy = runtimeNamed(files.list, templates) === null
    ? 'Add a Dockerfile or a render.yaml, or the file your language\'s build reads (package.json, requirements.txt, go.mod…): build and start commands alone do not say which runtime to build on.'
    : 'Add a Dockerfile or a render.yaml, or enter the build and start commands yourself.';
  throw new StackDetectionError(`We could not tell how to build this repository${detail}. Looked at its root for ${looked}. ${remedy}`);
}

/** Render's native runtimes: the ones that run a build and a start command (not a Docker image, not a static site's files). */
const COMMAND_RUNTIMES: ReadonlySet<string> = new Set(['node', 'python', 'go', 'ruby', 'rust', 'elixir']);

function runtimeNamed(list: string[], templates: Template[]): string | null {
  const named = [...templates].sort((a, b) => b.detect.priority - a.detect.priority)
    .find((t) => COMMAND_RUNTIMES.has(t.runtime) && t.detect.files.some((f) => list.includes(f)));
  return named?.runtime ?? null;
}

/**
 * The native runtime a deploy with its own build and start commands runs on, where detection could not
 * settle the commands: the one the repository's root files name (package.json: node, Cargo.toml:
 * rust…; the highest-priority preset's). The commands say how to build, not with which language's
 * toolchain, so a root that names none is refused, saying what to add, rather than guessed at.
 */
export async function runtimeForOwnCommands(files: Pick<RepoFiles, 'list'>, opts: { templates?: Template[] } = {}): Promise<string> {
  const templates = opts.templates ?? await loadTemplates();
  const runtime = runtimeNamed(files.list, templates);
  if (runtime !== null) return runtime;
  const markers = [...new Set(templates.filter((t) => COMMAND_RUNTIMES.has(t.runtime)).flatMap((t) => t.detect.files))].join(', ');
  throw new StackDetectionError(
    `Your build and start commands need a runtime to run on, and this repository's root names none: it has none of ${markers}. ` +
    'Add the file your language\'s build reads, or a Dockerfile or a render.yaml.',
  );
}

/**
 * A Procfile with a `worker:` process and no `web:` one is a background worker (Heroku's convention,
 * which Render follows for such repositories): same build, the worker's command as the start command.
 */
async function workerFromProcfile(files: RepoFiles, found: DetectedStack): Promise<DetectedStack> {
  if (found.serviceType !== 'web_service' || found.runtime === 'docker' || !files.list.includes('Procfile')) return found;
  const procfile = await files.read('Procfile');
  if (procfileProcess(procfile, 'web') !== null) return found;
  const worker = procfileProcess(procfile, 'worker');
  if (worker === null) return found;
  return { ...found, serviceType: 'background_worker', startCommand: worker, reason: `${found.reason} The Procfile declares a worker: process and no web: one, so it runs as a background worker.` };
}

/**
 * What was found, refused when a command holds a control character (a tab or, from a render.yaml
 * block, a line break aside) or a bidirectional override, or a path holds any: Render would use what
 * the deploy form cannot show.
 */
function printableFields(found: DetectedStack): DetectedStack {
  const fields: Array<[string, string | null | undefined, string]> = [
    ['build command', found.buildCommand, '\t\n'], ['start command', found.startCommand, '\t\n'],
    ['Dockerfile path', found.dockerfilePath, ''], ['publish path', found.publishPath, ''], ['Docker context', found.dockerContext, ''], ['root directory', found.rootDir, ''],
  ];
  for (const [label, value, allowed] of fields) {
    const bad = value === null || value === undefined ? null : firstControl(value, allowed);
    if (bad !== null) {
      throw new StackDetectionError(`The ${label} this repository declares contains the invisible or control character ${bad}, which it cannot need. It comes from: ${found.reason} Remove it, or enter the build and start commands yourself.`);
    }
  }
  // A deploy request takes commands up to MAX_COMMAND_CHARS: a longer one could be shown but not deployed.
  for (const [label, value] of [['build command', found.buildCommand], ['start command', found.startCommand]] as const) {
    if (value && value.length > MAX_COMMAND_CHARS) {
      throw new StackDetectionError(`The ${label} this repository gives is ${value.length.toLocaleString('en-US')} characters long, more than the ${MAX_COMMAND_CHARS.toLocaleString('en-US')} a deploy accepts. It comes from: ${found.reason} Put it in a script in the repository, or enter the build and start commands yourself.`);
    }
  }
  return found;
}
