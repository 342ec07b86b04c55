import { Agent, request as httpRequest } from 'node:http';
import type Koa from 'koa';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, ListToolsRequestSchema, type CallToolResult, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import type { AppDeps } from '../deps.js';
import { describeIssues } from '../middleware/validate.js';
import { inputJsonSchema, TOOLS, type ToolRequest } from './tools.js';

const TOOL_TIMEOUT_MS = 75_000; // above the log routes' longest budget wait

type ErrorBody = { error: { code: string; message: string } };

function result(body: unknown, isError: boolean): CallToolResult {
  const structured = body && typeof body === 'object' && !Array.isArray(body) ? body as Record<string, unknown> : { value: body ?? null };
  return { content: [{ type: 'text', text: JSON.stringify(structured) }], structuredContent: structured, ...(isError ? { isError: true } : {}) };
}
const toolError = (code: string, message: string) => result({ error: { code, message } } satisfies ErrorBody, true);

// Built once per process, not per request (issue 17: a tool call cost ~10× its REST route). A Server
// left to itself builds its own Ajv instance (~90 µs, only ever used to check elicitation answers,
// which these tools never ask for); the validator holds no per-request state, so one is shared.
// The Server and its transport stay per request: a stateless transport must not serve two at once.
const jsonSchemaValidator = new AjvJsonSchemaValidator();
const TOOL_BY_NAME = new Map(TOOLS.map((t) => [t.name, t]));
let toolList: Tool[] | undefined; // the tools/list answer: z.toJSONSchema of every tool, on first use
const listTools = () => (toolList ??= TOOLS.map((t) => ({ name: t.name, description: t.description, inputSchema: inputJsonSchema(t.schema), annotations: t.annotations })));

/**
 * One MCP server per /mcp request (stateless Streamable HTTP), bound to that request's caller. A tool
 * call is the REST route it names, sent to this same web process over loopback with the caller's own
 * Authorization header: the route's own auth, tenant scoping (someone else's id is a 404), validation,
 * rate limit, lock-out and audit apply unchanged, and there is no second implementation to drift.
 * Each call also leaves an `mcp_tool` audit entry (tool name and outcome, never arguments).
 */
export function createMcpServer(deps: AppDeps, ctx: Koa.Context, userId: number): Server {
  const server = new Server({ name: 'render-orchestrator', version: '1.0.0' }, { capabilities: { tools: {} }, jsonSchemaValidator });

  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: listTools() }));

  server.setRequestHandler(CallToolRequestSchema, async (req) => {
    const tool = TOOL_BY_NAME.get(req.params.name);
    if (!tool) return toolError('not_found', `There is no tool named ${JSON.stringify(req.params.name).slice(0, 80)}.`);
    const args = req.params.arguments ?? {};
    const parsed = tool.schema.safeParse(args);
    let res: ToolResponse;
    if (!parsed.success) {
      res = { status: 400, body: { error: { code: 'validation_failed', message: describeIssues(parsed.error.issues) } } };
    } else {
      // The arguments as the client sent them (they passed the route's schema): the route parses them itself.
      res = await callRoute(ctx, tool.request(args));
    }
    const ok = res.status < 400;
    const code = ok ? undefined : (res.body as Partial<ErrorBody> | undefined)?.error?.code;
    await deps.security.recordAudit(ctx, { userId, action: 'mcp_tool', outcome: ok ? 'success' : 'failure', detail: { tool: tool.name, ...(code ? { reason: code } : {}) } });
    return result(res.body, !ok);
  });
  return server;
}

interface ToolResponse { status: number; body: unknown }

/** The route, over loopback to the address this request came in on, as the caller. */
async function callRoute(ctx: Koa.Context, r: ToolRequest): Promise<ToolResponse> {
  const socket = ctx.req.socket;
  const host = socket.localFamily === 'IPv6' ? `[${socket.localAddress}]` : socket.localAddress;
  const url = new URL(`http://${host}:${socket.localPort}${r.path}`);
  for (const [k, v] of Object.entries(r.query ?? {})) if (v !== undefined && v !== null) url.searchParams.set(k, typeof v === 'string' ? v : JSON.stringify(v));
  const headers: Record<string, string> = {
    authorization: ctx.get('authorization'),
    'user-agent': ctx.get('user-agent') || 'mcp',
    // Read only when TRUST_PROXY is set: the caller's address as this request resolved it (audit, per-IP limits).
    'x-forwarded-for': ctx.ip,
    'x-forwarded-proto': ctx.protocol,
  };
  if (r.body !== undefined) headers['content-type'] = 'application/json';
  try {
    const res = await loopback(url, r.method, headers, r.body === undefined ? undefined : JSON.stringify(r.body));
    const text = res.text;
    let body: unknown = null;
    try { body = text ? JSON.parse(text) : null; } catch { body = { error: { code: 'bad_response', message: 'The route did not answer with JSON.' } }; }
    return { status: res.status, body };
  } catch (err) {
    ctx.state.log.warn({ err: { message: (err as Error).message }, path: url.pathname }, 'MCP tool call failed');
    return { status: 503, body: { error: { code: 'unavailable', message: 'The orchestrator did not answer this tool call. Try again.' } } };
  }
}

// node:http with a keep-alive agent rather than fetch: undici's Fetch machinery was ~20% of a tool
// call's CPU (issue 17), for a request to ourselves that needs none of it. No redirect is followed.
const loopbackAgent = new Agent({ keepAlive: true });

function loopback(url: URL, method: string, headers: Record<string, string>, body?: string): Promise<{ status: number; text: string }> {
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers, agent: loopbackAgent, signal: AbortSignal.timeout(TOOL_TIMEOUT_MS) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 502, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
      res.on('close', () => { if (!res.complete) reject(new Error('the route closed the connection mid-answer')); });
    });
    req.on('error', reject);
    req.end(body);
  });
}
