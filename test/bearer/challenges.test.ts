import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import { call, mcpUsers, type McpUser } from './support/mcpUsers.js';

// What an API or MCP client is told when it is refused or looks for the wrong thing (found by a probe driving
// the endpoints with the MCP SDK's client and the OpenAPI document).
let stack: Stack;
test.after.always(async () => { await stack?.close(); });
const users = mcpUsers(() => stack, 9900);
let u: McpUser;
test.serial.before(async () => { stack = await startStack(); u = await users.create('challenged'); });
test.after.always(async () => { await u?.client.close(); });

test.serial('every 401 carries a Bearer challenge; a refused token\'s says invalid_token (RFC 9110 §15.5.2, RFC 6750)', async (t) => {
  // None did: a host that reads the challenge to tell "no credentials" from "this token is refused" had nothing to read.
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
  const mcp = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  const refused = 'gho_notarealtoken000000000000000000000';
  const answers = {
    mcpWithout: await fetch(`${stack.url}/mcp`, { method: 'POST', headers: mcp, body }),
    mcpRefused: await fetch(`${stack.url}/mcp`, { method: 'POST', headers: { ...mcp, authorization: `Bearer ${refused}` }, body }),
    apiRefused: await fetch(`${stack.url}/api/render/services`, { headers: { authorization: `Bearer ${refused}` } }),
    apiWithout: await fetch(`${stack.url}/api/render/services`),
  };
  for (const [name, res] of Object.entries(answers)) t.is(res.status, 401, name);
  t.is(answers.mcpWithout.headers.get('www-authenticate'), 'Bearer realm="render-orchestrator"');
  t.is(answers.apiWithout.headers.get('www-authenticate'), 'Bearer realm="render-orchestrator"');
  t.is(answers.mcpRefused.headers.get('www-authenticate'), 'Bearer realm="render-orchestrator", error="invalid_token"');
  t.is(answers.apiRefused.headers.get('www-authenticate'), 'Bearer realm="render-orchestrator", error="invalid_token"');
});

test.serial('stack detection on a branch the repository does not have says the branch is missing, not the repository', async (t) => {
  // GitHub's 404 for the branch was answered "Repository not found." of a repository that is there.
  const r = await call(u, 'detect_stack', { github_repo: 'challenged/app', branch: 'no-such-branch' });
  t.is(r.structuredContent?.error?.code, 'not_found');
  t.is(r.structuredContent?.error?.message, 'Branch "no-such-branch" of challenged/app not found.');
  t.falsy((await call(u, 'detect_stack', { github_repo: 'challenged/app' })).isError, 'the repository is there');
  // A repository that is not there is still said to be missing, branch or not.
  const missing = await call(u, 'detect_stack', { github_repo: 'challenged/nothing-here', branch: 'main' });
  t.is(missing.structuredContent?.error?.message, 'Repository not found.');
});
