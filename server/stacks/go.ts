import { fromTemplate, procfileStart, type Refiner } from './refiner.js';
import { StackDetectionError, type RepoFiles } from './types.js';

/** A Go source file the go command builds (a _test.go file alone is no package to build). */
const isGoSource = (name: string) => name.endsWith('.go') && !name.endsWith('_test.go');

/** A directory `./...` skips (go help packages: names starting with . or _, and testdata). */
const goIgnores = (dir: string) => dir.startsWith('.') || dir.startsWith('_') || dir === 'testdata';

/** A path the build command can hold unquoted: what Go's command directories are named with. */
const isPlainName = (name: string) => name !== '' && [...name].every((ch) => (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch === '-' || ch === '_' || ch === '.');

/**
 * The package to build when it is not the root's: Go's layout for a module's commands
 * (go.dev/doc/modules/layout) puts each main package in cmd/<name>/ and no .go file at the root, where
 * `go build` finds "no Go files". cmd/ is listed (one listing, only then) for its one command: `./cmd`
 * itself when it holds the Go files, else its one directory. Null: the root is the package, as before.
 * Several commands, or a cmd/ that cannot be listed, are refused: a guess would be a build that fails.
 */
async function commandPackage(files: RepoFiles): Promise<string | null> {
  if (files.list.some(isGoSource) || !files.dirs.includes('cmd')) return null;
  const refuse = (why: string) => new StackDetectionError(
    `This Go module has no .go file at its root and keeps its main package under cmd/, but ${why}. ` +
    'Add a render.yaml naming the build command (go build -o app ./cmd/<name>), or enter the build and start commands yourself.',
  );
  const cmd = files.listDir ? await files.listDir('cmd') : null;
  if (cmd === null) throw refuse('cmd/ could not be listed to find which command to build');
  const candidates = [
    ...(cmd.files.some(isGoSource) ? ['cmd'] : []),
    ...cmd.dirs.filter((d) => !goIgnores(d)).map((d) => `cmd/${d}`),
  ];
  if (candidates.length === 0) throw refuse('cmd/ holds no Go package');
  if (candidates.length > 1) throw refuse(`cmd/ holds ${candidates.length} commands (${candidates.slice(0, 5).join(', ')}${candidates.length > 5 ? ', …' : ''}), and which one to deploy is yours to say`);
  const [only] = candidates as [string];
  if (!only.split('/').every(isPlainName)) throw refuse('its directory name is not one a build command can carry as is');
  return `./${only}`;
}

export const detectGo: Refiner = async (files, t) => {
  const pkg = await commandPackage(files);
  const over = pkg === null ? {} : { buildCommand: `${t.buildCommand} ${pkg}` };
  const builds = pkg === null ? 'builds the root package into ./app' : `builds ${pkg.slice(2)}/, its one command (no .go file at the root), into ./app`;
  const procfile = await procfileStart(files);
  if (procfile) return fromTemplate(t, `Go module (go.mod); ${builds} and starts with the Procfile web: command.`, { ...over, startCommand: procfile });
  return fromTemplate(t, `Go module (go.mod); ${builds}.`, over);
};
