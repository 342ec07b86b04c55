// Runs the tests' TypeScript on Node's own type transform (`--experimental-transform-types`, given with
// this file's `--import` in ava.config.js and, for the processes tests start, in `TYPESCRIPT_ARGS`,
// test/helpers/processes.ts), in place of tsx. Two things make that work and pay:
// - our imports name `.js` files, as tsc's nodenext resolution wants, where the source is `.ts`: this hook
//   resolves such an import from a `.ts` module to the `.ts` file, or to the `.js` file when there is none;
// - V8's compile cache, which also keeps Node's transform of each file, so a module is transformed and
//   compiled once per machine, not once per process (a process writes its entries when it exits normally;
//   children killed with SIGKILL write none, and read those the test files wrote).
// A test file's process under tsx spent ~2.5 s of CPU loading the stack's modules (tsx's loader thread, a
// message per module) at load 10; here ~1.5 s, what the tsc build costs under plain node.
import { enableCompileCache, registerHooks } from 'node:module';

enableCompileCache();

registerHooks({
  resolve(specifier, context, nextResolve) {
    // A relative `.js` import from a `.ts` module: its `.ts` source first (the usual case), else the `.js`.
    const fromTypeScript = specifier.endsWith('.js') && (specifier.startsWith('./') || specifier.startsWith('../')) && context.parentURL?.endsWith('.ts');
    if (!fromTypeScript) return nextResolve(specifier, context);
    try {
      return nextResolve(`${specifier.slice(0, -3)}.ts`, context);
    } catch (error) {
      if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
      return nextResolve(specifier, context);
    }
  },
});
