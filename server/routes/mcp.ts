import type Router from '@koa/router';
import type Koa from 'koa';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { AppDeps } from '../deps.js';
import { AppError } from '../errors.js';
import { requireUser } from '../middleware/security.js';
import { bearerSessionId } from '../sessions/middleware.js';
import { createMcpServer } from '../mcp/server.js';

/** /mcp takes a bearer token only: a browser's session cookie never drives an assistant's tools. */
function requireBearer(): Koa.Middleware {
  return async (ctx, next) => {
    if (!bearerSessionId(ctx)) throw new AppError(401, 'bearer_required', 'The MCP endpoint takes Authorization: Bearer <GitHub token>, not a session cookie.');
    await next();
  };
}

/**
 * Model Context Protocol over Streamable HTTP (server/mcp/): stateless, one server and transport per
 * POST, JSON responses. GET (a standalone server-to-client stream) is not offered: 405, as the
 * protocol allows, so no idle stream is held open per assistant.
 */
export function mcpRoutes(router: Router, deps: AppDeps) {
  router.post('/mcp', requireBearer(), requireUser(), async (ctx) => {
    const server = createMcpServer(deps, ctx);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    await server.connect(transport);
    ctx.respond = false; // the transport writes the response
    ctx.res.on('close', () => { void transport.close(); void server.close(); });
    await transport.handleRequest(ctx.req, ctx.res, ctx.request.body);
    ctx.status = ctx.res.statusCode; // for the access log (ignored by Koa once headers are sent)
  });

  router.get('/mcp', requireBearer(), requireUser(), (ctx) => {
    ctx.set('Allow', 'POST');
    throw new AppError(405, 'method_not_allowed', 'This MCP server is stateless: send JSON-RPC requests with POST /mcp.', { Allow: 'POST' });
  });
}
