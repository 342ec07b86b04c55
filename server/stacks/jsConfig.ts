import { isSpace, linesOf, occurrences, skipSpaces } from './lines.js';

/**
 * Reading a front-end framework's JavaScript/TypeScript config (svelte.config.js, astro.config.mjs,
 * next.config.js) for the one or two settings that decide what its build is: which adapter, which
 * mode, which output. Only what a config states literally on one line is read (`mode: 'standalone'`,
 * `import adapter from '@sveltejs/adapter-node'`); anything else is reported as unreadable, for the
 * caller to refuse rather than guess. Like every reader here (lines.ts): one pass over the lines, no
 * regex over the file, and each match looks at most MAX_VALUE_CHARS ahead.
 */

/** Longest string value or module name read from a config: far longer than any directory, mode or package name. */
const MAX_VALUE_CHARS = 256;

const isQuote = (ch: string | undefined): boolean => ch === "'" || ch === '"' || ch === '`';
const isIdentifierChar = (ch: string | undefined): boolean =>
  ch !== undefined && ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch === '_' || ch === '$');
// What a package name (a module specifier without a path) may hold.
const isPackageChar = (ch: string | undefined): boolean => isIdentifierChar(ch) || ch === '-' || ch === '.' || ch === '/' || ch === '@';

/**
 * The lines of a config worth reading: a line too long to read whole is dropped (no setting we read needs
 * 4 KiB), so are comment lines (`//`, and `/*`, `*` of a block comment, which Svelte's and Astro's templates
 * fill with examples), and a `//` comment after code (at the line's start or after a space, not the
 * `//` of "https://") is cut off.
 */
export function configLines(text: string): string[] {
  const out: string[] = [];
  for (const { text: line, clipped } of linesOf(text)) {
    if (clipped) continue;
    const code = withoutLineComment(line);
    const head = code.trimStart();
    if (head === '' || head.startsWith('/*') || head.startsWith('*')) continue;
    out.push(code);
  }
  return out;
}

function withoutLineComment(line: string): string {
  for (const at of occurrences(line, '//')) if (at === 0 || isSpace(line[at - 1])) return line.slice(0, at);
  return line;
}

/**
 * The quoted package names starting with `prefix` on these lines (`'@sveltejs/adapter-node'` for the
 * prefix "@sveltejs/adapter-"; the prefix alone, quoted, too), each once, in the order found: the
 * modules a config imports.
 */
export function quotedPackages(lines: readonly string[], prefix: string): string[] {
  const found = new Set<string>();
  for (const line of lines) {
    for (const at of occurrences(line, prefix)) {
      const quote = line[at - 1];
      if (!isQuote(quote)) continue;
      let end = at + prefix.length;
      while (end < line.length && end - at < MAX_VALUE_CHARS && isPackageChar(line[end])) end++;
      if (line[end] === quote) found.add(line.slice(at, end));
    }
  }
  return [...found];
}

/** What a config gives a key: the string literals it is set to, and whether it is also set to something else. */
export interface KeyValues {
  /** Each plain string literal the key is given (`mode: 'standalone'`), in order. */
  strings: string[];
  /** The key is also given a value that is not one plain literal: a variable, a call, an expression, a value on the next line. */
  other: boolean;
}

/**
 * The values `key` is given as an object member on these lines: `key: 'value'`, `"key": "value"`. A
 * member access (`config.key`) or a longer name (`outputFileTracing:`) is not the key.
 */
export function keyValues(lines: readonly string[], key: string): KeyValues {
  const result: KeyValues = { strings: [], other: false };
  if (key === '') return result;
  for (const line of lines) {
    for (const at of occurrences(line, key)) {
      const before = line[at - 1];
      const quotedKey = isQuote(before);
      if (!quotedKey && (isIdentifierChar(before) || before === '.')) continue;
      let i = at + key.length;
      if (quotedKey) {
        if (line[i] !== before) continue;
        i++;
      } else if (isIdentifierChar(line[i])) continue;
      i = skipSpaces(line, i);
      if (line[i] !== ':') continue;
      i = skipSpaces(line, i + 1);
      const value = stringLiteralAt(line, i);
      if (value === null) result.other = true;
      else result.strings.push(value);
    }
  }
  return result;
}

/**
 * The plain string literal starting at `start` and standing alone as a value (followed by `,`, `}`, `)`
 * or the line's end), or null: no escapes, no template substitution, at most MAX_VALUE_CHARS long.
 */
function stringLiteralAt(line: string, start: number): string | null {
  const quote = line[start];
  if (!isQuote(quote)) return null;
  let end = start + 1;
  while (end < line.length && end - start <= MAX_VALUE_CHARS && line[end] !== quote && line[end] !== '\\') end++;
  if (line[end] !== quote) return null;
  const value = line.slice(start + 1, end);
  if (quote === '`' && value.includes('${')) return null;
  const next = line[skipSpaces(line, end + 1)];
  return next === undefined || next === ',' || next === '}' || next === ')' || next === ';' ? value : null;
}
