import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, renderCalls, signedInWithKey, waitFinished } from '../helpers/pipeline.js';
import { MAX_FILE_BYTES } from '../../server/github/client.js';

// A hostile render.yaml reaches Render's POST /blueprints/validate (detection reads only the services
// block). Render answers an invalid Blueprint with 200 {valid: false, errors}; the simulator must do the
// same, promptly, for an alias bomb, deep nesting and a file as large as detection reads, so the worker
// fails the deploy `invalid_blueprint` after one validation instead of retrying a "Render outage".

// The simulator judges 256 KiB in about half a second of CPU, giving the event loop a turn all along
// (sandbox/render/blueprint-yaml.ts); on a loaded CI machine that is still seconds, beyond the worker's
// 15 s Render timeout at worst, and the worker rightly asks again a validation it got no answer to. What
// is checked here is the answer and what the worker does with it, not the machine's speed: a long timeout.
let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES }, worker: { renderTimeoutMs: 90_000 } }, (p) => ({ stack } = p));

const SERVICES = 'services:\n  - type: web\n    name: app\n    runtime: node\n    buildCommand: npm ci\n    startCommand: npm start\n';

/** Nine levels of nine aliases each: 9^9 nodes once expanded. */
function aliasBomb(): string {
  let text = 'bomb0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]\n';
  for (let i = 1; i < 9; i++) text += `bomb${i}: &a${i} [${Array.from({ length: 9 }, () => `*a${i - 1}`).join(', ')}]\n`;
  return text;
}

/** The one service with thousands of unknown fields, just under what detection reads from GitHub. */
function hugeBlueprint(): string {
  let text = SERVICES;
  for (let i = 0; text.length < MAX_FILE_BYTES - 64; i++) text += `    field${i}: v\n`;
  return text;
}

const cases = [
  { repo: 'bomb', yaml: SERVICES + aliasBomb() },
  { repo: 'deep', yaml: `${SERVICES}nested: ${'['.repeat(3000)}${']'.repeat(3000)}\n` },
  { repo: 'huge', yaml: hugeBlueprint() },
];

for (const c of cases) {
  test(`a ${c.repo} render.yaml fails the deploy invalid_blueprint after one validation, nothing created`, async (t) => {
    const login = `bp${c.repo}`;
    const { agent, accountId } = await signedInWithKey(stack, login);
    addNodeRepo(stack, login, c.repo, { 'render.yaml': c.yaml });
    const res = await agent.post('/api/render/deploy', { github_repo: `${login}/${c.repo}`, project_name: c.repo });
    t.is(res.status, 202, res.text);
    const done = await waitFinished(agent, res.json.id, 60_000);
    t.is(done.status, 'failed', JSON.stringify(done.failure));
    t.is(done.failure.code, 'invalid_blueprint', done.failure.message);
    t.true(done.failure.message.length < 2_000, 'a sentence, not the file');
    t.is(renderCalls(stack, accountId, 'POST', '/blueprints/validate').length, 1, 'validated once: not retried as an outage');
    t.is(renderCalls(stack, accountId, 'POST', '/services').length, 0);
  });
}
