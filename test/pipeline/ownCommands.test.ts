import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { renderApi, renderCalls, signedInWithKey, waitFinished } from '../helpers/pipeline.js';

// Detection could not settle a repository's commands, and the user gave both: the service runs them on
// the runtime the repository's files name. It used to run them on Node whatever the repository was
// (a Rust workspace built with cargo on Node's image), and a root naming no language at all got a Node
// service too, which no build and start command of the user's could say was wrong until Render's build failed.

let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack } = p));

const commands = (over: object) => ({ build_command: 'make build', start_command: './bin/app', ...over });

test('a Rust workspace root (no crate name to run) with the user\'s commands runs on the rust runtime', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'crab');
  stack.github.addRepo({ owner: 'crab', name: 'ws', branches: { main: { 'Cargo.toml': '[workspace]\nmembers = ["api"]\n', 'api/Cargo.toml': '[package]\nname = "api"\n' } } });
  const detect = await agent.get('/api/github/repos/crab/ws/detect');
  t.is(detect.status, 422, detect.text);
  t.regex(detect.json.error.message, /enter the build and start commands yourself/);
  const res = await agent.post('/api/render/deploy', commands({ github_repo: 'crab/ws', project_name: 'ws', build_command: 'cargo build --release -p api', start_command: './target/release/api' }));
  t.is(res.status, 202, res.text);
  const done = await waitFinished(agent, res.json.id);
  t.is(done.status, 'live', JSON.stringify(done.failure));
  t.like(done.stack, { stack: 'custom', runtime: 'rust', buildCommand: 'cargo build --release -p api', startCommand: './target/release/api' });
  const svc = await renderApi(stack, apiKey, 'GET', `/services/${done.serviceId}`);
  t.is(svc.serviceDetails.runtime, 'rust');
});

test('a package.json with nothing to start and the user\'s commands runs on node', async (t) => {
  const { agent } = await signedInWithKey(stack, 'libby');
  stack.github.addRepo({ owner: 'libby', name: 'lib', branches: { main: { 'package.json': JSON.stringify({ name: 'lib' }), 'src/app.js': '' } } });
  const res = await agent.post('/api/render/deploy', commands({ github_repo: 'libby/lib', project_name: 'lib', build_command: 'npm install', start_command: 'node src/app.js' }));
  const done = await waitFinished(agent, res.json.id);
  t.is(done.status, 'live', JSON.stringify(done.failure));
  t.like(done.stack, { stack: 'custom', runtime: 'node' });
});

test('a root naming no language fails clearly, saying what to add, and creates nothing, commands or not', async (t) => {
  const { agent, accountId } = await signedInWithKey(stack, 'misty');
  stack.github.addRepo({ owner: 'misty', name: 'py', branches: { main: { 'main.py': 'print("hi")\n', 'README.md': '# hi' } } });
  const detect = await agent.get('/api/github/repos/misty/py/detect');
  t.is(detect.status, 422, detect.text);
  t.is(detect.json.error.code, 'stack_not_detected');
  t.regex(detect.json.error.message, /requirements\.txt/);
  t.notRegex(detect.json.error.message, /enter the build and start commands yourself/, 'the form must not offer what would be refused');
  for (const body of [commands({ github_repo: 'misty/py', project_name: 'py', build_command: 'pip install flask', start_command: 'python main.py' }), { github_repo: 'misty/py', project_name: 'py-2' }]) {
    const res = await agent.post('/api/render/deploy', body);
    t.is(res.status, 202, res.text);
    const done = await waitFinished(agent, res.json.id);
    t.is(done.status, 'failed', JSON.stringify(done.stack));
    t.is(done.failure.code, 'stack_not_detected');
    t.regex(done.failure.message, /requirements\.txt/);
    t.regex(done.failure.message, /Add /);
  }
  t.is(renderCalls(stack, accountId, 'POST', '/services').length, 0, 'no service on a guessed runtime');
});
