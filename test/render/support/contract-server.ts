// A recording HTTP server for contract tests: every request the client sends is checked against
// Render's OpenAPI spec (operation, path, query, headers, body; multipart parsed with busboy), and
// every reply a test scripts is checked against the spec's response schema before it is sent.
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import busboy from 'busboy';
import type { OpenAPIBackend, Operation } from 'openapi-backend';

export type Reply =
  | {
    status: number;
    json?: unknown;
    text?: string;
    headers?: Record<string, string>;
    /** Skip the response-schema check, for replies that are off-spec on purpose (e.g. real nulls). */
    unchecked?: boolean;
  }
  | { action: 'reset' }
  | { action: 'hang' };

export interface RecordedRequest {
  method: string;
  /** Path below the API root, e.g. `/services/srv-1/deploys`. */
  path: string;
  rawQuery: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  operationId?: string;
  json?: unknown;
  form?: { fields: Record<string, string>; files: Record<string, { filename: string; mimeType: string; text: string }> };
}

export type Handler = (request: RecordedRequest) => Reply | Promise<Reply>;

export interface ContractServer {
  /** Base URL including the `/v1` root, as RENDER_API_URL would be. */
  url: string;
  requests: RecordedRequest[];
  /** Everything that broke the contract, in either direction. Tests assert this is empty. */
  violations: string[];
  /** Replaces the handler that scripts replies. */
  handle(handler: Handler): void;
  close(): Promise<void>;
}

const API_ROOT = '/v1';

export async function startContractServer(opts: { apiKey: string; validator: OpenAPIBackend; handler?: Handler }): Promise<ContractServer> {
  const requests: RecordedRequest[] = [];
  const violations: string[] = [];
  let handler: Handler = opts.handler ?? (() => ({ status: 500, json: { message: 'no handler scripted' } }));

  const server = createServer((req, res) => {
    serve(req, res).catch((err: unknown) => {
      violations.push(`server error: ${String(err)}`);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://placeholder');
    const method = (req.method ?? 'GET').toLowerCase();
    const where = `${method.toUpperCase()} ${url.pathname}${url.search}`;
    const problem = (text: string) => violations.push(`${where}: ${text}`);

    if (!url.pathname.startsWith(`${API_ROOT}/`)) problem(`path is not under ${API_ROOT}`);
    const path = url.pathname.slice(API_ROOT.length);
    const rawQuery = url.search.replace(/^\?/, '');
    if (req.headers.authorization !== `Bearer ${opts.apiKey}`) problem('missing or wrong Bearer authorization');
    if (!String(req.headers.accept ?? '').includes('application/json')) problem('Accept does not include application/json');

    const recorded: RecordedRequest = { method: method.toUpperCase(), path, rawQuery, query: new URLSearchParams(rawQuery), headers: req.headers };
    const body = await readBody(req, recorded, problem);
    const request = { method, path, query: rawQuery, headers: req.headers as Record<string, string | string[]>, body };
    const operation = opts.validator.matchOperation(request);
    if (!operation) {
      problem('matches no operation in the spec');
    } else {
      recorded.operationId = operation.operationId ?? '';
      const result = opts.validator.validateRequest(request, operation);
      for (const error of result.errors ?? []) problem(`request ${error.instancePath || '/'} ${error.message ?? error.keyword}`);
      for (const error of checkArrayEncoding(operation, rawQuery)) problem(error);
    }
    requests.push(recorded);

    const reply = await handler(recorded);
    if ('action' in reply) {
      if (reply.action === 'reset') res.socket?.resetAndDestroy();
      return; // 'hang': leave the request open; close() cleans up
    }
    if (operation && reply.json !== undefined && !reply.unchecked) {
      const result = opts.validator.validateResponse(reply.json, operation, reply.status);
      for (const error of result.errors ?? []) problem(`reply ${reply.status} ${error.instancePath || '/'} ${error.message ?? error.keyword}`);
    }
    const text = reply.text ?? (reply.json === undefined ? '' : `${JSON.stringify(reply.json)}\n`);
    res.writeHead(reply.status, {
      ...(text === '' ? {} : { 'content-type': 'application/json; charset=utf-8' }),
      'ratelimit-limit': '400',
      'ratelimit-remaining': '399',
      'ratelimit-reset': '30',
      'render-request-id': 'api-test/contract-000001',
      ...reply.headers,
    });
    res.end(text);
  }

  // Idle connections kept far longer than any gap between a test's calls (Node's default is 5 s). At 5 s a
  // loaded machine could lag a test's second call to the moment the server closed the idle socket, and a
  // POST on it failed with ECONNRESET (seen once in a CI run at 12 s per test). A POST on such a socket is
  // not retried on purpose (adapter.ts; a GET is, tested in adapter.test.ts): it is no contract's subject.
  server.keepAliveTimeout = 65_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}${API_ROOT}`,
    requests,
    violations,
    handle(next) {
      handler = next;
    },
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

async function readBody(req: IncomingMessage, recorded: RecordedRequest, problem: (text: string) => void): Promise<unknown> {
  const type = String(req.headers['content-type'] ?? '');
  if (type.startsWith('multipart/form-data')) {
    const form = await parseMultipart(req);
    recorded.form = form;
    const body: Record<string, string> = { ...form.fields };
    for (const [name, file] of Object.entries(form.files)) body[name] = file.text;
    return body;
  }
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text === '') return undefined;
  if (!type.startsWith('application/json')) {
    problem(`body sent with content-type "${type}"`);
    return text;
  }
  try {
    recorded.json = JSON.parse(text);
    return recorded.json;
  } catch {
    problem('body is not valid JSON');
    return text;
  }
}

function parseMultipart(req: IncomingMessage): Promise<NonNullable<RecordedRequest['form']>> {
  return new Promise((resolve, reject) => {
    const form: NonNullable<RecordedRequest['form']> = { fields: {}, files: {} };
    const parser = busboy({ headers: req.headers });
    parser.on('field', (name, value) => {
      form.fields[name] = value;
    });
    parser.on('file', (name, stream, info) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        form.files[name] = { filename: info.filename ?? '', mimeType: info.mimeType, text: Buffer.concat(chunks).toString('utf8') };
      });
    });
    parser.on('error', reject);
    parser.on('close', () => resolve(form));
    req.pipe(parser);
  });
}

/**
 * openapi-backend accepts either array encoding; Render's spec does not (docs/render-api.md §1):
 * explode=false params must be one comma-separated key, exploded arrays must repeat the key.
 */
function checkArrayEncoding(operation: Operation, rawQuery: string): string[] {
  const errors: string[] = [];
  const counts = new Map<string, number>();
  const rawValues = new Map<string, string[]>();
  for (const part of rawQuery.split('&').filter(Boolean)) {
    const [rawKey = '', rawValue = ''] = part.split('=');
    const key = decodeURIComponent(rawKey);
    counts.set(key, (counts.get(key) ?? 0) + 1);
    rawValues.set(key, [...(rawValues.get(key) ?? []), rawValue]);
  }
  for (const parameter of operation.parameters ?? []) {
    if ('$ref' in parameter || parameter.in !== 'query') continue;
    const schema = parameter.schema as { type?: string } | undefined;
    const count = counts.get(parameter.name) ?? 0;
    if (count === 0) continue;
    if (schema?.type !== 'array') {
      if (count > 1) errors.push(`query ${parameter.name} is not an array but was sent ${count} times`);
    } else if (parameter.explode === false) {
      if (count > 1) errors.push(`query ${parameter.name} must be comma-separated (explode: false), not repeated`);
    } else if ((rawValues.get(parameter.name) ?? []).some((value) => value.includes(','))) {
      errors.push(`query ${parameter.name} must repeat the key (explode: true), not use commas`);
    }
  }
  return errors;
}
