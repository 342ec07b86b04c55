import type { GitHubSimulator } from './github/index.js';
import type { RenderSimulator } from './render/index.js';

/** The demo world of sandbox mode: one GitHub user with repos of different stacks, one Render account. */
export const DEMO = {
  login: 'demo-user',
  name: 'Demo User',
  renderApiKey: 'rnd_sandboxDemoKey000000000000000',
};

const files = {
  node: {
    'package.json': JSON.stringify({ name: 'hello-node', scripts: { start: 'node server.js' } }, null, 2),
    'package-lock.json': '{}',
    'server.js': "require('http').createServer((q, s) => s.end('hello')).listen(process.env.PORT || 3000);\n",
  },
  python: { 'requirements.txt': 'flask==3.0.0\ngunicorn==22.0.0\n', 'app.py': 'from flask import Flask\napp = Flask(__name__)\n' },
  go: { 'go.mod': 'module example.com/hello\n\ngo 1.22\n', 'main.go': 'package main\n\nfunc main() {}\n' },
  static: { 'index.html': '<!doctype html><title>Hello</title><h1>Hello</h1>\n' },
  docker: { Dockerfile: 'FROM nginx:alpine\nCOPY . /usr/share/nginx/html\n' },
  failing: { 'package.json': JSON.stringify({ name: 'broken-build', scripts: { start: 'node index.js', build: 'exit 1' } }, null, 2) },
};

/**
 * Seeds each simulator whose world was not loaded from its state file: a restarted sandbox keeps
 * what the demo user did instead of getting a second demo account.
 */
export function seedSandbox(github: GitHubSimulator, render: RenderSimulator): void {
  if (!github.restored) {
    github.addUser({ id: 4242, login: DEMO.login, name: DEMO.name });
    github.setAuthorizingUser(DEMO.login);
    github.addRepo({ owner: DEMO.login, name: 'hello-node', branches: { main: files.node, develop: files.node } });
    github.addRepo({ owner: DEMO.login, name: 'flask-api', private: true, branches: { main: files.python } });
    github.addRepo({ owner: DEMO.login, name: 'go-service', branches: { main: files.go } });
    github.addRepo({ owner: DEMO.login, name: 'landing-page', branches: { main: files.static } });
    github.addRepo({ owner: DEMO.login, name: 'nginx-docker', branches: { main: files.docker } });
    github.addRepo({ owner: DEMO.login, name: 'broken-build', branches: { main: files.failing } });
  }
  if (!render.restored) {
    render.addAccount({ apiKey: DEMO.renderApiKey, user: { name: DEMO.name, email: 'demo@example.com' }, workspaces: [{ name: 'Demo workspace' }] });
    // Every build of it fails, not only the first (a count that survives JSON, unlike Infinity).
    render.failBuilds({ repo: `https://github.com/${DEMO.login}/broken-build` }, 'build_failed', 1_000_000);
  }
}

/**
 * Render's builds check out what GitHub has: the head of a github.com repository's branch, as the
 * GitHub simulator has it (the Render simulator's `commitOf`), so a sandbox deploy shows the commit
 * it was requested at, not a made-up one beside it. Other repositories: null (a made-up commit).
 */
export function headsFromGitHub(github: Pick<GitHubSimulator, 'branchHead'>): (repo: string, branch: string | null) => string | null {
  return (repo, branch) => {
    const m = /^https:\/\/github\.com\/([^/]+)\/([^/]+?)(?:\.git)?\/?$/.exec(repo);
    return m && branch ? github.branchHead(m[1]!, m[2]!, branch) : null;
  };
}

/** Render's builds of a named commit check it out of the branch as the GitHub simulator has it (the Render simulator's `commitOnBranch`). */
export function branchCommitsFromGitHub(github: Pick<GitHubSimulator, 'commitOnBranch'>): (repo: string, branch: string | null, sha: string) => boolean | null {
  return (repo, branch, sha) => {
    const m = /^https:\/\/github\.com\/([^/]+)\/([^/]+?)(?:\.git)?\/?$/.exec(repo);
    return m && branch ? github.commitOnBranch(m[1]!, m[2]!, branch, sha) : null;
  };
}

/**
 * Sandbox Sentinel demo: a little while after start, and every 10 minutes after, the demo workspace
 * gets a finding-worthy audit entry (someone viewing a database's connection info, opening a shell),
 * so a demo user who turns Sentinel on sees a finding or two within a round. Returns a stop function.
 */
export function scheduleSentinelDemo(render: RenderSimulator, opts: { firstAfterMs?: number; everyMs?: number } = {}): () => void {
  const events = ['ViewConnectionInfoEvent', 'StartShellEvent'] as const;
  let n = 0;
  const emit = async () => {
    try {
      const res = await fetch(`${render.url}/owners?limit=1`, { headers: { authorization: `Bearer ${DEMO.renderApiKey}`, accept: 'application/json' } });
      const owners = (await res.json()) as Array<{ owner?: { id?: string } }>;
      const ownerId = owners[0]?.owner?.id;
      if (!ownerId) return;
      const event = events[n++ % events.length]!;
      render.addAuditEvent(ownerId, event, event === 'ViewConnectionInfoEvent' ? { postgres: 'dpg-demo-database' } : { service: 'srv-demo-shell' });
    } catch { /* the demo is best effort */ }
  };
  const first = setTimeout(() => { void emit(); }, opts.firstAfterMs ?? 30_000);
  const every = setInterval(() => { void emit(); }, opts.everyMs ?? 10 * 60_000);
  first.unref();
  every.unref();
  return () => { clearTimeout(first); clearInterval(every); };
}
