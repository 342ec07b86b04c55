/**
 * The linear manifest readers answer what the backtracking regexes they replaced answered, on every
 * short input fast-check can build from the tokens that matter (the old regexes are safe at these
 * sizes; they are kept here only as the reference).
 */
import test from 'ava';
import fc from 'fast-check';
import { procfileProcess, procfileWeb } from '../../server/stacks/procfile.js';
import { gemfileGems } from '../../server/stacks/ruby.js';
import { dependencyLines, djangoProject, fastapiBringsUvicorn, tomlDependencies, tomlFastapiBringsUvicorn, uses } from '../../server/stacks/python.js';
import { configLines, keyValues, quotedPackages } from '../../server/stacks/jsConfig.js';
import { mixUsesPhoenix } from '../../server/stacks/elixir.js';
import { linesOf, MAX_LINE_CHARS } from '../../server/stacks/lines.js';
import { StackDetectionError } from '../../server/stacks/types.js';

/** Text glued from tokens, so matches are frequent rather than accidental. */
const textOf = (tokens: string[], maxLength = 12) => fc.array(fc.constantFrom(...tokens), { maxLength }).map((parts) => parts.join(''));
const RUNS = { numRuns: 3_000 };

test('procfileWeb equals /^\\s*web\\s*:\\s*(.+?)\\s*$/ per line', (t) => {
  const old = (text: string) => {
    for (const line of text.split(/\r?\n/)) {
      const m = /^\s*web\s*:\s*(.+?)\s*$/.exec(line);
      // The old regex returned a lone whitespace character for `web: \t`; that line holds no command.
      if (m?.[1]?.trim()) return m[1];
    }
    return null;
  };
  fc.assert(fc.property(textOf(['web', ':', ' ', '\t', '\n', '\r', '\r\n', '\u2028', '\u00a0', 'x', 'npm start', 'worker', '#']), (text) => {
    t.is(procfileWeb(text), old(text), JSON.stringify(text));
  }), RUNS);
});

test('procfileProcess finds a process as a pass over every line does, for any name, however lines repeat or run long', (t) => {
  // The reading before the search for the name (one linesOf step per line): the reference.
  const perLine = (text: string, name: string) => {
    for (const { text: line, clipped } of linesOf(text)) {
      const head = line.trimStart();
      if (!head.startsWith(name)) continue;
      const afterName = head.slice(name.length).trimStart();
      if (!afterName.startsWith(':')) continue;
      if (clipped) return 'clipped';
      const command = afterName.slice(1).trim();
      if (command && !/[\r\u2028\u2029]/.test(command)) return command;
    }
    return null;
  };
  const read = (text: string, name: string) => {
    try { return procfileProcess(text, name); } catch (err) { return err instanceof StackDetectionError ? 'clipped' : String(err); }
  };
  for (const [text, name] of [
    ['web\nweb: x', 'web'], ['  web x\nweb: y', 'web'], ['worker: a web\n web: b', 'web'], ['webweb: a\nweb: b', 'web'],
    ['x web: a\r\n\tweb : b\r\n', 'web'], [`${' '.repeat(MAX_LINE_CHARS)}web: a\nweb: b`, 'web'], [`web: ${'x'.repeat(MAX_LINE_CHARS)}`, 'web'],
    ['worker\nworker:\nworker: w', 'worker'], ['\u2028web: a', 'web'],
  ] as const) t.is(read(text, name), perLine(text, name), JSON.stringify(text.slice(0, 60)));
  const long = ' '.repeat(MAX_LINE_CHARS - 3);
  fc.assert(fc.property(textOf(['web', 'worker', 'we', ':', ' ', '\t', '\n', '\r', '\r\n', '\u2028', 'x', long, 'webweb'], 16), fc.constantFrom('web', 'worker'), (text, name) => {
    t.is(read(text, name), perLine(text, name), JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text));
  }), RUNS);
});

test('gemfileGems equals /^\\s*gem\\s+[\'"]name[\'"]/m on one-line-per-gem Gemfiles', (t) => {
  const old = (gemfile: string, name: string) => new RegExp(`^[ \\t]*gem[ \\t]+['"]${name}['"]`, 'm').test(gemfile.toLowerCase());
  fc.assert(fc.property(textOf(['gem', 'GEM', ' ', '\t', '\n', "'", '"', 'rails', 'puma', 'railties', ',', 'x']), (text) => {
    const gems = gemfileGems(text);
    for (const name of ['rails', 'puma', 'railties']) t.is(gems.has(name), old(text, name), `${name} in ${JSON.stringify(text)}`);
  }), RUNS);
});

test('uses() equals the dependency-name regex', (t) => {
  const old = (deps: string, name: string) => new RegExp(`(^|[\\s"'\\[,])${name}([\\s=<>~!\\[;,"']|$)`, 'm').test(deps);
  fc.assert(fc.property(textOf(['django', 'gunicorn', 'x', ' ', '\n', '"', "'", '[', ',', '=', '>', ';', '.', '-', '_']), (text) => {
    for (const name of ['django', 'gunicorn']) t.is(uses(dependencyLines(text), name), old(text, name), `${name} in ${JSON.stringify(text)}`);
  }), RUNS);
});

test('fastapiBringsUvicorn equals a regex over each dependency line: fastapi[…] with standard, standard-no-fastapi-cloud-cli or all', (t) => {
  const extras = new Set(['standard', 'standard-no-fastapi-cloud-cli', 'all']);
  const old = (line: string) => [...line.matchAll(/(?<=^|[\s"'[,])fastapi\[(?=([^\]]*)\])/g)].some((m) => m[1]!.split(',').some((e) => extras.has(e.trim())));
  fc.assert(fc.property(textOf(['fastapi[', 'fastapi', '[', ']', 'standard', 'standard]', 'all]', 'email', '-no-fastapi-cloud-cli', ',', ' ', '\n', '"', 'x', '#'], 12), (text) => {
    const lines = dependencyLines(text);
    t.is(fastapiBringsUvicorn(lines), lines.some(old), JSON.stringify(text));
  }), RUNS);
});

test('tomlFastapiBringsUvicorn equals a regex over each dependency line: fastapi = {…, extras = [\'standard\' | \'all\' …]…}', (t) => {
  const extras = new Set(['standard', 'standard-no-fastapi-cloud-cli', 'all']);
  const listed = (list: string) => list.split(',').some((e) => {
    const m = /^(["'])(.*)\1$/s.exec(e.trim());
    return m !== null && extras.has(m[2]!.trim());
  });
  // Lookaheads only, so one extras list does not hide another that starts inside it.
  const old = (line: string) => /^\s*(["']?)fastapi\1\s*=\s*\{/.test(line) && [...line.matchAll(/[{,]\s*(?=extras\s*=\s*\[([^\]]*)\])/g)].some((m) => listed(m[1]!));
  for (const [line, expected] of [
    ['fastapi = {extras = ["standard"], version = "^0.115.0"}', true], ['fastapi = { version = "*", extras = [ "email", \'all\' ] }', true],
    ['"fastapi" = {extras = ["standard"]}', true], ['fastapi = {extras = ["email"]}', false], ['fastapi = "^0.115"', false],
    ['fastapi-users = {extras = ["standard"]}', false], ['fastapi = {version = "1", extras2 = ["standard"]}', false], ['fastapi = {extras = [standard]}', false],
  ] as const) t.is(tomlFastapiBringsUvicorn(dependencyLines(line)), expected, line);
  fc.assert(fc.property(textOf(['fastapi', '"', "'", ' ', '=', '{', '}', ',', 'extras', '[', ']', '"standard"', "'all'", 'standard', 'email', 'x', '\n', '#'], 14), (text) => {
    const lines = dependencyLines(text);
    t.is(tomlFastapiBringsUvicorn(lines), lines.some(old), JSON.stringify(text));
  }), RUNS);
});

test('tomlDependencies equals a per-line regex reading of TOML headers and dotted keys in dependency tables', (t) => {
  const extras = new Set(['standard', 'standard-no-fastapi-cloud-cli', 'all']);
  const listed = (list: string) => list.split(',').some((e) => {
    const m = /^(["'])(.*)\1$/s.exec(e.trim());
    return m !== null && extras.has(m[2]!.trim());
  });
  const KEY = String.raw`(?:[a-z0-9_-]+|"[^"\\]*"|'[^']*')`;
  const PATH = String.raw`${KEY}(?:\s*\.\s*${KEY})*`;
  const keysOf = (path: string) => [...path.matchAll(new RegExp(KEY, 'g'))].map((m) => (m[0].startsWith('"') || m[0].startsWith("'") ? m[0].slice(1, -1) : m[0]));
  // Joined with NUL: the dependency tables, then the name, then the keys below it.
  const dependency = new RegExp(String.raw`^(?:packages|dev-packages|tool\0poetry\0(?:dependencies|dev-dependencies|group\0[^\0]*\0dependencies))\0([^\0]*)((?:\0[^\0]*)*)$`);
  const reference = (toml: string) => {
    const names = new Set<string>();
    let fastapiUvicorn = false;
    let table: string[] | null = [];
    for (const raw of toml.toLowerCase().split(/\r?\n/)) {
      const comment = /(^|\s)#/.exec(raw);
      const line = comment === null ? raw : raw.slice(0, comment.index + comment[1]!.length);
      if (/^\s*\[/.test(line)) {
        const header = new RegExp(String.raw`^\s*\[(?!\[)\s*(${PATH})\s*\]\s*$`).exec(line);
        table = header === null ? null : keysOf(header[1]!);
        const dep = table === null ? null : dependency.exec(table.join('\0'));
        if (dep) names.add(dep[1]!);
        continue;
      }
      if (table === null) continue;
      const key = new RegExp(String.raw`^\s*(${PATH})\s*=(?:\s*\[([^\]]*)\])?`).exec(line);
      if (key === null) continue;
      const dep = dependency.exec([...table, ...keysOf(key[1]!)].join('\0'));
      if (!dep) continue;
      names.add(dep[1]!);
      if (dep[1] === 'fastapi' && dep[2] === '\0extras' && key[2] !== undefined && listed(key[2])) fastapiUvicorn = true;
    }
    return { names: [...names].sort(), fastapiUvicorn };
  };
  const read = (toml: string) => {
    const found = tomlDependencies(toml);
    return { names: [...found.names].sort(), fastapiUvicorn: found.fastapiUvicorn };
  };
  for (const [toml, names, uvicorn] of [
    ['[tool.poetry.dependencies.fastapi]\nversion = "*"\nextras = ["standard"]', ['fastapi'], true],
    ['[tool.poetry.dependencies]\nfastapi.extras = [\'all\']\n"uvicorn" = "*"', ['fastapi', 'uvicorn'], true],
    ['[tool . poetry . "dependencies" . \'FastAPI\' ]  # a table\nextras = [ "email" , "standard" ]', ['fastapi'], true],
    ['[tool.poetry.group.dev.dependencies]\npytest = "*"\n[packages.fastapi]\nextras = ["email"]', ['fastapi', 'pytest'], false],
    ['[[tool.poetry.dependencies]]\nfastapi.extras = ["standard"]', [], false],
    ['[tool.poetry.dependencies.fastapi\nextras = ["standard"]', [], false],
    ['[tool.poetry.dependencies]\n"fast\\"api".extras = ["standard"]', [], false],
    ['[project]\ndependencies = ["fastapi[standard]"]\n[tool.poetry.extras]\nextras = ["standard"]', [], false],
  ] as const) t.deepEqual(read(toml), { names: [...names], fastapiUvicorn: uvicorn }, toml);
  // Lines built from key paths (a table's, a name, extras; quoted, dotted, spaced or broken), as headers, keys with values, or noise.
  const key = fc.constantFrom('tool.poetry.dependencies', 'tool.poetry.dependencies.fastapi', 'tool.poetry.group.dev.dependencies', 'packages.fastapi', 'fastapi.extras', 'tool', 'poetry', 'dependencies', 'packages', 'dev-packages', 'fastapi', 'FastAPI', '"fastapi"', "'fastapi'", 'extras', '"extras"', '"a.b"', 'x', '"', "'", '\\', '');
  const path = fc.array(fc.tuple(key, fc.constantFrom('.', ' . ', '.', '..', ' ', '')), { minLength: 1, maxLength: 4 }).map((parts) => parts.map(([k, sep], i) => (i === parts.length - 1 ? k : k + sep)).join(''));
  const value = fc.constantFrom('["standard"]', "[ 'email' , 'all' ]", '["email"]', '"*"', '[standard]', '["standard"', '{extras = ["standard"]}', '');
  const line = fc.oneof(
    path.map((p) => `[${p}]`), path.map((p) => ` [ ${p} ] # table`), path.map((p) => `[[${p}]]`), path.map((p) => `[${p}`),
    fc.tuple(path, value).map(([p, v]) => `${p} = ${v}`), fc.tuple(path, value).map(([p, v]) => `\t${p}=${v} # ${v}`),
    textOf(['[', ']', '=', '"', '#', ' ', 'fastapi', 'extras', '.', 'x'], 6),
    // The lines a fastapi table is made of, so that its extras are often read.
    fc.constantFrom('[tool.poetry.dependencies.fastapi]', '[packages.fastapi]', '[tool.poetry.dependencies]', '[ tool.poetry.dependencies ."fastapi" ]'),
    fc.tuple(fc.constantFrom('extras', 'fastapi.extras', '"extras"', 'fastapi . extras', 'version'), value).map(([k, v]) => `${k} = ${v}`),
  );
  fc.assert(fc.property(fc.array(line, { maxLength: 8 }), fc.constantFrom('\n', '\r\n'), (lines, eol) => {
    const text = lines.join(eol);
    t.deepEqual(read(text), reference(text), JSON.stringify(text));
  }), RUNS);
});

test('configLines drops comment lines and cuts a // comment after code, not the // of a URL', (t) => {
  const config = "import adapter from '@sveltejs/adapter-node';\n// import x from '@sveltejs/adapter-auto';\n/**\n * adapter: '@sveltejs/adapter-vercel'\n */\n  out: 'build', // or 'dist'\n  url: 'https://example.com', // site\n\n";
  t.deepEqual(configLines(config), ["import adapter from '@sveltejs/adapter-node';", "  out: 'build', ", "  url: 'https://example.com', "]);
  t.deepEqual(configLines(`${'x'.repeat(MAX_LINE_CHARS + 1)}\nmode: 'a'`), ["mode: 'a'"]);
});

test('quotedPackages equals a regex for quoted names with the prefix', (t) => {
  const prefix = '@sveltejs/adapter-';
  const old = (lines: string[]) => [...new Set(lines.flatMap((line) => [...line.matchAll(/(?<=(['"`]))(@sveltejs\/adapter-[\w\-./@$]*)(?=\1)/g)].map((m) => m[2]!)))];
  t.deepEqual(quotedPackages(["import a from '@sveltejs/adapter-node';", 'import b from "@sveltejs/adapter-static"', "'@sveltejs/adapter-node'"], prefix), ['@sveltejs/adapter-node', '@sveltejs/adapter-static']);
  fc.assert(fc.property(textOf(["'", '"', '`', '@sveltejs/adapter-', 'node', '-', '.', '/', ' ', '(', ';', '\n', 'x'], 12), (text) => {
    const lines = configLines(text);
    t.deepEqual(quotedPackages(lines, prefix), old(lines), JSON.stringify(text));
  }), RUNS);
});

test('keyValues equals a regex for `key: value` members: plain string literals, and whether any value is something else', (t) => {
  const reference = (lines: string[], key: string) => {
    const strings: string[] = [];
    let other = false;
    const member = new RegExp(`(?:(?<![\\w$.'"\`])${key}(?![\\w$])|(?<=(['"\`]))${key}\\1)\\s*:\\s*(?=((['"\`])((?:(?!\\3)[^\\\\])*)\\3\\s*(?:[,});]|$))?)`, 'g');
    for (const line of lines) {
      for (const m of line.matchAll(member)) {
        const value = m[2] === undefined || (m[3] === '`' && m[4]!.includes('${')) ? null : m[4]!;
        if (value === null) other = true;
        else strings.push(value);
      }
    }
    return { strings, other };
  };
  t.deepEqual(keyValues(configLines("adapter: node({ mode: 'standalone' }),\n\"mode\": \"middleware\",\nmode: process.env.MODE,\nconfig.mode = 'x'\nmodes: 'y'"), 'mode'), { strings: ['standalone', 'middleware'], other: true });
  t.deepEqual(keyValues(["output: `export`, outputFileTracing: 'x'", 'output: `${a}`'], 'output'), { strings: ['export'], other: true });
  fc.assert(fc.property(textOf(['mode', 'mode: ', '"mode"', ':', ' ', "'", '"', '`', "'standalone'", '`a`', 'standalone', '${', '}', ',', ')', ';', '.', 'x', '\\', '$', '//', '*', '\n'], 14), (text) => {
    const lines = configLines(text);
    t.deepEqual(keyValues(lines, 'mode'), reference(lines, 'mode'), JSON.stringify(text));
  }), RUNS);
});

test('djangoProject equals the manage.py settings regex (the project: before the first settings segment)', (t) => {
  // 'mysite.settings' and a settings package's 'mysite.settings.dev' both name the project mysite.
  const old = (manage: string) => /DJANGO_SETTINGS_MODULE['"]\s*,\s*['"]([\w.]+?)\.settings(?:\.[\w.]*)?['"]/.exec(manage)?.[1];
  fc.assert(fc.property(textOf(['DJANGO_SETTINGS_MODULE', "'", '"', ',', ' ', '\n', 'mysite', '.settings', 'settings', '.dev', '.', 'x_1', '-'], 16), (text) => {
    t.is(djangoProject(text), old(text), JSON.stringify(text));
  }), RUNS);
});

test('mixUsesPhoenix equals /\\{\\s*:phoenix\\s*,/', (t) => {
  fc.assert(fc.property(textOf(['{', ':phoenix', ':phoenix_live_view', ' ', '\n', ',', '"~> 1.7"', '}', 'x']), (text) => {
    t.is(mixUsesPhoenix(text), /\{\s*:phoenix\s*,/.test(text), JSON.stringify(text));
  }), RUNS);
});

test('linesOf splits like /\\r?\\n/ and clips long lines', (t) => {
  fc.assert(fc.property(textOf(['a', '\n', '\r', '\r\n', ' ']), (text) => {
    t.deepEqual([...linesOf(text)].map((l) => l.text), text.split(/\r?\n/));
  }), RUNS);
  const long = [...linesOf(`${'x'.repeat(MAX_LINE_CHARS + 1)}\r\nshort`)];
  t.deepEqual(long.map((l) => [l.text.length, l.clipped]), [[MAX_LINE_CHARS, true], [5, false]]);
});

test('a Procfile web: line too long to read is a clear error; other long lines are skipped', (t) => {
  const err = t.throws(() => procfileWeb(`web: ${'x'.repeat(MAX_LINE_CHARS)}\n`), { instanceOf: StackDetectionError });
  t.regex(err.message, /Procfile web: line is longer than 4096 characters/);
  t.is(procfileWeb(`worker: ${'x'.repeat(MAX_LINE_CHARS)}\nweb: bin/web\n`), 'bin/web');
});
