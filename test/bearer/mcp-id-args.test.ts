import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import { Agent } from '../helpers/agent.js';
import { call, errorCode, mcpUsers, type McpUser } from './support/mcpUsers.js';

// Found by probing the MCP tools with ids as assistants send them: a tool's schema trims service_id and
// deployment_id (the call passed validation), but the path was built from the untrimmed argument, so
// " srv-… " for the caller's own service was the route's 404 "Service not found." (and counted as a
// probe of someone else's service). The path now carries the id as validated.

let stack: Stack;
test.after.always(async () => { await stack?.close(); });
const users = mcpUsers(() => stack, 7800);
let ada: McpUser;
test.before(async () => {
  stack = await startStack({ env: { BEARER_RECHECK_SECONDS: '120' } });
  ada = await users.create('mcpidada');
});

test.serial('a service id with spaces around it names the caller\'s service, as the tool\'s schema accepted it', async (t) => {
  const suspended = await call(ada, 'suspend_service', { service_id: ` ${ada.serviceId}\n` });
  t.falsy(suspended.isError, JSON.stringify(suspended));
  t.is(suspended.structuredContent?.service?.id, ada.serviceId);
  t.true(suspended.structuredContent?.service?.suspended);
  const resumed = await call(ada, 'resume_service', { service_id: `\t${ada.serviceId} ` });
  t.falsy(resumed.isError, JSON.stringify(resumed));
  t.false(resumed.structuredContent?.service?.suspended);
});

test.serial('a deployment id with spaces around it names the caller\'s deployment', async (t) => {
  const redeploy = await call(ada, 'redeploy', { service_id: ` ${ada.serviceId} ` });
  t.falsy(redeploy.isError, JSON.stringify(redeploy));
  const id = redeploy.structuredContent?.id as string;
  const got = await call(ada, 'get_deployment', { deployment_id: `  ${id} ` });
  t.falsy(got.isError, JSON.stringify(got));
  t.is(got.structuredContent?.id, id);
  const logs = await call(ada, 'get_deployment_logs', { deployment_id: ` ${id}` });
  t.falsy(logs.isError, JSON.stringify(logs));
  const canceled = await call(ada, 'cancel_deployment', { deployment_id: `${id} ` });
  t.is(canceled.structuredContent?.status, 'canceled', JSON.stringify(canceled));
  // Still a 404 for what is not the caller's, spaces or not.
  t.is(errorCode(await call(ada, 'get_deployment', { deployment_id: ' dpl-00000000000000000000 ' })), 'not_found');
});

// The same for github_repo: the tools' schema (DeployBody's) trims it, deploy_repo's route trims it too
// (it goes in the body), but detect_stack and validate_blueprint put it in the path as sent: " owner/app"
// was GitHub's 404 "Repository not found." for a repository deploy_repo deployed from the same argument.
test.serial('a github_repo with spaces around it names the repository, in detect_stack and validate_blueprint as in deploy_repo', async (t) => {
  for (const github_repo of [` ${ada.login}/app`, `${ada.login}/app\n`, `\t${ada.login}/app `]) {
    const detected = await call(ada, 'detect_stack', { github_repo });
    t.falsy(detected.isError, JSON.stringify(detected));
    t.is(detected.structuredContent?.stack, 'node');
    const blueprint = await call(ada, 'validate_blueprint', { github_repo });
    t.falsy(blueprint.isError, JSON.stringify(blueprint));
    t.true(blueprint.structuredContent?.valid);
  }
  t.is(errorCode(await call(ada, 'detect_stack', { github_repo: ` ${ada.login}/nothere ` })), 'not_found');
});

// A deployment_id holding a lone UTF-16 surrogate (sent as the JSON escape "\ud800", valid UTF-8 on the
// wire) passed DeploymentRef, and building the route's path threw (encodeURIComponent: URIError): the
// SDK answered JSON-RPC -32603 Internal error, with no tool result and no mcp_tool audit entry. It is a
// bad argument like any other: a validation_failed tool error, audited.
test.serial('a deployment id holding half of a surrogate pair is a validation error, audited, not an internal error', async (t) => {
  const tools = ['get_deployment', 'get_deployment_logs', 'cancel_deployment'];
  for (const tool of tools) {
    for (const deployment_id of ['dpl-\ud800', ' \udfff ', `${ada.deployId}\ud83d`]) {
      const res = await call(ada, tool, { deployment_id });
      t.is(errorCode(res), 'validation_failed', `${tool} ${JSON.stringify(deployment_id)}: ${JSON.stringify(res)}`);
      t.regex(String(res.structuredContent?.error?.message), /deployment_id/);
    }
  }
  const audit = (await new Agent(stack.url, { authorization: `Bearer ${ada.token}` }).get('/api/audit?limit=100')).json.entries as Array<{ action: string; outcome: string; detail: Record<string, unknown> }>;
  for (const tool of tools) {
    t.is(audit.filter((e) => e.action === 'mcp_tool' && e.outcome === 'failure' && e.detail.tool === tool && e.detail.reason === 'validation_failed').length, 3, tool);
  }
  // A surrogate pair (one code point) is only an unknown id.
  t.is(errorCode(await call(ada, 'get_deployment', { deployment_id: 'dpl-\ud83d\ude00' })), 'not_found');
});
