import type { Bench } from '../lib/bench.js';
import { startDeployment } from '../lib/bench.js';
import { startChild } from '../lib/children.js';
import { measureInterleaved, ratioTo, SLICES, type LoadFigures } from '../lib/load.js';
import { BENCH_USER_AGENT, createTenant, requestDeployAs, type Tenant } from '../lib/tenants.js';
import { mapLimit } from '../lib/stats.js';
import { baselineRow, cpuRow, fmt, loadValue, ratioRow, verdict, type Row } from '../lib/rows.js';

export interface BearerResult {
  connections: number; warmupS: number; durationS: number; users: number; deploymentsPerUser: number;
  bareKoa: LoadFigures;
  /** `Authorization: Bearer <GitHub token>` GET /api/session, as a ratio of bare Koa. */
  session: LoadFigures & { ratio: number };
  /** GET /api/render/my-deployments with the bearer token: the REST call the MCP tool below stands for. */
  rest: LoadFigures & { ratio: number };
  /** POST /mcp `tools/call` list_deployments, as a ratio of the REST call (`ratio`) and of bare Koa. */
  mcp: LoadFigures & { ratio: number; ratioToBareKoa: number };
  /** GitHub GET /user (the token check): over the whole scenario, and during the measured windows only. */
  githubUserCalls: { total: number; measured: number; measuredRequests: number };
}

const USER_PATH = '/api/v3/user';
const LIMIT = 20;
const mcpCall = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'list_deployments', arguments: { limit: LIMIT } } });
const bearerHeaders = (t: Tenant, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${t.githubToken}`, 'user-agent': BENCH_USER_AGENT, ...extra });
const mcpHeaders = (t: Tenant) => bearerHeaders(t, { 'content-type': 'application/json', accept: 'application/json, text/event-stream' });

/**
 * Scripts and AI assistants (issue 13): bearer-token REST calls and MCP tool calls through the
 * production web process. Each user's token is checked with GitHub once, on its first request (the
 * check is cached by an HMAC of the token for BEARER_RECHECK_SECONDS); the rows count GitHub's
 * GET /user to show it. The MCP tool is list_deployments, whose REST equivalent is
 * GET /api/render/my-deployments with the same token: a tool call is that route run in-process as
 * the caller (server/mcp/dispatch.ts), plus JSON-RPC, a fresh MCP server and an audit entry.
 */
export async function runBearer(bench: Bench, o: { connections: number; warmupS: number; durationS: number; users: number; deploymentsPerUser: number }): Promise<BearerResult> {
  const bare = await startChild(bench.cleanup, 'bare-koa-bearer', 'bareKoaMain.ts', {});
  const dep = await startDeployment(bench, { name: 'bearer' });
  try {
    const tenants = await mapLimit(Array.from({ length: o.users }, (_, i) => i), 20, (i) =>
      createTenant(dep.deps, bench.github, dep.render, { login: `bearer-user-${i}`, repos: 1 }));
    // No worker runs: the deployments stay queued, so every list is the same size throughout.
    await mapLimit(tenants.flatMap((t) => Array.from({ length: o.deploymentsPerUser }, (_, k) => ({ t, k }))), 20, ({ t, k }) => requestDeployAs(dep.deps, t, `listed-${k}`));
    const logins = new Set(tenants.map((t) => t.login));
    const userCalls = () => bench.github.calls.filter((c) => c.path === USER_PATH && c.login !== undefined && logins.has(c.login)).length;
    const callsAtStart = userCalls();
    await assertServed(dep.url, tenants, o.deploymentsPerUser);

    const load = { connections: o.connections, warmupS: o.warmupS, durationS: o.durationS };
    const bearer = tenants.map((t) => bearerHeaders(t));
    const before = userCalls();
    // Two interleaved pairs, each side against the one it is divided by: the bearer read with bare Koa (as
    // `api` does), then the MCP call with its REST call. Interleaved all four together, the web process
    // collected the MCP slices' garbage (~4 ms of CPU per call, much of it allocation) during the bearer
    // read's slices, which counted it as the read's CPU (bench/README.md, bearer).
    bench.log('  bare Koa, bearer GET /api/session (interleaved) …');
    const [bareKoa, session] = await measureInterleaved(bench, [
      { server: bare, req: { url: `${String(bare.ready.url)}/api/session`, headers: [{ 'user-agent': 'bench' }] } },
      { server: dep.web, req: { url: `${dep.url}/api/session`, headers: bearer } },
    ], { ...load, slices: SLICES }) as [LoadFigures, LoadFigures];
    bench.log('  bearer GET /api/render/my-deployments, MCP tools/call (interleaved) …');
    const [rest, mcp] = await measureInterleaved(bench, [
      { server: dep.web, req: { url: `${dep.url}/api/render/my-deployments?limit=${LIMIT}`, headers: bearer } },
      { server: dep.web, req: { url: `${dep.url}/mcp`, method: 'POST', body: mcpCall, headers: tenants.map(mcpHeaders) } },
    ], { ...load, slices: SLICES }) as [LoadFigures, LoadFigures];
    // Warm-ups included: every bearer request after each token's first (in assertServed).
    const measured = { calls: userCalls() - before, requests: session.requests + rest.requests + mcp.requests };
    return {
      ...load, users: o.users, deploymentsPerUser: o.deploymentsPerUser, bareKoa,
      session: ratioTo(bareKoa, session), rest: ratioTo(bareKoa, rest),
      mcp: { ...ratioTo(rest, mcp), ratioToBareKoa: ratioTo(bareKoa, mcp).ratio },
      githubUserCalls: { total: userCalls() - callsAtStart, measured: measured.calls, measuredRequests: measured.requests },
    };
  } finally {
    await dep.stop();
    await bare.stop();
  }
}

/** Every token is accepted, and the REST call and the tool call return the same list (else the rows compare different work). */
async function assertServed(url: string, tenants: Tenant[], listed: number) {
  for (const t of tenants) {
    const session = await fetch(`${url}/api/session`, { headers: bearerHeaders(t) });
    const who = (await session.json()) as { user?: { id: number } };
    if (session.status !== 200 || who.user?.id !== t.userId) throw new Error(`bearer token of ${t.login} was not accepted: ${session.status}`);
    const rest = await fetch(`${url}/api/render/my-deployments?limit=${LIMIT}`, { headers: bearerHeaders(t) });
    const restBody = (await rest.json()) as { deployments?: unknown[] };
    const tool = await fetch(`${url}/mcp`, { method: 'POST', headers: mcpHeaders(t), body: mcpCall });
    const toolBody = (await tool.json()) as { result?: { isError?: boolean; structuredContent?: { deployments?: unknown[] } } };
    const sizes = [restBody.deployments?.length, toolBody.result?.structuredContent?.deployments?.length];
    if (rest.status !== 200 || tool.status !== 200 || toolBody.result?.isError || sizes.some((n) => n !== listed)) {
      throw new Error(`${t.login}: REST ${rest.status}, MCP ${tool.status} ${JSON.stringify(toolBody).slice(0, 200)}; listed ${sizes.join('/')} of ${listed}`);
    }
  }
}

/**
 * A tool call is the REST request's work (POST /mcp through the whole stack) plus the route run again
 * in-process, JSON-RPC, a fresh MCP server and an audit append: it cannot reach half of the REST
 * call's rate. The target allows the work of three REST calls.
 */
const MCP_MIN_RATIO = 0.33;

export function bearerRows(b: BearerResult): Row[] {
  const g = b.githubUserCalls;
  return [
    baselineRow(`bare Koa JSON (bearer run: ${b.connections} conn, ${b.durationS} s)`, b.bareKoa),
    ratioRow(`GET /api/session (Authorization: Bearer, ${b.users} tokens)`, b.session, 'bare Koa', 0.5),
    cpuRow('  bearer GET /api/session CPU per request', b.session, b.bareKoa, 'bare Koa', 2),
    {
      metric: '  GitHub GET /user (token check, cached by HMAC)',
      value: `${g.total} for ${b.users} tokens over the scenario; ${g.measured} in ${fmt(g.measuredRequests, 0)} measured bearer requests (${fmt((g.measured * 1000) / Math.max(1, g.measuredRequests), 3)} per 1,000)`,
      target: '≤ 1 per token, 0 after', verdict: verdict(g.total <= b.users && g.measured === 0),
    },
    { ...baselineRow(`bearer GET /api/render/my-deployments (${b.deploymentsPerUser} records)`, b.rest), value: `${loadValue(b.rest)}; ${fmt(b.rest.ratio, 2)}× bare Koa` },
    ratioRow('MCP tools/call list_deployments (POST /mcp)', b.mcp, 'the REST call', MCP_MIN_RATIO),
    cpuRow('  MCP tool call CPU', b.mcp, b.rest, 'the REST call', 3),
  ];
}
