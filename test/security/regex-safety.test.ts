/**
 * No regex in server/, workers/ or sandbox/ can backtrack super-linearly (issue 11 part 3: a Procfile
 * regex froze the web process). Every regex literal and every `new RegExp(...)`/`RegExp(...)` with a
 * literal pattern is found by walking the TypeScript syntax tree (not by a regex over the source) and
 * checked with redos-detector; a RegExp built from a non-literal pattern fails unless it is in
 * DYNAMIC_ALLOWED with the reason it is safe.
 */
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { isSafePattern } from 'redos-detector';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FOLDERS = ['server', 'workers', 'sandbox'];

/**
 * RegExps built at run time, keyed by file and the pattern argument's source text. Each needs a reason
 * its pattern can never backtrack. Keep this list small: prefer a literal or no regex at all.
 */
const DYNAMIC_ALLOWED: Record<string, string> = {};

interface Found {
  where: string;
  /** The pattern and flags, when both are literal. */
  pattern?: string;
  flags?: string;
  /** Source text of a non-literal pattern (or flags) argument. */
  dynamic?: string;
}

/** Every regex in one source text. */
export function regexesIn(fileName: string, source: string): Found[] {
  const sf = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true, fileName.endsWith('.js') || fileName.endsWith('.mjs') ? ts.ScriptKind.JS : ts.ScriptKind.TS);
  const out: Found[] = [];
  const where = (node: ts.Node) => `${fileName}:${sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1}`;
  const literalText = (node: ts.Node | undefined): string | undefined =>
    node && (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) ? node.text : undefined;

  const visit = (node: ts.Node): void => {
    if (ts.isRegularExpressionLiteral(node)) {
      const text = node.text;
      const slash = text.lastIndexOf('/');
      out.push({ where: where(node), pattern: text.slice(1, slash), flags: text.slice(slash + 1) });
    } else if ((ts.isNewExpression(node) || ts.isCallExpression(node)) && ts.isIdentifier(node.expression) && node.expression.text === 'RegExp') {
      const [patternArg, flagsArg] = node.arguments ?? [];
      const pattern = literalText(patternArg);
      const flags = flagsArg === undefined ? '' : literalText(flagsArg);
      if (patternArg && ts.isRegularExpressionLiteral(patternArg) && flags !== undefined) {
        // new RegExp(/literal/, 'flags'): the literal is checked on its own; check it with these flags too.
        const text = patternArg.text;
        out.push({ where: where(node), pattern: text.slice(1, text.lastIndexOf('/')), flags });
      } else if (pattern !== undefined && flags !== undefined) {
        out.push({ where: where(node), pattern, flags });
      } else {
        out.push({ where: where(node), dynamic: node.arguments?.map((a) => a.getText(sf)).join(', ') ?? '' });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** Why a found regex is unsafe, or null when redos-detector finds no super-linear backtracking. */
export function verdict(found: Found): string | null {
  if (found.dynamic !== undefined) {
    const key = `${found.where.split(':')[0]} ${found.dynamic}`;
    return DYNAMIC_ALLOWED[key] ? null : `RegExp built from a non-literal pattern (${found.dynamic}); use a literal, or add "${key}" to DYNAMIC_ALLOWED with a reason`;
  }
  const flags = found.flags ?? '';
  try {
    const result = isSafePattern(found.pattern ?? '', {
      caseInsensitive: flags.includes('i'),
      unicode: flags.includes('u') || flags.includes('v'),
      dotAll: flags.includes('s'),
      multiLine: flags.includes('m'),
    });
    if (result.safe) return null;
    const score = result.score.infinite ? 'unbounded backtracking' : `score ${result.score.value}`;
    return `/${found.pattern}/${flags}: ${score}${result.error ? ` (${result.error})` : ''}`;
  } catch (err) {
    return `/${found.pattern}/${flags}: redos-detector cannot analyse it (${(err as Error).message})`;
  }
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|mts|js|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

test('every regex in server/, workers/ and sandbox/ is free of super-linear backtracking', (t) => {
  const files = FOLDERS.flatMap((f) => sourceFiles(join(ROOT, f)));
  const found = files.flatMap((file) => regexesIn(relative(ROOT, file), readFileSync(file, 'utf8')));
  t.true(files.length > 50 && found.length > 50, `collected ${found.length} regexes from ${files.length} files: the walk is broken`);
  const unsafe = found.map((f) => [f.where, verdict(f)] as const).filter(([, why]) => why !== null);
  t.deepEqual(unsafe.map(([where, why]) => `${where} ${why}`), [], `${unsafe.length} unsafe regex(es):\n${unsafe.map(([w, why]) => `  ${w} ${why}`).join('\n')}`);
  const dynamicKeys = new Set(found.filter((f) => f.dynamic !== undefined).map((f) => `${f.where.split(':')[0]} ${f.dynamic}`));
  t.deepEqual(Object.keys(DYNAMIC_ALLOWED).filter((k) => !dynamicKeys.has(k)), [], 'stale DYNAMIC_ALLOWED entries');
});

test('the checker catches the patterns that froze the web process, and dynamic RegExps', (t) => {
  const source = [
    'const procfile = /^\\s*web\\s*:\\s*(.+?)\\s*$/;',
    "const gem = (name: string) => new RegExp(`^\\\\s*gem\\\\s+['\"]${name}['\"]`, 'm');",
    "const nested = new RegExp('(a+)+$');",
    "const withFlags = RegExp('^ok$', flagsFromInput);",
    'const safe = /^[a-z]+$/;',
  ].join('\n');
  const found = regexesIn('sample.ts', source);
  t.deepEqual(found.map((f) => f.where), ['sample.ts:1', 'sample.ts:2', 'sample.ts:3', 'sample.ts:4', 'sample.ts:5']);
  const verdicts = found.map(verdict);
  t.regex(verdicts[0] ?? '', /unbounded backtracking/, 'the old Procfile regex');
  t.regex(verdicts[1] ?? '', /non-literal pattern/, 'the old Gemfile RegExp');
  t.regex(verdicts[2] ?? '', /unbounded backtracking/);
  t.regex(verdicts[3] ?? '', /non-literal pattern/, 'non-literal flags');
  t.is(verdicts[4], null);
});
