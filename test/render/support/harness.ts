// Shared set-up for the Render client tests: one spec validator per test process, one contract
// server per test (tests in a file run concurrently, so servers are never shared).
import type { ExecutionContext } from 'ava';
import type { OpenAPIBackend } from 'openapi-backend';
import type { RenderClientOptions } from '../../../server/render/client.js';
import { createTestRenderClient, type TestRenderClient } from '../../helpers/renderTestClient.js';
import { startContractServer, type ContractServer, type Handler } from './contract-server.js';
import { createSpecValidator } from './spec.js';

/** Looks like a real key so a leak would be easy to spot in any output. */
export const API_KEY = 'rnd_S3cretKeyMustNeverLeak0123456789';

let validator: Promise<OpenAPIBackend> | undefined;

function specValidator(): Promise<OpenAPIBackend> {
  validator ??= createSpecValidator();
  return validator;
}

export async function startServer(t: ExecutionContext, handler?: Handler): Promise<ContractServer> {
  const server = await startContractServer({ apiKey: API_KEY, validator: await specValidator(), ...(handler ? { handler } : {}) });
  t.teardown(() => server.close());
  return server;
}

export function clientFor(server: { url: string }, extra: Partial<RenderClientOptions> = {}): TestRenderClient {
  return createTestRenderClient({ baseUrl: server.url, apiKey: API_KEY, ...extra });
}
