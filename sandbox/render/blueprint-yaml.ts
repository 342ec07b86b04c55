import { setImmediate as turn } from 'node:timers/promises';
import { Composer, Lexer, LineCounter, Parser, YAMLParseError, isScalar, visit, type CST, type Document } from 'yaml';

/**
 * Reading a Blueprint's YAML for POST /blueprints/validate (blueprint-validator.ts), bounded: a hostile
 * file is an invalid Blueprint (200, `valid: false`, as Render answers one), never a 500 or a parse
 * that takes seconds. The simulator parses at most MAX_PARSED_CHARS (Render takes 10 MB; the
 * orchestrator sends at most 256 KiB, server/github/client.ts MAX_FILE_BYTES) and expands at most
 * MAX_ALIAS_COUNT nodes per alias (an alias bomb). yaml's own duplicate-key check compares each key
 * with every key before it (seconds for a mapping of 20,000 keys), so it is off and done here with a set.
 * The parse is linear but not quick (~1 µs a byte: ~300 ms of CPU for 256 KiB, ten times that on a loaded
 * machine), and the simulator shares its process with the web and the worker (tests, sandbox mode):
 * it gives the event loop a turn every SLICE_MS (parseInSlices), as Render, another machine, never
 * holds up its client. Judged in one go, it held up the worker's job-lock renewals and BullMQ took the
 * jobs for stalled and ran their steps again (test/pipeline/blueprintBounds.test.ts).
 */
const MAX_PARSED_CHARS = 1024 * 1024;
const MAX_ALIAS_COUNT = 100;
const MAX_SYNTAX_ERRORS = 10;
/** Errors answered at most; a position is worked out only for those. */
const MAX_ERRORS = 50;
/** The longest the parse runs before the event loop gets a turn. */
const SLICE_MS = 10;

export interface BlueprintError {
  path?: string;
  error: string;
  line?: number;
  column?: number;
}

export interface BlueprintResult {
  valid: boolean;
  errors?: BlueprintError[];
  plan?: { services: string[]; databases: string[]; keyValue: string[]; envGroups: string[]; totalActions: number };
}

export type Json = Record<string, unknown>;

export interface ReadBlueprint { doc: Document; lines: LineCounter; data: Json }

/** The document and its value, or the answer for a file that is not a YAML mapping we read. */
export async function readBlueprintYaml(text: string): Promise<ReadBlueprint | BlueprintResult> {
  if (text.length > MAX_PARSED_CHARS) return invalid(`the Blueprint is larger than the simulator reads (${MAX_PARSED_CHARS} characters)`);
  const lines = new LineCounter();
  const doc = await parseInSlices(text, lines);
  await turn();
  const syntax = [...doc.errors.map((e) => ({ message: e.message.split('\n')[0] ?? e.message, offset: e.pos[0] })), ...duplicateKeys(doc)];
  if (syntax.length > 0) {
    return {
      valid: false,
      errors: syntax.slice(0, MAX_SYNTAX_ERRORS).map((e) => {
        const pos = lines.linePos(e.offset);
        return { error: `YAML syntax error: ${e.message}`, line: pos.line, column: pos.col };
      }),
    };
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    // yaml's guard against an alias bomb (a ReferenceError), or nesting deeper than the stack.
    if (err instanceof ReferenceError) return invalid(`YAML aliases expand to too many nodes (more than ${MAX_ALIAS_COUNT} for one alias)`);
    if (err instanceof RangeError) return invalid('YAML nesting is too deep');
    throw err;
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return invalid('a Blueprint must be a YAML mapping at the top level');
  return { doc, lines, data: data as Json };
}

/**
 * yaml's parseDocument (public-api.js), its lexing and parsing (most of the time) in slices of SLICE_MS:
 * the Parser is fed a Lexer's lexemes one by one, as its own parse() does in one go. Composing the tokens into a
 * document (a fifth of the time) stays one step: the Composer takes an iterable, not an async one.
 */
async function parseInSlices(text: string, lines: LineCounter): Promise<Document> {
  const parser = new Parser(lines.addNewLine);
  lines.addNewLine(0); // what Parser.parse() does first
  const tokens: CST.Token[] = [];
  let sliceStart = performance.now();
  for (const lexeme of new Lexer().lex(text, false)) {
    for (const token of parser.next(lexeme)) tokens.push(token);
    if (performance.now() - sliceStart > SLICE_MS) {
      await turn();
      sliceStart = performance.now();
    }
  }
  for (const token of parser.end()) tokens.push(token);
  const composer = new Composer({ prettyErrors: false, uniqueKeys: false });
  let doc: Document | null = null;
  for (const next of composer.compose(tokens, true, text.length)) {
    if (doc) {
      doc.errors.push(new YAMLParseError(next.range.slice(0, 2) as [number, number], 'MULTIPLE_DOCS', 'Source contains multiple documents; please use YAML.parseAllDocuments()'));
      break;
    }
    doc = next;
  }
  return doc!;
}

/** Keys written twice in one mapping (what yaml's `uniqueKeys` reports), the first few, in one pass. */
function duplicateKeys(doc: Document): Array<{ message: string; offset: number }> {
  const found: Array<{ message: string; offset: number }> = [];
  visit(doc, {
    Map(_, map) {
      const seen = new Set<unknown>();
      for (const { key } of map.items) {
        if (!isScalar(key) || key.value === '<<') continue;
        if (seen.has(key.value)) found.push({ message: 'Map keys must be unique', offset: key.range?.[0] ?? 0 });
        seen.add(key.value);
      }
      return found.length >= MAX_SYNTAX_ERRORS ? visit.BREAK : undefined;
    },
  });
  return found;
}

function invalid(error: string): BlueprintResult {
  return { valid: false, errors: [{ path: '', error, line: 1, column: 1 }] };
}

/** The errors answered: distinct ones, at most MAX_ERRORS; `at` (a position) is asked only for those. */
export class ErrorList {
  readonly items: BlueprintError[] = [];
  private readonly seen = new Set<string>();
  get full(): boolean { return this.items.length >= MAX_ERRORS; }
  add(path: string, error: string, at: () => { line?: number; column?: number }): void {
    const key = `${path}|${error}`;
    if (this.full || this.seen.has(key)) return;
    this.seen.add(key);
    this.items.push({ path, error, ...at() });
  }
}
