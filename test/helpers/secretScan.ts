import type { ExecutionContext, TestFn } from 'ava';
import { dumpRedis, startStack, type Stack, type StackOptions } from './stack.js';
import { sharedFixture } from './fixture.js';
import type { Agent } from './agent.js';

// The end-of-suite secret scan: plaintext Render keys, GitHub tokens and env var values must appear
// nowhere the system writes or answers — Redis (every key and value), the web and worker logs,
// every response body and header an agent saw, and the Render simulator's call log.

interface SecretScanOptions {
  stack: Stack;
  /** Plaintext values that must appear nowhere (Render keys, GitHub tokens, env var values). */
  secrets: string[];
  /** More log sinks, e.g. worker.logs (each an array of lines, or one text). */
  extraLogs?: Array<string[] | string>;
  /** Agents whose transcripts (response status, headers, bodies) are searched. */
  agents?: Agent[];
  /** Other transcripts (e.g. the raw attack requests of test/helpers/attackHttp.ts). */
  transcripts?: string[][];
}

interface SecretFinding {
  /** Where it was found: 'redis', 'web log', 'extra log #n', 'agent #n transcript', 'transcript #n', 'render calls'. */
  where: string;
  /** The secret, masked (first 6 characters): the report itself must not leak it. */
  secret: string;
  /** Which spelling matched: plain or URL-encoded. */
  form: 'plain' | 'url-encoded';
}

const MIN_SECRET_LENGTH = 8;
const mask = (s: string) => `${s.slice(0, 6)}…(${s.length} chars)`;

/** Every (place, secret) pair where a secret shows up, plainly or URL-encoded. */
export async function findSecrets(opts: SecretScanOptions): Promise<SecretFinding[]> {
  const places: Array<[string, string]> = [
    ['redis', await dumpRedis(opts.stack.redis.client)],
    ['web log', opts.stack.logs.join('')],
    ['render calls', JSON.stringify(opts.stack.render.calls)],
  ];
  (opts.extraLogs ?? []).forEach((l, i) => places.push([`extra log #${i}`, Array.isArray(l) ? l.join('') : l]));
  (opts.agents ?? []).forEach((a, i) => places.push([`agent #${i} transcript`, a.transcript.join('\n')]));
  (opts.transcripts ?? []).forEach((tr, i) => places.push([`transcript #${i}`, tr.join('\n')]));

  const findings: SecretFinding[] = [];
  for (const secret of new Set(opts.secrets)) {
    const forms: Array<[SecretFinding['form'], string]> = [['plain', secret]];
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret) forms.push(['url-encoded', encoded]);
    for (const [where, text] of places) {
      for (const [form, needle] of forms) if (text.includes(needle)) findings.push({ where, secret: mask(secret), form });
    }
  }
  return findings;
}

/** Fails the test (with masked findings) if any secret appears anywhere; secrets shorter than 8 characters are refused as meaningless. */
export async function assertNoSecrets(t: ExecutionContext, opts: SecretScanOptions): Promise<void> {
  const short = opts.secrets.filter((s) => s.length < MIN_SECRET_LENGTH);
  t.deepEqual(short.map(mask), [], 'secrets to scan for must be at least 8 characters (shorter ones match by chance)');
  t.true(opts.secrets.length > 0, 'a secret scan needs secrets to look for');
  const findings = await findSecrets(opts);
  t.deepEqual(findings, [], `secrets found: ${findings.map((f) => `${f.secret} in ${f.where} (${f.form})`).join('; ')}`);
}

/** What a suite created, recorded as it goes: its agents, the logins that signed in and the Render keys it registered. */
export interface SecretWitness {
  agents: Agent[];
  logins: Set<string>;
  renderKeys: Set<string>;
  /** Render keys plus every GitHub token the simulator issued to the logins seen. */
  secrets(): string[];
}

/**
 * Wraps the stack's agent factory, sign-in and the Render simulator's addAccount so a suite's
 * end-of-run scan knows every agent, key and token without each test handing them over.
 * Call it right after startStack, before any agent is made.
 */
export function witnessSecrets(stack: Stack): SecretWitness {
  const witness: SecretWitness = {
    agents: [], logins: new Set(), renderKeys: new Set(),
    secrets: () => [...witness.renderKeys, ...[...witness.logins].flatMap((l) => stack.github.tokensFor(l))],
  };
  const makeAgent = stack.agent.bind(stack);
  stack.agent = (headers) => { const a = makeAgent(headers); witness.agents.push(a); return a; };
  const signIn = stack.signIn.bind(stack);
  stack.signIn = async (agent, login, o) => { witness.logins.add(login); return signIn(agent, login, o); };
  const addAccount = stack.render.addAccount.bind(stack.render);
  stack.render.addAccount = (input) => { witness.renderKeys.add(input.apiKey); return addAccount(input); };
  return witness;
}

interface WitnessedStack { stack: Stack; witness: SecretWitness; close(): Promise<void> }

/**
 * A stack for the whole file, witnessed from its start, whose last check is the secret scan over
 * everything the suite made, plus what `more()` adds (worker logs, values the tests typed in).
 */
export function useScannedStack(
  test: TestFn, opts: StackOptions, started: (s: WitnessedStack) => unknown, more: () => Partial<SecretScanOptions> = () => ({}),
): void {
  let scanned: WitnessedStack | undefined;
  sharedFixture(test, async () => {
    const stack = await startStack(opts);
    return { stack, witness: witnessSecrets(stack), close: () => stack.close() };
  }, (s) => {
    scanned = s;
    return started(s);
  });
  test.after('no Render key, GitHub token or other secret anywhere after every test', async (t) => {
    if (!scanned) return;
    const { agents = [], secrets = [], ...rest } = more();
    const { stack, witness } = scanned;
    await assertNoSecrets(t, { ...rest, stack, agents: [...witness.agents, ...agents], secrets: [...witness.secrets(), ...secrets] });
  });
}
