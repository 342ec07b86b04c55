// The contract tests' shared set-up (test/render/client-contract.test.ts): a contract server that
// answers by operationId, and the cases per Render resource in ./contract-cases/.
import type { ExecutionContext } from 'ava';
import type { TestRenderClient } from '../../helpers/renderTestClient.js';
import type { RecordedRequest, Reply } from './contract-server.js';
import { clientFor, startServer } from './harness.js';

type Script = Record<string, (request: RecordedRequest) => Reply>;

/** One contract test per client method, named after it. */
export type ContractCase = (t: ExecutionContext) => Promise<void>;
/** A resource's share of the cases; the suite checks that together they cover every method. */
export type ContractCases = Partial<Record<keyof TestRenderClient, ContractCase>>;

/** A server answering by operationId; anything unscripted is a 500 the test will notice. */
export async function scripted(t: ExecutionContext, script: Script) {
  const server = await startServer(t, (request) => {
    const answer = script[request.operationId ?? ''];
    return answer ? answer(request) : { status: 500, json: { message: `unscripted ${request.operationId}` } };
  });
  return { server, client: clientFor(server) };
}

export function only(t: ExecutionContext, requests: RecordedRequest[]): RecordedRequest {
  t.is(requests.length, 1);
  return requests[0]!;
}
