import type { TestFn } from 'ava';
import { startStack, type Stack, type StackOptions } from './stack.js';
import { startTestWorker, type TestWorker } from './pipeline.js';
import { sharedFixture } from './fixture.js';
import type { RenderSimOptions } from '../../sandbox/render/index.js';

/** Render's deploy phases on the simulator, short: a deploy is live in about a tenth of a second. */
export const QUICK_PHASES: RenderSimOptions['phaseMs'] = { created: 10, build_in_progress: 60, pre_deploy_in_progress: 10, update_in_progress: 20 };

/** The real stack plus a real worker on it: deploys go from request to live. */
export interface PipelineStack {
  stack: Stack;
  worker: TestWorker;
  close(): Promise<void>;
}

export async function startPipelineStack(opts: StackOptions = {}): Promise<PipelineStack> {
  const stack = await startStack(opts);
  let worker: TestWorker;
  try {
    worker = await startTestWorker(stack);
  } catch (err) {
    await stack.close();
    throw err;
  }
  return {
    stack, worker,
    async close() { await worker.close(5_000); await stack.close(); },
  };
}

/**
 * A pipeline stack for the whole file: `usePipelineStack(test, opts, (p) => ({ stack, worker } = p))`.
 * The worker it closes is the one it started (a suite that swaps workers closes its own).
 */
export function usePipelineStack(test: TestFn, opts: StackOptions, started: (p: PipelineStack) => unknown): void {
  sharedFixture(test, () => startPipelineStack(opts), started);
}
