import { parse } from 'yaml';
import { linesOf, MAX_LINE_CHARS } from './lines.js';

/**
 * The `services:` entries of a render.yaml, read line by line in linear time: for each entry, the
 * few scalar fields detection uses. Render's own POST /blueprints/validate judges the whole file; this
 * only has to find the web service, and must never stall on a hostile file (a general YAML parser
 * took seconds on 256 KiB of blank lines, nested brackets or distinct keys).
 *
 * It reads the block style Render documents (docs/render-api.md, "Blueprint files"): `services:`
 * sequences of mappings, one `key: value` per line, at the top level, under `ungrouped:` and under
 * `projects:` → `environments:` (spec/render.yaml.json), in document order; a sequence's "-" may sit at
 * its key's column (Render's tutorials write it so). Values may be plain, quoted or block
 * scalars. One-line plain and quoted values (what a real Blueprint holds) are read here; the yaml
 * package only ever sees one other value at a time (a few bounded lines), and a file only so many of
 * them (YAML_BUDGET). Anything else it meets on the way (flow collections, anchors and aliases, tags,
 * merge keys, duplicate keys, several documents, tabs as indentation, lines or values over
 * MAX_LINE_CHARS, more values for the yaml package than its budget) makes the answer `null`: "not
 * readable here", and detection falls back to the repository's other files, as for invalid YAML.
 */
type BlueprintEntry = Record<string, unknown> | 'not a mapping';

const FIELDS = new Set(['type', 'name', 'runtime', 'env', 'buildCommand', 'startCommand', 'staticPublishPath', 'dockerfilePath', 'dockerContext', 'dockerCommand', 'schedule', 'rootDir', 'repo',
  // Applied to the service created, or said to be not applied (blueprint.ts autoDeployOf, branchNote).
  'autoDeploy', 'autoDeployTrigger', 'branch']);
/**
 * Fields whose value, when not readable here (an anchor or alias: `branch: &b production` in one service,
 * `branch: *b` in the next; a tag), is left unread, the field declared (so named as not applied), where any
 * other field's makes the file unreadable. They were not read at all before they were applied, and files
 * sharing a branch by an alias were read: made unreadable, such a file was detected from its other files.
 */
const READ_IF_PLAIN = new Set(['autoDeploy', 'autoDeployTrigger', 'branch']);
// A value starting with one of these is a collection, alias, anchor, tag or reserved: not read here.
const UNSUPPORTED_START = new Set(['[', '{', '&', '*', '!', '%', '@', '`']);

// A value's text as written (indentation and escapes included) read here: room for a MAX_LINE_CHARS value.
const MAX_VALUE_SOURCE_CHARS = 2 * MAX_LINE_CHARS;

/**
 * What one file may hand the yaml package, in all: values (each one parser run, ~25–50 µs even for
 * `|\n a`) and their source characters (as counted above; up to ~0.5 µs each, for blank lines in a block
 * scalar). MAX_VALUE_SOURCE_CHARS bounds one value, not the file: 256 KiB of tiny services with
 * block-scalar names was ~20,000 parser runs, 250–400 ms of CPU. A real Blueprint sends few values this
 * way (block scalars, escapes, values over several lines; one-line values are read here), so a file past
 * the budget is not read here, as for invalid YAML; within it, the yaml work stays ~10 ms.
 */
export const YAML_BUDGET = { values: 64, sourceChars: 8 * 1024 } as const;

/** Every key an entry of blueprintServices' answer declares (those whose values it does not read too). */
const DECLARED = new WeakMap<object, ReadonlySet<string>>();
export const declaredKeys = (entry: Record<string, unknown>): ReadonlySet<string> => DECLARED.get(entry) ?? new Set();

class Unreadable extends Error {}
function unreadable(): never {
  throw new Unreadable();
}

interface PendingValue { key: string; keyIndent: number; first: string; more: string[] }

/**
 * The entries of every services sequence, in document order ([] when there is none), or null when not
 * readable here. Render's Blueprint spec (spec/render.yaml.json) puts services in three places: the
 * top-level `services`, `ungrouped.services`, and `projects[].environments[].services`.
 */
export function blueprintServices(raw: string): BlueprintEntry[] | null {
  try {
    return readServices(raw);
  } catch (err) {
    if (err instanceof Unreadable) return null;
    throw err;
  }
}

/**
 * Whether a render.yaml holds nothing (a byte-order mark, spaces, tabs, line breaks and comments only, as
 * YAML counts them): no Blueprint at all. One pass.
 */
export function isEmptyBlueprint(raw: string): boolean {
  let i = raw.startsWith('\uFEFF') ? 1 : 0;
  while (i < raw.length) {
    const ch = raw[i];
    if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n') { i++; continue; }
    // Past YAML's white space, the first character of a line's content: only a comment may be there.
    if (ch !== '#') return false;
    const newline = raw.indexOf('\n', i);
    if (newline === -1) return true;
    i = newline + 1;
  }
  return true;
}

/** The mappings on the way to services (spec/render.yaml.json), and what their keys that lead there hold. */
type MapRole = 'root' | 'ungrouped' | 'project' | 'environment';
type Holds = 'services' | 'projects' | 'environments' | 'ungrouped';
const LEADS: Record<MapRole, ReadonlyMap<string, Holds>> = {
  root: new Map([['services', 'services'], ['projects', 'projects'], ['ungrouped', 'ungrouped']]),
  ungrouped: new Map([['services', 'services']]),
  project: new Map([['environments', 'environments']]),
  environment: new Map([['services', 'services']]),
};

/**
 * A block collection on the way to services. At most six are open at once (the root, projects, a project,
 * its environments, an environment, its services), so a line closes at most that many: the reading stays
 * linear however deep or many the projects and environments.
 */
interface MapFrame {
  kind: 'map'; role: MapRole;
  /** The column of the key or "-" that holds this mapping (-1 for the root). */
  parentIndent: number;
  /** The column of its keys, -1 until its first line. */
  indent: number;
  keys: Set<string>;
  /** Its last key led to a collection read here, now closed: a more-indented line is not that key's. */
  afterRead: boolean;
}
interface SeqFrame {
  kind: 'seq'; holds: 'services' | 'projects' | 'environments';
  /** The column of the key that holds this sequence. */
  parentIndent: number;
  /** The column of its "-", -1 until seen. */
  seqIndent: number;
}
type Frame = MapFrame | SeqFrame;
/** A services entry being read: its fields, its keys, their column, whether the last key is a field read (FIELDS). */
type ServiceItem = { fields: Record<string, unknown>; keys: Set<string>; keyIndent: number; lastRead: boolean } | 'not a mapping';

function readServices(raw: string): BlueprintEntry[] {
  const entries: BlueprintEntry[] = [];
  // The root's column is its first line's (a document may be indented as a whole).
  const stack: Frame[] = [{ kind: 'map', role: 'root', parentIndent: -1, indent: -1, keys: new Set(), afterRead: false }];
  let item = null as ServiceItem | null; // the services entry being read (one services sequence is open at a time)
  let pending = null as PendingValue | null;
  let started = false;
  const budget = { ...YAML_BUDGET };

  const finishItem = () => {
    if (pending && item && item !== 'not a mapping') item.fields[pending.key] = fieldValue(pending, budget);
    pending = null;
    // "-" with nothing under it is a null entry.
    if (item && item !== 'not a mapping' && item.keyIndent !== -1) DECLARED.set(item.fields, item.keys);
    if (item) entries.push(item === 'not a mapping' || item.keyIndent === -1 ? 'not a mapping' : item.fields);
    item = null;
  };
  const close = () => {
    const frame = stack.pop()!;
    if (frame.kind === 'seq' && frame.holds === 'services') finishItem();
  };
  /** A `key: value` line of a mapping on the way: a key leading to services opens its collection. */
  const mapKey = (frame: MapFrame, text: string, indent: number) => {
    const { key, value } = keyLine(text);
    if (frame.keys.has(key)) unreadable(); // duplicate keys are invalid YAML
    frame.keys.add(key);
    frame.afterRead = false;
    const holds = LEADS[frame.role].get(key);
    if (!holds) return;
    if (value === (holds === 'ungrouped' ? '{}' : '[]')) return; // none
    if (value !== '') unreadable(); // flow style, an alias, or not a collection
    stack.push(holds === 'ungrouped'
      ? { kind: 'map', role: 'ungrouped', parentIndent: indent, indent: -1, keys: new Set(), afterRead: false }
      : { kind: 'seq', holds, parentIndent: indent, seqIndent: -1 });
    frame.afterRead = true;
  };
  /** A "- " line of a sequence on the way: a new entry. */
  const seqEntry = (frame: SeqFrame, rest: string, indent: number) => {
    const content = rest.slice(1).trimStart();
    const keyIndent = indent + (rest.length - content.length);
    const empty = content === '' || content.startsWith('#');
    if (!empty && (UNSUPPORTED_START.has(content[0]!) || isDash(content) || content.startsWith('? '))) unreadable();
    if (frame.holds === 'services') {
      finishItem();
      if (empty) { item = { fields: {}, keys: new Set(), keyIndent: -1, lastRead: false }; return; }
      if (!looksLikeKey(content)) {
        if (content.includes(':')) unreadable(); // a key we do not read plainly ("<<", quoted…)
        item = 'not a mapping';
        return;
      }
      item = { fields: {}, keys: new Set(), keyIndent, lastRead: false };
      pending = readKey(item, content, keyIndent);
      item.lastRead = pending !== null;
      return;
    }
    // A project or an environment is a mapping (a null entry holds nothing).
    const role = frame.holds === 'projects' ? 'project' : 'environment';
    if (empty) { stack.push({ kind: 'map', role, parentIndent: indent, indent: -1, keys: new Set(), afterRead: false }); return; }
    const map: MapFrame = { kind: 'map', role, parentIndent: indent, indent: keyIndent, keys: new Set(), afterRead: false };
    stack.push(map);
    mapKey(map, content, keyIndent);
  };

  for (const { text: line, clipped } of linesOf(raw)) {
    if (clipped) unreadable();
    let indent = 0;
    while (line[indent] === ' ') indent++;
    const rest = line.slice(indent);
    const blank = rest.trim() === '';
    if (pending) {
      if (blank || indent > pending.keyIndent) { pending.more.push(line.slice(pending.keyIndent)); continue; }
      if (item && item !== 'not a mapping') item.fields[pending.key] = fieldValue(pending, budget);
      pending = null;
    }
    if (blank || rest.startsWith('#')) continue;
    if (rest.startsWith('\t')) unreadable(); // tabs are not YAML indentation
    if (indent === 0 && (rest === '---' || rest.startsWith('--- ') || rest === '...' || rest.startsWith('%'))) {
      if (started || rest !== '---' && !rest.startsWith('%')) unreadable(); // a second document, or content after a marker
      continue;
    }
    started = true;
    const dash = isDash(rest);

    // The innermost open collection the line belongs to: those it is outside of close (at most six).
    for (;;) {
      const frame = stack.at(-1)!;
      if (frame.kind === 'seq') {
        if (frame.seqIndent === -1) {
          if (dash && indent >= frame.parentIndent) frame.seqIndent = indent;
          else if (indent > frame.parentIndent) unreadable(); // not a block sequence
          else { close(); continue; } // a null value
        }
        if (dash && indent === frame.seqIndent) { seqEntry(frame, rest, indent); break; }
        if (indent <= frame.seqIndent) { close(); continue; }
        // More indented than the "-": the entry's. A project's or environment's mapping, still open, took its lines.
        if (frame.holds !== 'services' || !item) unreadable();
        if (item === 'not a mapping') break;
        if (item.keyIndent === -1) {
          if (dash) unreadable(); // "-" alone, then a sequence: not a mapping we read
          item.keyIndent = indent; // "-" alone, keys on the next lines
        }
        if (indent > item.keyIndent) break; // nested in a field we do not read (envVars, disk, …)
        if (indent < item.keyIndent) unreadable();
        if (dash) {
          // A sequence at its key's column (`envVars:` then `- key: A`): a field we do not read, or a list
          // where we read a scalar.
          if (item.lastRead) unreadable();
          break;
        }
        pending = readKey(item, rest, indent);
        item.lastRead = pending !== null;
        break;
      }
      if (frame.indent === -1) {
        // "ungrouped:" or a "-" alone: a mapping on the next, more-indented lines, or a null value.
        if (indent <= frame.parentIndent) { close(); continue; }
        if (dash && frame.role !== 'root') unreadable(); // a sequence where the spec has a mapping
        frame.indent = indent; // (a root that is a sequence holds no services: its lines are skipped below)
      }
      if (indent < frame.indent) {
        if (frame.role === 'root') unreadable(); // left of the document's own column: invalid YAML
        close();
        continue;
      }
      if (indent > frame.indent || dash) {
        // Under the last key: its value, skipped, unless that key led to a collection read here (closed by now).
        if (frame.afterRead) unreadable();
        break;
      }
      mapKey(frame, rest, indent);
      break;
    }
  }
  while (stack.length > 1) close();
  return entries;
}

/** Records `key:` in the item; returns the pending value when it is a field we read. */
function readKey(item: { keys: Set<string> }, text: string, keyIndent: number): PendingValue | null {
  const { key, value } = keyLine(text);
  if (item.keys.has(key)) unreadable(); // duplicate keys are invalid YAML
  item.keys.add(key);
  return FIELDS.has(key) ? { key, keyIndent, first: value, more: [] } : null;
}

const isDash = (text: string) => text === '-' || text.startsWith('- ');

function looksLikeKey(text: string): boolean {
  const colon = text.indexOf(':');
  return colon > 0 && (colon === text.length - 1 || text[colon + 1] === ' ') && isPlainKey(text.slice(0, colon));
}

/** `key: value` → the key and the value text (comment and spaces trimmed); anything else is unreadable. */
function keyLine(text: string): { key: string; value: string } {
  if (!looksLikeKey(text)) unreadable();
  const colon = text.indexOf(':');
  return { key: text.slice(0, colon), value: withoutComment(text.slice(colon + 1)).trim() };
}

function isPlainKey(key: string): boolean {
  for (const ch of key) {
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch === '_' || ch === '-' || ch === '.')) return false;
  }
  return true;
}

/** A plain value without its ` # comment` (quoted values are left alone: the yaml package reads them). */
function withoutComment(value: string): string {
  const trimmed = value.trimStart();
  if (trimmed.startsWith('"') || trimmed.startsWith("'")) return value;
  if (trimmed.startsWith('#')) return '';
  // A comment starts at a # after a space or tab.
  for (let i = 1; i < value.length; i++) if (value[i] === '#' && (value[i - 1] === ' ' || value[i - 1] === '\t')) return value.slice(0, i);
  return value;
}

/**
 * One field's value: a one-line plain or quoted value directly, read as the yaml package reads it;
 * anything else through the yaml package, one value only, within the file's budget.
 */
function fieldValue(v: PendingValue, budget: { values: number; sourceChars: number }): unknown {
  if (!READ_IF_PLAIN.has(v.key)) return scalarValue(v, budget);
  try {
    return scalarValue(v, budget);
  } catch (err) {
    if (err instanceof Unreadable) return undefined;
    throw err;
  }
}

function scalarValue(v: PendingValue, budget: { values: number; sourceChars: number }): unknown {
  const more = v.more.filter((l) => l.trim() !== '');
  const first = v.first;
  if (first === '' && more.length === 0) return null;
  if (first === '' || UNSUPPORTED_START.has(first[0]!)) unreadable(); // a nested collection, alias, tag…
  const quoted = first[0] === '"' || first[0] === "'";
  const block = first[0] === '|' || first[0] === '>';
  if (!quoted && !block) {
    // A plain scalar: its continuation lines must not be structure, or yaml would parse a whole tree.
    for (const l of more) {
      const t = l.trim();
      if (t.startsWith('#') || isDash(t) || t.startsWith('? ') || t.includes(': ') || t.endsWith(':') || t.includes(' #')) unreadable();
    }
    // A carriage return is a line break to YAML and not to linesOf: such a value is left to the yaml package.
    if (more.length === 0 && !first.includes('\r')) {
      const value = plainScalar(first);
      if (value !== FOR_YAML) return value;
    }
  }
  if (quoted && more.length === 0 && !first.includes('\r')) {
    const value = quotedOnOneLine(first);
    if (value !== null) return value;
  }
  // The yaml package gets a bounded text: behind a block indicator or an open quote, more-indented
  // lines could hold any structure (a sea of keys, entries or aliases took it ~0.5 s at 256 KiB).
  let source = first.length;
  for (const l of v.more) if ((source += l.length + 1) > MAX_VALUE_SOURCE_CHARS) unreadable();
  // And the file only so many such values (YAML_BUDGET), counted before the parser runs.
  if (--budget.values < 0 || (budget.sourceChars -= source) < 0) unreadable();
  if (quoted && !quoteClosesCleanly(first, v.more)) unreadable();
  let doc: unknown;
  try {
    doc = parse(`v: ${first}\n${v.more.join('\n')}`, { uniqueKeys: false, maxAliasCount: 0 });
  } catch {
    unreadable();
  }
  const value = doc && typeof doc === 'object' && 'v' in doc ? (doc).v : unreadable();
  // A value over many lines is bounded like one line: a command or name detection passes on is short.
  if (typeof value === 'string' && value.length > MAX_LINE_CHARS) unreadable();
  return value;
}

/** plainScalar's answer for a value it leaves to the yaml package. */
const FOR_YAML = Symbol('for the yaml package');

// The YAML 1.2 core schema reads these as null or booleans, not strings.
const CORE_WORDS = new Map<string, null | boolean>([
  ['~', null], ['null', null], ['Null', null], ['NULL', null],
  ['true', true], ['True', true], ['TRUE', true], ['false', false], ['False', false], ['FALSE', false],
]);

/**
 * A one-line plain value (comment and spaces trimmed) as the yaml package's core schema reads it: null,
 * a boolean, a number or a string; FOR_YAML when it may not be a scalar at all (`- x`, `a: b`, `,x`),
 * which the yaml package then judges (it refuses them).
 */
function plainScalar(value: string): unknown {
  const word = CORE_WORDS.get(value);
  if (word !== undefined) return word;
  const c = value[0]!;
  if ((c >= '0' && c <= '9') || c === '-' || c === '+' || c === '.') {
    const n = coreNumber(value);
    if (n !== undefined) return n;
  }
  // "-", "?" and ":" start a plain scalar only when a non-space follows; the others never do.
  if ('-?:'.includes(c) && (value.length === 1 || value[1] === ' ' || value[1] === '\t')) return FOR_YAML;
  if (',]}#'.includes(c) || value.includes(': ') || value.includes(':\t') || value.endsWith(':')) return FOR_YAML;
  return value;
}

// The core schema's numbers: yaml 2's own tests (node_modules/yaml/dist/schema/core/int.js, float.js),
// tried in its order and resolved as it resolves them. Anchored, no nested repetition: linear in a line.
const INT_OCT = /^0o[0-7]+$/;
const INT = /^[-+]?[0-9]+$/;
const INT_HEX = /^0x[0-9a-fA-F]+$/;
const FLOAT_NAN = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const FLOAT_EXP = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;

function coreNumber(value: string): number | undefined {
  if (INT_OCT.test(value)) return parseInt(value.slice(2), 8);
  if (INT.test(value)) return parseInt(value, 10);
  if (INT_HEX.test(value)) return parseInt(value.slice(2), 16);
  if (FLOAT_NAN.test(value)) return value.endsWith('nan') || value.endsWith('NaN') || value.endsWith('NAN') ? NaN : value[0] === '-' ? -Infinity : Infinity;
  if (FLOAT_EXP.test(value) || FLOAT.test(value)) return parseFloat(value);
  return undefined;
}

/**
 * A quoted value closed on its own line, as YAML reads it: inside single quotes '' is ', inside double
 * quotes (without a backslash: escapes are left to the yaml package) every character is itself; after
 * the closing quote only a comment, after a space or tab. Null for anything else (the yaml package judges).
 */
function quotedOnOneLine(value: string): string | null {
  const quote = value[0]!;
  let text = '';
  let end: number; // index of the closing quote
  if (quote === "'") {
    let from = 1;
    for (;;) {
      const at = value.indexOf("'", from);
      if (at === -1) return null;
      if (value[at + 1] !== "'") { text += value.slice(from, at); end = at; break; }
      text += value.slice(from, at + 1);
      from = at + 2;
    }
  } else {
    end = value.indexOf('"', 1);
    if (end === -1) return null;
    text = value.slice(1, end);
    if (text.includes('\\')) return null;
  }
  let i = end + 1;
  if (i === value.length) return text;
  while (value[i] === ' ' || value[i] === '\t') i++;
  return i > end + 1 && value[i] === '#' ? text : null;
}

/** Whether a quoted value's closing quote is followed only by spaces or a comment (then yaml reads one scalar). */
function quoteClosesCleanly(first: string, more: string[]): boolean {
  const text = [first, ...more].join('\n');
  const quote = text[0];
  let i = 1;
  while (i < text.length) {
    const ch = text[i];
    if (quote === '"' && ch === '\\') { i += 2; continue; }
    if (ch === quote) {
      if (quote === "'" && text[i + 1] === "'") { i += 2; continue; }
      break;
    }
    i++;
  }
  if (i >= text.length) return false;
  const after = text.slice(i + 1).trim();
  return after === '' || (after.startsWith('#') && !after.includes('\n'));
}
