import type { TestFn } from 'ava';
import type Router from '@koa/router';
import { startStack, type Stack, type StackOptions } from './stack.js';
import { startPipelineStack } from './pipelineStack.js';
import type { TestWorker } from './pipeline.js';
import { discoverRoutes, specsFor, uncatalogued, type RouteSpec } from './attack.js';
import { witnessSecrets, type SecretWitness } from './secretScan.js';
import { sharedFixture } from './fixture.js';

/**
 * What every proof-by-attack suite starts from: the real stack, its router walked for the routes it
 * really mounts, and a witness of every secret it hands out (for the end-of-suite scan).
 */
interface AttackStack {
  stack: Stack;
  witness: SecretWitness;
  /** The catalogue entries of every mounted route; empty when some route is not catalogued. */
  specs: RouteSpec[];
  /** Mounted routes missing from ROUTE_CATALOG (each suite's first test fails on any). */
  unknownRoutes: string[];
  /** With `{ worker: true }`: a real worker, so deploys go live. */
  worker?: TestWorker;
  close(): Promise<void>;
}

async function startAttackStack(opts: StackOptions & { worker?: boolean }): Promise<AttackStack> {
  const { worker: withWorker, ...stackOpts } = opts;
  let router: Router | undefined;
  const withRouter = { ...stackOpts, appOptions: { ...stackOpts.appOptions, onRouter: (r: Router) => { router = r; } } };
  const started = withWorker ? await startPipelineStack(withRouter) : { stack: await startStack(withRouter), worker: undefined };
  const close = 'close' in started ? () => started.close() : () => started.stack.close();
  if (!router) {
    await close();
    throw new Error('the app mounted no router (onRouter was not called)');
  }
  const discovered = discoverRoutes(router);
  const unknownRoutes = uncatalogued(discovered);
  return {
    stack: started.stack, worker: started.worker, close, unknownRoutes,
    witness: witnessSecrets(started.stack),
    specs: unknownRoutes.length ? [] : specsFor(discovered),
  };
}

/** An attack stack for the whole file: `useAttackStack(test, opts, async (s) => { ({ stack, specs } = s); … })`. */
export function useAttackStack(test: TestFn, opts: StackOptions & { worker?: boolean }, started: (s: AttackStack) => unknown): void {
  sharedFixture(test, () => startAttackStack(opts), started);
}
