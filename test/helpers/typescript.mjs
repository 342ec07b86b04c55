// Runs the tests' TypeScript on Node's own type stripping (on by default in Node 24; tsconfig.json's
// erasableSyntaxOnly keeps out what it cannot strip: enums, namespaces, parameter properties), in place of
// tsx. Loaded with `--import` (ava.config.js; `TYPESCRIPT_ARGS` in test/helpers/processes.ts for the
// processes tests start). Two things make that work and pay:
// - our imports name `.js` files, as tsc's nodenext resolution wants, where the source is `.ts`: this hook
//   resolves such an import from a `.ts` module to the `.ts` file, or to the `.js` file when there is none;
// - Node's compile cache (`enableCompileCache`): a module's compiled code is kept on disk, so it is
//   compiled once per machine, not once per process (a process writes its entries when it exits normally;
//   children killed with SIGKILL write none, and read those the test files wrote).
// Loading the stack's modules (server, workers, simulators) took ~2.5 s of CPU under tsx (its loader thread,
// a message per module) at load 10; here ~1.5 s, about what the tsc build costs under plain node (1.8 s
// without the compile cache).
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
