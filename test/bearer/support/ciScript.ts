import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

// scripts/ci-deploy.mjs (the README's GitHub Actions step) as a real child process, for test/bearer/ci-script*.test.ts,
// and a proxy in front of the orchestrator for the answers a test wants it to get.

const SCRIPT = fileURLToPath(new URL('../../../scripts/ci-deploy.mjs', import.meta.url));

export interface CiRun {
  child: ChildProcess;
  /** Its exit, and everything it printed (stdout and stderr, as they came). */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }>;
  /** What it printed so far. */
  out(): string;
}

/** The script started with exactly this environment (and PATH). */
export function startCiScript(env: Record<string, string>): CiRun {
  const child = spawn(process.execPath, [SCRIPT], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += String(d); });
  child.stderr.on('data', (d) => { out += String(d); });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, out })));
  return { child, done, out: () => out };
}

/** The environment of a push's run: GitHub Actions' variables for `repo` on main at `sha`, a quick poll. */
export const pushEnv = (o: { url: string; token: string; apiKey: string; repo: string; sha: string }, extra: Record<string, string> = {}) => ({
  ORCHESTRATOR_URL: o.url, GH_USER_TOKEN: o.token, RENDER_API_KEY: o.apiKey, GITHUB_REPOSITORY: o.repo, GITHUB_REF_NAME: 'main', GITHUB_SHA: o.sha, POLL_SECONDS: '0.05', ...extra,
});

/**
 * A proxy in front of the orchestrator at `target`, for the script to reach it through. `route(req, res)` sees each
 * request first: it may answer it itself ('answered'), or give how to answer with the orchestrator's answer once the
 * request was forwarded; by default that answer is passed on (its status, body, Content-Type, Idempotent-Replayed
 * and Retry-After).
 */
export async function proxyToOrchestrator(target: string, route: (req: IncomingMessage, res: ServerResponse) => 'answered' | ((up: Response, res: ServerResponse) => Promise<void>) | undefined) {
  const passOn = async (up: Response, res: ServerResponse) => {
    const body = Buffer.from(await up.arrayBuffer());
    res.writeHead(up.status, Object.fromEntries(['content-type', 'idempotent-replayed', 'retry-after'].flatMap((h) => (up.headers.get(h) ? [[h, up.headers.get(h)!]] : []))));
    res.end(body);
  };
  const proxy = createServer((req, res) => {
    const answer = route(req, res);
    if (answer === 'answered') return;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'connection', 'content-length'].includes(k)).map(([k, v]) => [k, String(v)]));
      void fetch(`${target}${req.url}`, { method: req.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined })
        .then((up) => (answer ?? passOn)(up, res))
        .catch(() => req.socket.destroy());
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    /** The default answer, for a route that passes the orchestrator's answer on after all. */
    passOn,
    async close() {
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
    },
  };
}
