import type { ServiceTypeName } from './serviceTypes.js';
import { MAX_FILE_CHARS, replaceControls } from './lines.js';
import type { AutoDeploy } from '../render/types.js';

export const STACKS = ['node', 'python', 'go', 'ruby', 'rust', 'elixir', 'docker', 'static'] as const;
export type StackName = (typeof STACKS)[number];

/** The repository as detection sees it: root entry names, and a lazy reader for any path. */
export interface RepoFiles {
  /** The root's files (a directory named Dockerfile is not a Dockerfile). */
  list: string[];
  /** The root's directories. */
  dirs: string[];
  /** File text, or null when it does not exist; FileOverLimit when it exists but is larger than detection reads. */
  read(path: string): Promise<string | null>;
  /**
   * The entries of a directory below the root, or null when it is none or cannot be listed whole.
   * Optional: without it detection cannot look below the root's names. Detectors list only where those
   * names cannot tell, one directory at most (go.ts: cmd/ of a module with no Go file at its root).
   */
  listDir?(path: string): Promise<DirEntries | null>;
}

/** One directory's entries by name. */
export interface DirEntries { files: string[]; dirs: string[] }

export interface DetectedStack {
  stack: StackName;
  serviceType: ServiceTypeName;
  /** Cron jobs: the schedule render.yaml declares. */
  schedule?: string;
  /** Render runtime enum value; 'static' for static sites. */
  runtime: string;
  /** '' when nothing needs building (docker, plain static). */
  buildCommand: string;
  /** null for docker (the image's CMD) and static sites. */
  startCommand: string | null;
  publishPath?: string;
  /** Docker only: Render's dockerfilePath. */
  dockerfilePath?: string;
  /** Docker only: Render's dockerContext, when render.yaml names one (else the root, '.'). */
  dockerContext?: string;
  /** render.yaml's rootDir (a monorepo's service): where Render runs the commands, the service's files. */
  rootDir?: string;
  /** render.yaml's auto-deploy for the service (autoDeployTrigger, else autoDeploy), as POST /services takes it; absent: 'yes'. */
  autoDeploy?: AutoDeploy;
  /** One sentence for the user: why this stack and these commands. */
  reason: string;
  /** The repository's own render.yaml, raw, when it has one. */
  blueprint?: string;
}

/** Nothing recognisable: the message is shown to the user as is. */
export class StackDetectionError extends Error {
  override readonly name = 'StackDetectionError';

  /**
   * The message quotes the repository's text (a dependency's name from package.json, a path): a control or
   * invisible character in it is shown as U+FFFD, so the message is one line as written wherever it goes (the
   * deployment page, the commit status, Slack, a CI job's log, where a line starting "::error::" is a command).
   */
  constructor(message: string) {
    super(replaceControls(message));
  }
}

/** A file detection would read is larger than it reads (MAX_FILE_CHARS): it exists, but cannot be looked into. */
export class FileOverLimit extends StackDetectionError {
  readonly path: string;

  constructor(path: string) {
    super(`${path} is larger than ${MAX_FILE_CHARS / 1024} KiB, too large to read for stack detection.`);
    this.path = path;
  }
}
