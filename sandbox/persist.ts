import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * A simulator's world kept in one JSON file, so `npm start` restarts keep what the demo user built
 * (services, deploys, tokens) in step with the Redis records that point at them.
 * Writes are debounced (a burst of requests costs one write) and atomic (temp file + rename: a
 * crash mid-write leaves the previous file, never half a file).
 */
interface JsonStateFile {
  /** The parsed file, or null when there is none yet. A file that is not JSON throws (say which file). */
  load(): unknown;
  /** Something changed: write within `debounceMs`. */
  changed(): void;
  /** Write now if anything changed since the last write. */
  flush(): void;
  /**
   * Write now, then never again (the simulator is closing): a response that finishes after its close
   * marked the world changed, and its debounced write put this closed world over the file a simulator
   * started since on it had written (a test restarting the simulator lost the account it had just added).
   */
  close(): void;
}

export function createJsonStateFile(file: string, snapshot: () => unknown, opts: { debounceMs?: number } = {}): JsonStateFile {
  const debounceMs = opts.debounceMs ?? 300;
  let timer: NodeJS.Timeout | null = null;
  let dirty = false;
  let lastWritten: string | null = null;
  let closed = false;

  const write = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (!dirty) return;
    dirty = false;
    const text = JSON.stringify(snapshot());
    if (text === lastWritten) return;
    mkdirSync(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    // 0600: the simulated world holds the demo key and simulated GitHub tokens.
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, file);
    lastWritten = text;
  };

  return {
    load() {
      if (!existsSync(file)) return null;
      const text = readFileSync(file, 'utf8');
      try {
        const parsed: unknown = JSON.parse(text);
        lastWritten = text;
        return parsed;
      } catch {
        throw new Error(`${file} is not valid JSON. Delete it (and the Redis data next to it) to start the sandbox afresh.`);
      }
    },
    changed() {
      if (closed) return;
      dirty = true;
      if (timer) return;
      timer = setTimeout(() => {
        try { write(); } catch (err) { process.stderr.write(`sandbox: could not save ${file}: ${(err as Error).message}\n`); }
      }, debounceMs);
      timer.unref();
    },
    flush: write,
    close() {
      write();
      closed = true;
    },
  };
}
