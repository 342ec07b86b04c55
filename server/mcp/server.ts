import type Koa from 'koa';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, ErrorCode, isJSONRPCRequest, ListToolsRequestSchema, McpError, type CallToolRequest, type CallToolResult, type JSONRPCMessage, type Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { getLiteralValue, getObjectShape, safeParse } from '@modelcontextprotocol/sdk/server/zod-compat.js';
import { z } from 'zod';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import type { AppDeps } from '../deps.js';
import { describeIssues } from '../middleware/validate.js';
import { echoed } from '../text.js';
import type { RouteAnswer, RouteCall, RouteCaller } from './dispatch.js';
import { inputJsonSchema, TOOLS, type ToolSpec } from './tools.js';
import { auditToolCall } from './audit.js';
import { mcpCallOutsideRoute } from '../telemetry/middleware.js';

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
/**
 * A Server whose handlers are registered under their method alone, their params checked here: params
 * that fail a method's schema are -32602 Invalid params, as JSON-RPC 2.0 and the MCP spec call a
 * malformed request. The SDK's Protocol parses each request with its handler's schema before the
 * handler runs, and that ZodError, carrying no JSON-RPC code, left as -32603 Internal error (its JSON as
 * the message): for initialize and ping (registered by the SDK itself), tools/list, and tools/call
 * before the SDK's own CallToolRequest check (which still runs first, with its own message).
 * test/bearer/mcp-protocol.test.ts.
 */
class McpServer extends Server {
  // Called by the SDK's constructors too (a prototype method, so this override applies to those as well).
  override setRequestHandler(...[schema, handler]: Parameters<Server['setRequestHandler']>): void {
    const method = getLiteralValue(getObjectShape(schema)!.method!) as string;
    super.setRequestHandler(z.looseObject({ method: z.literal(method) }), (request, extra) => {
      const parsed = safeParse(schema, request);
      if (!parsed.success) throw new McpError(ErrorCode.InvalidParams, `Invalid ${method} request: ${describeIssues((parsed.error as z.ZodError).issues)}`);
      return handler(parsed.data as typeof request, extra);
    });
  }

  /**
   * A request augmented with a task (params.task, MCP 2025-11-25) is handled as any other, its task
   * ignored: this server declares no tasks capability, and the spec's Tasks "Behavior Requirements" say
   * such a receiver MUST process the request normally, ignoring the task metadata. The SDK's Protocol
   * refused it before any handler ran with a plain Error, -32603 Internal error. Dropped as each message
   * arrives, before the Protocol reads it (test/bearer/mcp-protocol.test.ts).
   */
  override async connect(transport: Transport): Promise<void> {
    await super.connect(transport);
    const deliver = transport.onmessage;
    if (!deliver) return;
    transport.onmessage = (message, extra) => deliver(withoutTask(message), extra);
  }
}

function withoutTask(message: JSONRPCMessage): JSONRPCMessage {
  if (!isJSONRPCRequest(message) || !message.params || !Object.hasOwn(message.params, 'task')) return message;
  const { task: _ignored, ...params } = message.params as Record<string, unknown>;
  return { ...message, params };
}

/**
 * The tool's REST request, or undefined when building it throws: an argument its schema let through that
 * the request cannot carry (encodeURIComponent throws on a lone surrogate) is a bad argument, answered as
 * one (a tool error, audited), not the SDK's -32603 Internal error. Logged: the schema should refuse it.
 */
function requestFor(ctx: Koa.Context, tool: ToolSpec, args: Record<string, unknown>): RouteCall | undefined {
  try {
    return tool.request(args);
  } catch (err) {
    ctx.state.log?.warn({ tool: tool.name, err: { message: (err as Error).message } }, 'tool arguments its schema accepted could not be made into a request');
    return undefined;
  }
}

const listTools = () => (toolList ??= TOOLS.map((t) => ({ name: t.name, description: t.description, inputSchema: inputJsonSchema(t.schema), annotations: t.annotations })));

/**
 * One MCP server per /mcp request (stateless Streamable HTTP), bound to that request's caller. A tool
 * call is the REST route it names, run in-process as that caller (`callRoute`, ./dispatch.ts): the
 * route's own auth, tenant scoping (someone else's id is a 404), validation, rate limit, lock-out and
 * audit apply unchanged, and there is no second implementation to drift.
 * Each call also leaves an `mcp_tool` audit entry (tool name and outcome, never arguments; failed ones
 * aggregated, ./audit.ts).
 */
export function createMcpServer(deps: AppDeps, ctx: Koa.Context, userId: number, callRoute: RouteCaller): Server {
  const server = new McpServer({ name: 'render-orchestrator', version: '1.0.0' }, { capabilities: { tools: {} }, jsonSchemaValidator });

  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: listTools() }));

  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const req = request as CallToolRequest; // parsed with CallToolRequestSchema (McpServer above)
    // A request its own batch cancels never gets here (transport.ts); one the Server aborts anyway before
    // its handler starts is not answered, so the call is not made either: a deploy nobody hears of is still a deploy.
    if (extra.signal.aborted) return toolError('canceled', 'The request was canceled.');
    const tool = TOOL_BY_NAME.get(req.params.name);
    // A call that reaches no route is still one request to telemetry (counted, throttled, refused while blocked).
    if (!tool) {
      const unknown = await mcpCallOutsideRoute(ctx, { status: 404, body: { error: { code: 'not_found', message: `There is no tool named ${JSON.stringify(echoed(req.params.name))}.` } } });
      return answer(unknown);
    }
    const args = req.params.arguments ?? {};
    const parsed = tool.schema.safeParse(args);
    // The arguments as the client sent them (they passed the route's schema): the route parses them itself.
    const call = parsed.success ? requestFor(ctx, tool, args) : undefined;
    let res: RouteAnswer;
    if (!parsed.success) {
      res = await mcpCallOutsideRoute(ctx, { status: 400, body: { error: { code: 'validation_failed', message: describeIssues(parsed.error.issues) } } });
    } else if (!call) {
      res = await mcpCallOutsideRoute(ctx, { status: 400, body: { error: { code: 'validation_failed', message: 'These arguments cannot be made into a request; check them and try again.' } } });
    } else {
      res = await callRoute(ctx, call);
    }
    const ok = res.status < 400;
    await auditToolCall(deps, ctx, userId, { name: tool.name, readOnly: tool.annotations.readOnlyHint }, ok ? undefined : (res.body as Partial<ErrorBody> | undefined)?.error?.code, ok);
    return answer(res);
  });
  return server;
}

/** A route's answer as a tool result. */
function answer(res: RouteAnswer): CallToolResult {
  const ok = res.status < 400;
  const error = ok ? undefined : (res.body as Partial<ErrorBody> | undefined)?.error;
  // When to ask again, as the REST answer's Retry-After header says it (a tool result has no headers).
  if (error && res.retryAfterSeconds !== undefined) return result({ error: { ...error, retryAfterSeconds: res.retryAfterSeconds } }, true);
  return result(res.body, !ok);
}
