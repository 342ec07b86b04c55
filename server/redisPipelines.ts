import { Pipeline, type Redis } from 'ioredis';

/** The ioredis internals this touches (ioredis 6: utils/Commander.js, Pipeline.js, transaction.js). */
interface Internals {
  scriptsSet: Record<string, unknown>;
  addedBuiltinSet: Set<string>;
  defineCommand(name: string, definition: unknown): void;
  addBuiltinCommand(name: string): void;
  pipeline(commands?: unknown[][]): Pipeline;
}

const NO_SCRIPTS: Record<string, unknown> = Object.freeze({});
const NO_BUILTINS = new Set<string>();

/**
 * ioredis' Pipeline constructor copies every script a connection defines (and its Buffer variant) onto
 * each new pipeline, and an auto-pipelined connection builds a pipeline for every batch: on BullMQ's
 * connections, ~60 scripts × 2 properties per batch, 3% of the worker's busy time in the pipeline bench
 * (bench/README.md). Here the connection's pipelines are of a subclass that holds those methods on its
 * prototype, built once and again only when a script or command is added; each pipeline is constructed
 * while the connection shows no scripts, so the copying loop has nothing to copy. The methods are the
 * very functions ioredis would have copied, so commands behave the same. Left as is (ioredis' own
 * pipelines) when the internals are not what this expects.
 */
export function sharedPipelineScripts(redis: Redis): Redis {
  const r = redis as unknown as Internals;
  if (typeof r.scriptsSet !== 'object' || !(r.addedBuiltinSet instanceof Set) || typeof r.pipeline !== 'function') return redis;
  let Scripted: (new (redis: Redis) => Pipeline) | null = null;

  const scriptedClass = () => {
    const cls = class extends Pipeline {};
    const proto = cls.prototype as unknown as Record<string, unknown>;
    const own = r as unknown as Record<string, unknown>;
    for (const name of [...Object.keys(r.scriptsSet), ...r.addedBuiltinSet]) {
      proto[name] = own[name];
      proto[`${name}Buffer`] = own[`${name}Buffer`];
    }
    return cls;
  };

  const define = r.defineCommand;
  r.defineCommand = function (name, definition) { define.call(this, name, definition); Scripted = null; };
  const addBuiltin = r.addBuiltinCommand;
  r.addBuiltinCommand = function (name) { addBuiltin.call(this, name); Scripted = null; };

  r.pipeline = function (commands) {
    Scripted ??= scriptedClass();
    const { scriptsSet, addedBuiltinSet } = r;
    r.scriptsSet = NO_SCRIPTS;
    r.addedBuiltinSet = NO_BUILTINS;
    let pipeline: Pipeline;
    try {
      pipeline = new Scripted(redis);
    } finally {
      r.scriptsSet = scriptsSet;
      r.addedBuiltinSet = addedBuiltinSet;
    }
    if (Array.isArray(commands)) pipeline.addBatch(commands as Parameters<Pipeline['addBatch']>[0]);
    return pipeline;
  };
  return redis;
}
