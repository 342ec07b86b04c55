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

// A Docker service runs its image: Render takes no build command for it, and a start command only as
// dockerCommand, which replaces the image's CMD (what the deploy form's start field says it defaults
// to). The user's start command used to be recorded as the service's but never sent; a build command too.
test('a Dockerfile repository: the user\'s start command replaces the image\'s CMD on Render; a build command is refused, creating nothing', async (t) => {
  const { agent, apiKey, accountId } = await signedInWithKey(stack, 'whale');
  stack.github.addRepo({ owner: 'whale', name: 'img', branches: { main: { Dockerfile: 'FROM node:24\nCMD ["node", "a.js"]\n', 'b.js': '' } } });
  const res = await agent.post('/api/render/deploy', { github_repo: 'whale/img', project_name: 'img', start_command: 'node b.js --port $PORT' });
  t.is(res.status, 202, res.text);
  const done = await waitFinished(agent, res.json.id);
  t.is(done.status, 'live', JSON.stringify(done.failure));
  t.like(done.stack, { stack: 'docker', runtime: 'docker', startCommand: 'node b.js --port $PORT' });
  const svc = await renderApi(stack, apiKey, 'GET', `/services/${done.serviceId}`);
  t.is(svc.serviceDetails.envSpecificDetails.dockerCommand, 'node b.js --port $PORT', 'Render runs the command the record shows');

  const plain = await waitFinished(agent, (await agent.post('/api/render/deploy', { github_repo: 'whale/img', project_name: 'img-2' })).json.id);
  t.is(plain.status, 'live', JSON.stringify(plain.failure));
  t.is((await renderApi(stack, apiKey, 'GET', `/services/${plain.serviceId}`)).serviceDetails.envSpecificDetails.dockerCommand, '', 'no start command: the image\'s CMD');

  const before = renderCalls(stack, accountId, 'POST', '/services').length;
  const built = await waitFinished(agent, (await agent.post('/api/render/deploy', { github_repo: 'whale/img', project_name: 'img-3', build_command: 'npm run build' })).json.id);
  t.is(built.status, 'failed');
  t.is(built.failure.code, 'build_command_not_supported');
  t.regex(built.failure.message, /Dockerfile/);
  t.is(renderCalls(stack, accountId, 'POST', '/services').length, before, 'nothing created');
});
