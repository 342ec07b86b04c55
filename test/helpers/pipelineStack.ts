import type { TestFn } from 'ava';
import { startStack, type Stack, type StackOptions } from './stack.js';
import { startTestWorker, type TestWorker } from './pipeline.js';
import { sharedFixture } from './fixture.js';
import type { RenderSimOptions } from '../../sandbox/render/index.js';
import type { GitHubSimulator } from '../../sandbox/github/index.js';
import { branchCommitsFromGitHub, headsFromGitHub } from '../../sandbox/seed.js';
import type { LogTailOptions } from '../../server/deployments/logTail.js';

/** Render's deploy phases on the simulator, short: a deploy is live in about a tenth of a second. */
export const QUICK_PHASES: RenderSimOptions['phaseMs'] = { created: 10, build_in_progress: 60, pre_deploy_in_progress: 10, update_in_progress: 20 };

/** The live log tail's timing, short: a build polled every 150 ms, its window settled after 150 ms. */
export const QUICK_LOG_TAIL: LogTailOptions = { buildIntervalMs: 150, runtimeIntervalMs: 300, settleMs: 150, leaseMs: 3_000 };

/** The real stack plus a real worker on it: deploys go from request to live. */
export interface PipelineStack {
  stack: Stack;
  worker: TestWorker;
  /** Another worker on the stack (a suite that stops its worker to crash one of its own): closed with the rest. */
  startWorker(opts?: Parameters<typeof startTestWorker>[1]): Promise<TestWorker>;
  /** Every worker it started (closing twice is harmless), then the stack. */
  close(): Promise<void>;
}

/** A stack's options, and the first worker's (e.g. a Render timeout of its own). */
export type PipelineStackOptions = StackOptions & { worker?: Parameters<typeof startTestWorker>[1] };

export async function startPipelineStack({ worker: firstWorker, ...opts }: PipelineStackOptions = {}): Promise<PipelineStack> {
  const stack = await startStack(opts);
  const workers: TestWorker[] = [];
  const startWorker = async (workerOpts?: Parameters<typeof startTestWorker>[1]) => {
    const worker = await startTestWorker(stack, workerOpts);
    workers.push(worker);
    return worker;
  };
  let worker: TestWorker;
  try {
    worker = await startWorker(firstWorker);
  } catch (err) {
    await stack.close();
    throw err;
  }
  return {
    stack, worker, startWorker,
    async close() {
      await Promise.all(workers.map((w) => w.close(5_000)));
      await stack.close();
    },
  };
}

/**
 * A pipeline stack for the whole file: `usePipelineStack(test, opts, (p) => ({ stack, worker } = p))`.
 */
export function usePipelineStack(test: TestFn, opts: PipelineStackOptions, started: (p: PipelineStack) => unknown): void {
  sharedFixture(test, () => startPipelineStack(opts), started);
}

/**
 * usePipelineStack with quick phases, where Render's builds check out what the GitHub simulator has (as
 * in sandbox mode): a new service's first deploy builds the branch's head, and a named commit the branch
 * lacks fails its checkout. `worker`: the first worker's options (a clock of its own, say).
 */
export function useGitHubLinkedPipelineStack(test: TestFn, started: (p: PipelineStack) => unknown, worker?: PipelineStackOptions['worker']): void {
  let github: GitHubSimulator | undefined;
  usePipelineStack(test, {
    worker,
    renderOptions: {
      phaseMs: QUICK_PHASES,
      commitOf: (repo, branch) => (github ? headsFromGitHub(github)(repo, branch) : null),
      commitOnBranch: (repo, branch, sha) => (github ? branchCommitsFromGitHub(github)(repo, branch, sha) : null),
    },
  }, (p) => {
    github = p.stack.github;
    return started(p);
  });
}
