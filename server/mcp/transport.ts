import type Koa from 'koa';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { isJsonContentType } from '@modelcontextprotocol/sdk/shared/mediaType.js';
import { MAX_BATCH_SIZE, requestBodyTooLargeMessage } from '@modelcontextprotocol/sdk/server/requestBody.js';
import {
  CancelledNotificationSchema, isInitializeRequest, isJSONRPCErrorResponse, isJSONRPCNotification, isJSONRPCRequest, isJSONRPCResultResponse, JSONRPCMessageSchema,
  SUPPORTED_PROTOCOL_VERSIONS, type JSONRPCMessage, type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { echoed } from '../text.js';

/**
 * Streamable HTTP, stateless with JSON responses, answered on Koa's own request and response (issue
 * 17). The SDK's StreamableHTTPServerTransport is written for Fetch `Request`/`Response`: on Node it
 * converts every request through @hono/node-server and back, and closing it builds an McpError with a
 * stack trace; together ~15–20% of a tool call's CPU for a POST that Koa has already parsed. The
 * protocol itself stays the SDK's: its `Server` answers initialize, ping, tools/*, unknown methods and
 * bad params; this file does only the HTTP part, with the SDK transport's checks, codes and messages
 * (Accept 406, Content-Type 415, batch size and JSON-RPC shape 400, one initialize per POST, a
 * supported MCP-Protocol-Version, 202 for notifications only, one JSON answer for the requests; a body
 * that is not JSON 400 and one over the limit 413, which the app's body parser finds: answerUnreadMcpBody). Two
 * differences: an unsupported version is quoted as `echoed()` quotes caller input, not whole; Accept is
 * read as media types (acceptedTypes), not searched for substrings.
 */
export async function answerMcpPost(ctx: Koa.Context, server: Server): Promise<void> {
  const accepted = acceptedTypes(ctx.get('accept'));
  if (!accepted.has('application/json') || !accepted.has('text/event-stream')) {
    return rpcError(ctx, 406, -32000, 'Not Acceptable: Client must accept both application/json and text/event-stream');
  }
  if (!isJsonContentType(ctx.get('content-type'))) return rpcError(ctx, 415, -32000, 'Unsupported Media Type: Content-Type must be application/json');
  const raw: unknown = ctx.request.body;
  if (Array.isArray(raw) && raw.length > MAX_BATCH_SIZE) return rpcError(ctx, 400, -32600, `Invalid Request: Batch must not exceed ${MAX_BATCH_SIZE} messages`);
  const parsed = (Array.isArray(raw) ? raw : [raw]).map((m) => JSONRPCMessageSchema.safeParse(m));
  const messages: JSONRPCMessage[] = [];
  for (const p of parsed) {
    if (!p.success) return rpcError(ctx, 400, -32700, 'Parse error: Invalid JSON-RPC message');
    messages.push(p.data);
  }
  if (messages.some(isInitializeRequest)) {
    if (messages.length > 1) return rpcError(ctx, 400, -32600, 'Invalid Request: Only one initialization request is allowed');
  } else {
    const version = ctx.get('mcp-protocol-version');
    if (version !== '' && !SUPPORTED_PROTOCOL_VERSIONS.includes(version)) {
      // The SDK's words, but the header quoted cut short (it was echoed whole, up to Node's ~16 KB
      // header limit) and not at all when it looks like a credential.
      return rpcError(ctx, 400, -32000, `Bad Request: Unsupported protocol version: ${echoed(version)} (supported versions: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`);
    }
  }
  // Answers are matched to requests by id: a batch naming one id twice would leave one waiting forever.
  const ids = messages.filter(isJSONRPCRequest).map((m) => m.id);
  if (new Set(ids).size !== ids.length) return rpcError(ctx, 400, -32600, 'Invalid Request: request ids in a batch must be unique');
  const exchange = new OneExchange();
  await server.connect(exchange);
  // Waited for even when the client has left (Koa writes nothing to a closed socket): its calls go on,
  // as a REST route does, and this request lasts until they end, so what it holds for them is judged
  // after them (an X-Render-Api-Key session: kept for a deploy they made, server/bearer/middleware.ts).
  // Ending it when the client left discarded that session before such a deploy was recorded on it.
  // Every request handed to the Server is answered (one its batch cancels is not handed over).
  const answers = await exchange.run(messages);
  if (answers.length === 0) {
    ctx.body = null; // notifications and responses only: accepted, no body
    ctx.status = 202;
    return;
  }
  ctx.status = 200;
  ctx.body = answers.length === 1 ? answers[0] : answers;
}

/**
 * A POST /mcp body the app's body parser refused (server/app.ts) — not JSON, over the body limit (a
 * huge tool argument), or under a Content-Encoding it cannot undo — answered as the SDK's transport
 * answers such a body: a JSON-RPC error (400 -32700 Parse error, 413 -32000, 415 -32000), not the REST
 * routes' error object a JSON-RPC client does not read. False for any other refusal (left to the error
 * middleware).
 */
export function answerUnreadMcpBody(ctx: Koa.Context, code: string, message: string, limitBytes: number): boolean {
  if (code === 'malformed_json') rpcError(ctx, 400, -32700, 'Parse error: Invalid JSON');
  else if (code === 'payload_too_large') rpcError(ctx, 413, -32000, requestBodyTooLargeMessage(limitBytes));
  else if (code === 'unsupported_media_type') rpcError(ctx, 415, -32000, `Unsupported Media Type: ${message}`);
  else return false;
  return true;
}

/**
 * The media types an Accept header lists as acceptable: each range's type/subtype lowercased (media types
 * are case-insensitive, RFC 9110 8.3.1), its parameters dropped, and one its client marks q=0 ("not
 * acceptable", RFC 9110 12.4.2) left out. The SDK's transport looks for the two names as substrings, which
 * refused "Application/JSON" and took "application/json-seq" for application/json.
 */
function acceptedTypes(header: string): Set<string> {
  const types = new Set<string>();
  for (const range of header.split(',')) {
    const [type, ...params] = range.split(';').map((p) => p.trim().toLowerCase());
    if (type && !params.some((p) => /^q=0(?:\.0{0,3})?$/.test(p))) types.add(type);
  }
  return types;
}

function rpcError(ctx: Koa.Context, status: number, code: number, message: string): void {
  ctx.status = status;
  ctx.body = { jsonrpc: '2.0', error: { code, message }, id: null };
}

/**
 * One POST's messages in, the Server's responses to its requests out. The Server is never closed:
 * nothing of it outlives the request (no timers: it sends no requests of its own), and closing would
 * only build a "Connection closed" error for handlers that no longer exist.
 */
class OneExchange implements Transport {
  onmessage?: Transport['onmessage'];
  onclose?: () => void;
  onerror?: (error: Error) => void;
  readonly #waiting = new Map<RequestId, (answer: JSONRPCMessage) => void>();

  async start(): Promise<void> {}
  async close(): Promise<void> {}

  /** Server-to-client requests and notifications have no stream to go on in a JSON answer: dropped, as the SDK's JSON mode does. */
  async send(message: JSONRPCMessage): Promise<void> {
    if (isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message)) this.#waiting.get(message.id ?? '')?.(message);
  }

  run(messages: JSONRPCMessage[]): Promise<JSONRPCMessage[]> {
    // A request the same batch cancels (a notifications/cancelled that passes the protocol's schema,
    // wherever it stands in the batch) is neither waited for nor handed to the Server: not answered and
    // not performed. Left to the Server's own cancelling, it ran unanswered whenever the Server did not
    // abort it: a requestId of 0 or "" (the SDK skips a falsy one), or a cancellation failing its schema.
    const cancelled = new Set(messages.flatMap((m) => {
      const c = isJSONRPCNotification(m) ? CancelledNotificationSchema.safeParse(m) : undefined;
      return c?.success && c.data.params.requestId !== undefined ? [c.data.params.requestId] : [];
    }));
    const isCancelled = (m: JSONRPCMessage) => isJSONRPCRequest(m) && cancelled.has(m.id);
    const answers = messages.filter(isJSONRPCRequest).filter((m) => !isCancelled(m))
      .map((m) => new Promise<JSONRPCMessage>((resolve) => this.#waiting.set(m.id, resolve)));
    for (const m of messages) if (!isCancelled(m)) this.onmessage?.(m);
    return Promise.all(answers);
  }
}
