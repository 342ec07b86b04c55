import { fromTemplate, procfileStart, type Refiner } from './refiner.js';
import { linesOf } from './lines.js';

/**
 * The binary cargo builds: the first [[bin]] name, else [package] name. A tiny reader for the two
 * keys we need rather than a TOML dependency; it only looks at `name = "…"` inside those tables.
 * One pass over lines of bounded length; both patterns are anchored and pass the regex-safety test.
 */
function cargoBinaryName(toml: string): string | null {
  let table = '';
  let pkg: string | null = null;
  let bin: string | null = null;
  for (const { text: line, clipped } of linesOf(toml)) {
    if (clipped) continue;
    const header = /^\s*\[\[?\s*([\w.-]+)\s*\]\]?\s*(#.*)?$/.exec(line);
    if (header) {
      table = header[1]!;
      continue;
    }
    const name = /^\s*name\s*=\s*["']([^"']+)["']/.exec(line)?.[1];
    if (!name) continue;
    if (table === 'package' && pkg === null) pkg = name;
    if (table === 'bin' && bin === null) bin = name;
  }
  return bin ?? pkg;
}

export const detectRust: Refiner = async (files, t) => {
  const toml = (await files.read('Cargo.toml')) ?? '';
  const procfile = await procfileStart(files);
  if (procfile) return fromTemplate(t, 'Rust crate (Cargo.toml); starts with the Procfile web: command.', { startCommand: procfile });
  const crate = cargoBinaryName(toml);
  if (!crate || !/^[\w-]+$/.test(crate)) return 'Cargo.toml has no [package] or [[bin]] name (a workspace root?)';
  return fromTemplate(t, `Rust crate "${crate}" (Cargo.toml); builds in release mode and runs the binary.`, {
    startCommand: (t.startCommand ?? './target/release/{crate}').replace('{crate}', crate),
  });
};
