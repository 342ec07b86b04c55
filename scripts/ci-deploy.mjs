#!/usr/bin/env node
// Deploy a pushed commit through the orchestrator from CI and wait for the outcome.
// Plain Node (18+), no dependencies, so a workflow can fetch and run this one file.
//
//   ORCHESTRATOR_URL   the orchestrator's BASE_URL, e.g. https://render-orchestrator.onrender.com
//   GH_USER_TOKEN      a GitHub user token or fine-grained PAT (Actions' GITHUB_TOKEN is an app token: GitHub's
//                      GET /user refuses it, so it cannot name a user)
//   RENDER_API_KEY     sent per request (X-Render-Api-Key): kept only for this deploy, never stored in a session
//   GITHUB_REPOSITORY  owner/name (set by GitHub Actions)
//   GITHUB_REF_NAME    the branch (set by GitHub Actions)
//   GITHUB_SHA         the pushed commit (set by GitHub Actions): deployed as commit_sha, so a later push to the branch
//                      cannot be deployed in its place; and the Idempotency-Key, so a re-run does not deploy twice
//   SERVICE_NAME       the Render service name (default: the repository name, lowercased)
//   DEPLOY_TIMEOUT_SECONDS (default 1800), POLL_SECONDS (default 5)
//
// Exit code 0 when the deploy went live (its URL is printed), 1 when it failed or timed out, 2 on bad input.

const env = process.env;
const need = (name) => {
  const v = (env[name] ?? '').trim();
  if (!v) { console.error(`ci-deploy: set ${name}`); process.exit(2); }
  return v;
};
const base = need('ORCHESTRATOR_URL').replace(/\/+$/, '');
const token = need('GH_USER_TOKEN');
const apiKey = need('RENDER_API_KEY');
const repo = need('GITHUB_REPOSITORY');
const branch = (env.GITHUB_REF_NAME ?? '').trim() || undefined;
const sha = (env.GITHUB_SHA ?? '').trim();
const serviceName = (env.SERVICE_NAME ?? '').trim() || repo.split('/')[1].toLowerCase();
// A duration like '30m' read as NaN: no deadline ever came, and a NaN or zero interval polled without pause.
const seconds = (name, fallback) => {
  const raw = (env[name] ?? '').trim();
  const n = raw ? Number(raw) : fallback;
  if (!Number.isFinite(n) || n <= 0) { console.error(`ci-deploy: ${name} must be a number of seconds above 0 (got ${JSON.stringify(raw)})`); process.exit(2); }
  return n * 1000;
};
const timeoutMs = seconds('DEPLOY_TIMEOUT_SECONDS', 1800);
const pollMs = seconds('POLL_SECONDS', 5);

async function api(method, path, { body, headers } = {}) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json().catch(() => null);
  return { status: res.status, json };
}

const problem = (res) => (res.json?.error ? `${res.json.error.code}: ${res.json.error.message}` : `HTTP ${res.status}`);

const started = await api('POST', '/api/render/deploy', {
  body: { github_repo: repo, project_name: serviceName, ...(branch ? { branch } : {}), ...(sha ? { commit_sha: sha } : {}) },
  headers: { 'x-render-api-key': apiKey, ...(sha ? { 'idempotency-key': `ci-${sha}` } : {}) },
});
if (started.status !== 202) {
  console.error(`ci-deploy: the deploy was not accepted (${problem(started)})`);
  process.exit(started.status >= 400 && started.status < 500 ? 2 : 1);
}
const id = started.json.id;
console.log(`deployment ${id}: ${repo}${branch ? `@${branch}` : ''}${sha ? ` (${sha.slice(0, 7)})` : ''} → ${serviceName}`);

const deadline = Date.now() + timeoutMs;
let last = '';
for (;;) {
  const res = await api('GET', `/api/render/deployments/${encodeURIComponent(id)}`);
  if (res.status !== 200) {
    // Transient answers (429, 503) are retried; anything else ends the wait.
    if (res.status !== 429 && res.status < 500) { console.error(`ci-deploy: ${problem(res)}`); process.exit(1); }
  } else {
    const d = res.json;
    if (d.status !== last) { console.log(`status: ${d.status}`); last = d.status; }
    if (d.finished) {
      if (d.status === 'live') {
        console.log(`live: ${d.serviceUrl ?? d.dashboardUrl ?? '(no URL reported)'}`);
        process.exit(0);
      }
      console.error(`ci-deploy: ${d.status}${d.failure ? ` (${d.failure.code}: ${d.failure.message})` : ''}`);
      if (d.dashboardUrl) console.error(`dashboard: ${d.dashboardUrl}`);
      process.exit(1);
    }
  }
  if (Date.now() > deadline) { console.error(`ci-deploy: still ${last || 'unknown'} after ${timeoutMs / 1000} s`); process.exit(1); }
  await new Promise((r) => setTimeout(r, pollMs));
}
