import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createRenderClient } from '../../../server/render/client.js';
import type { Stack } from '../../helpers/stack.js';
import { Agent } from '../../helpers/agent.js';
import { serviceWithLiveDeploy, type Tenant } from '../../helpers/attack.js';

// Users of the MCP endpoint for test/bearer/mcp*.test.ts: a GitHub token, a Render key set up through
// the REST route, a service with a live deploy, a repository with a Blueprint, and the SDK's own client.

export const BLUEPRINT = 'services:\n  - type: web\n    name: bp-web\n    runtime: node\n    plan: starter\n    buildCommand: npm ci\n    startCommand: npm start\n';

export interface McpUser { login: string; token: string; apiKey: string; ownerId: string; serviceId: string; deployId: string; client: Client }
export type ToolOut = { isError?: boolean; structuredContent?: Record<string, any> };

export const errorCode = (r: ToolOut) => (r.isError ? r.structuredContent?.error?.code : undefined);
export const call = async (u: Pick<McpUser, 'client'>, name: string, args: Record<string, unknown> = {}) => (await u.client.callTool({ name, arguments: args })) as ToolOut;

/** The SDK client over Streamable HTTP with this token (and any other header, e.g. X-Forwarded-For). */
export async function connectMcp(stack: Stack, token: string, headers: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: 'mcp-test', version: '1.0.0' });
  // Once initialized, the client opens its standalone SSE stream (a GET, answered 405 here) without
  // waiting for it: that request is waited for too, so it lands before whatever the test does next
  // (on a loaded machine it came after a test's clock had moved to the next minute, and was counted there).
  let streamAnswered!: () => void;
  const stream = new Promise<void>((resolve) => { streamAnswered = resolve; });
  const tracked: typeof fetch = async (input, init) => {
    try { return await fetch(input, init); } finally { if (init?.method === 'GET') streamAnswered(); }
  };
  await client.connect(new StreamableHTTPClientTransport(new URL(`${stack.url}/mcp`), { fetch: tracked, requestInit: { headers: { authorization: `Bearer ${token}`, ...headers } } }));
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([stream, new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('the MCP client opened no SSE stream after connecting')), 30_000); })]);
  clearTimeout(timer);
  return client;
}

/**
 * One POST /mcp carrying a JSON-RPC batch of tools/call (ids from `firstId`), as a client that skips the
 * SDK may send it (up to 100 a POST). Returns the HTTP status and each call's tool result, in order.
 */
export async function toolBatch(stack: Stack, token: string, calls: Array<{ name: string; arguments?: Record<string, unknown> }>, firstId = 1): Promise<{ status: number; results: ToolOut[] }> {
  const body = calls.map((params, i) => ({ jsonrpc: '2.0', id: firstId + i, method: 'tools/call', params }));
  const res = await fetch(`${stack.url}/mcp`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': LATEST_PROTOCOL_VERSION },
    body: JSON.stringify(body),
  });
  const answer: unknown = await res.json();
  const answers = (Array.isArray(answer) ? answer : [answer]) as Array<{ id: number; result?: ToolOut }>;
  const byId = new Map(answers.map((a) => [a.id, a.result ?? {}]));
  return { status: res.status, results: calls.map((_, i) => byId.get(firstId + i) ?? {}) };
}

export function mcpUsers(stack: () => Stack, firstId: number) {
  let nextId = firstId;
  return {
    nextId: () => nextId++,
    async create(login: string, headers: Record<string, string> = {}): Promise<McpUser> {
      const s = stack();
      s.github.addUser({ id: nextId++, login });
      const token = s.github.issueToken(login);
      const apiKey = `rnd_${login}${'m'.repeat(24)}`;
      s.render.addAccount({ apiKey, workspaces: [{ name: `${login} ws` }] });
      const setup = await new Agent(s.url, { authorization: `Bearer ${token}`, ...headers }).post('/api/render/setup', { api_key: apiKey });
      if (setup.status !== 200) throw new Error(`setup ${setup.status} ${setup.text}`);
      const ownerId = setup.json.owners[0].id as string;
      const render = createRenderClient({ baseUrl: s.render.url, apiKey });
      const svc = await serviceWithLiveDeploy({ login, ownerId, render } as Tenant, `${login}-svc`);
      s.github.addRepo({ owner: login, name: 'app', branches: { main: { 'package.json': JSON.stringify({ name: 'app', scripts: { start: 'node index.js' } }), 'index.js': '', 'render.yaml': BLUEPRINT } } });
      return { login, token, apiKey, ownerId, ...svc, client: await connectMcp(s, token, headers) };
    },
  };
}
