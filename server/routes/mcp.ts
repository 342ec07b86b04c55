import type Router from '@koa/router';
import type Koa from 'koa';
import type { AppDeps } from '../deps.js';
import { errors } from '../errors.js';
import { requireUser } from '../middleware/context.js';
import { bearerSessionId } from '../sessions/middleware.js';
import { createMcpServer } from '../mcp/server.js';
import { answerMcpPost } from '../mcp/transport.js';
import type { RouteCaller } from '../mcp/dispatch.js';
import { z } from 'zod';
import { documented, view } from '../openapi/describe.js';

/** A JSON-RPC answer, or one per request of a batch (an array): the SDK's own messages, not restated here. */
const JsonRpcMessage = z.looseObject({ jsonrpc: z.literal('2.0') });
const McpAnswer = view('McpAnswer', z.union([JsonRpcMessage, z.array(JsonRpcMessage)]), 'A JSON-RPC response, or an array of them for a batch.');

/** /mcp takes a bearer token only: a browser's session cookie never drives an assistant's tools. */
function requireBearer(): Koa.Middleware {
  return async (ctx, next) => {
    if (!bearerSessionId(ctx)) throw errors.bearerRequired();
    await next();
  };
}

/**
 * Model Context Protocol over Streamable HTTP (server/mcp/): stateless, one SDK server per POST on our
 * own transport (server/mcp/transport.ts), JSON responses. GET (a standalone server-to-client stream)
 * is not offered: 405, as the protocol allows, so no idle stream is held open per assistant.
 */
export function mcpRoutes(router: Router, deps: AppDeps, callRoute: RouteCaller) {
  router.post('/mcp', documented({
    summary: 'Model Context Protocol (Streamable HTTP, stateless): JSON-RPC tool calls for AI assistants', tag: 'mcp', auth: 'bearer',
    description: 'Tools are scoped to the caller exactly like the REST routes; their errors are MCP tool errors carrying our error codes.',
    responses: {
      200: McpAnswer,
      202: null,
      400: { contentType: 'application/json', description: 'A JSON-RPC error: the body is not JSON (-32700) or not a JSON-RPC message.' },
      413: { contentType: 'application/json', description: 'A JSON-RPC error (-32000): the body is over 64 KiB.' },
      406: { contentType: 'application/json', description: 'A JSON-RPC error: Accept must name application/json and text/event-stream.' },
      415: { contentType: 'application/json', description: 'A JSON-RPC error: send application/json.' },
    },
    errors: ['bearer_required'],
  }), requireBearer(), requireUser(), async (ctx) => {
    await answerMcpPost(ctx, createMcpServer(deps, ctx, ctx.state.user.id, callRoute));
  });

  router.get('/mcp', documented({ summary: 'No server-to-client stream is offered (405)', tag: 'mcp', auth: 'bearer', responses: {}, errors: ['bearer_required', 'method_not_allowed'] }), requireBearer(), requireUser(), (ctx) => {
    ctx.set('Allow', 'POST');
    throw errors.methodNotAllowed('POST', 'This MCP server is stateless: send JSON-RPC requests with POST /mcp.');
  });
}
