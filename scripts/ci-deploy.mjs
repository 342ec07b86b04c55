#!/usr/bin/env node
// Deploy a pushed commit through the orchestrator from CI and wait for the outcome.
// Plain Node (18+), no dependencies, so a workflow can fetch and run this one file.
//
// The first push creates the service (POST /api/render/deploy); every later push redeploys it
// (POST /api/render/services/:id/redeploy with commit_sha): a deploy always creates a service, and
// Render refuses a second service of the same name in a workspace. Two pushes close together on a new service:
// the later run may look up before the earlier one's deploy has created it, and its own deploy then ends
// service_name_taken; it waits (2 minutes at most) for that service of this repository and branch to be
// listed, and redeploys it at its commit.
//
//   ORCHESTRATOR_URL   the orchestrator's BASE_URL, e.g. https://render-orchestrator.onrender.com
//   GH_USER_TOKEN      a GitHub user token or fine-grained PAT (Actions' GITHUB_TOKEN is an app token: GitHub's
//                      GET /user refuses it, so it cannot name a user)
//   RENDER_API_KEY     sent per request (X-Render-Api-Key): kept only for this deploy, never stored in a session
//   GITHUB_REPOSITORY  owner/name (set by GitHub Actions)
//   GITHUB_REF_NAME    the branch (set by GitHub Actions)
//   GITHUB_SHA         the pushed commit (set by GitHub Actions): deployed as commit_sha, so a later push to the branch
//                      cannot be deployed in its place; and, with the service name, the Idempotency-Key, so a re-run
//                      does not deploy twice (a re-run after a failed deploy deploys the commit again, once)
//   SERVICE_NAME       the Render service name, lowercased (default: the repository name). A service of that name
//                      that deploys another repository or branch is left alone: exit 2, set another SERVICE_NAME
//   DEPLOY_TIMEOUT_SECONDS (default 1800), POLL_SECONDS (default 5). A 429, a proxy's 502/503/504 or no answer is
//                      asked again (after Retry-After): the look-up and the start for up to 2 minutes, the wait until the timeout.
//                      A start answered idempotency_in_progress (an earlier ask with the key still being processed) is
//                      asked again with backoff (not before Retry-After) for 2.5 minutes at most, within the timeout
//
// Exit code 0 when the deploy went live (its URL is printed; also when a later deploy has replaced it since), or
// when nothing was deployed because this commit, or a newer one of the branch, is already live or being deployed (a
// redeploy never puts older code live: runs finishing out of order, a re-run of an old job), 1 when it failed or timed out
// (an earlier ask with the same Idempotency-Key still being processed when the wait for it ran out included), 2 on bad input
// (SERVICE_NAME taken by another repository's service included; a value with a line break, or a token, key, sha or
// SERVICE_NAME with a character past ASCII, never printed; a URL with a user name or password; a redirect, which is
// not followed: it would carry the Render key to wherever it points), 130 / 143 when
// the job is canceled (SIGINT / SIGTERM): the deployment goes on, and the last line says where to follow or cancel it.

const env = process.env;
// Every line printed goes through shown(): it quotes the orchestrator's answers (error messages, statuses, ids,
// URLs; a deploy's failure may quote the repository: a dependency's name from package.json, line breaks and all), and
// an ORCHESTRATOR_URL answering with line breaks, terminal escapes or GitHub Actions workflow commands
// (`::add-mask::…`, `::error::…` at a line's start; `##[cmd]` anywhere in one) wrote them into the CI log as its own
// lines, and one echoing the request's headers printed the token and the key. Control characters (C0, DEL, C1, line
// and paragraph separators, bidi controls) become one space or '?', `##[` is broken up, the token and the key are
// replaced by ***, and a line is cut at 2,000 characters.
const secrets = [];
const unsafe = (n) => n < 0x20 || (n >= 0x7f && n <= 0x9f) || n === 0x2028 || n === 0x2029 || (n >= 0x202a && n <= 0x202e) || (n >= 0x2066 && n <= 0x2069);
const shown = (line) => {
  let s = String(line);
  for (const secret of secrets) s = s.split(secret).join('***');
  s = [...s].map((c) => (c === '\n' || c === '\r' || c === '\t' ? ' ' : unsafe(c.charCodeAt(0)) ? '?' : c)).join('').replaceAll('##[', '## [');
  return s.length > 2000 ? `${s.slice(0, 2000)}…` : s;
};
const say = (line) => console.log(shown(line));
const warn = (line) => console.error(shown(line));
const bad = (message) => { warn(`ci-deploy: ${message}`); process.exit(2); };
// A line break or other control character inside a value (a secret pasted with its newline): refused, never printed.
// Sent on, it made fetch refuse the header with the whole value in its message, which was printed at every retry.
const hasControl = (v) => [...v].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);
const need = (name) => {
  const v = (env[name] ?? '').trim();
  if (!v) bad(`set ${name}`);
  if (hasControl(v)) bad(`${name} contains a line break or another control character; set it to the value alone`);
  return v;
};
const base = need('ORCHESTRATOR_URL').replace(/\/+$/, '');
if (!/^https?:\/\/[^/\s]+/i.test(base)) bad('ORCHESTRATOR_URL must be an http(s):// address, e.g. https://render-orchestrator.onrender.com');
// A user name and password in it: fetch refuses such a URL (retried as "no answer" for 2 minutes), and the
// address is printed in this job's log (no answer from …, follow it at …). Never printed here.
{
  let url = null;
  try { url = new URL(base); } catch { /* said below */ }
  if (!url) bad('ORCHESTRATOR_URL must be an http(s):// address, e.g. https://render-orchestrator.onrender.com');
  if (url.username || url.password) bad('ORCHESTRATOR_URL must not hold a user name or password; set it to the address alone');
}
// Sent as headers, which take no character past ASCII (fetch refuses one: an invisible character or a typographic
// quote pasted with a secret was retried as "no answer" for 2 minutes, then exit 1). Refused, never printed.
const ascii = (v) => [...v].every((c) => c.charCodeAt(0) <= 0x7e);
const needAscii = (name) => {
  const v = need(name);
  if (!ascii(v)) bad(`${name} contains a character that is not ASCII (an invisible one, or a typographic quote, pasted with it?); set it to the value alone`);
  if (v.length >= 8) secrets.push(v); // (a shorter one is refused by the orchestrator, and would mask common text)
  return v;
};
const token = needAscii('GH_USER_TOKEN');
const apiKey = needAscii('RENDER_API_KEY');
const repo = need('GITHUB_REPOSITORY');
if (!/^[^/\s]+\/[^/\s]+$/.test(repo)) bad('GITHUB_REPOSITORY must be owner/name');
const branch = (env.GITHUB_REF_NAME ?? '').trim() || undefined;
const sha = (env.GITHUB_SHA ?? '').trim();
// Lowercase as the deploy makes it (Render's names are): the look-up asks for it and compares it with the names listed.
const serviceName = ((env.SERVICE_NAME ?? '').trim() || repo.split('/')[1]).toLowerCase();
for (const [name, value] of [['GITHUB_REF_NAME', branch ?? ''], ['GITHUB_SHA', sha], ['SERVICE_NAME', serviceName]]) {
  if (hasControl(value)) bad(`${name} contains a line break or another control character`);
}
// GITHUB_SHA and SERVICE_NAME make the Idempotency-Key header: ASCII only (see needAscii).
if (sha && !ascii(`${sha}${serviceName}`)) bad('GITHUB_SHA and SERVICE_NAME go into the Idempotency-Key header, which takes ASCII only: set them without other characters');
// A duration like '30m' read as NaN: no deadline ever came, and a NaN or zero interval polled without pause;
// past 24.8 days Node's timers fire at once (a poll every millisecond).
const MAX_TIMER_MS = 2_147_483_647;
const seconds = (name, fallback) => {
  const raw = (env[name] ?? '').trim();
  const n = raw ? Number(raw) : fallback;
  if (!Number.isFinite(n) || n <= 0 || n * 1000 > MAX_TIMER_MS) bad(`${name} must be a number of seconds above 0 and below 2147483 (got ${JSON.stringify(raw)})`);
  return n * 1000;
};
const timeoutMs = seconds('DEPLOY_TIMEOUT_SECONDS', 1800);
const pollMs = seconds('POLL_SECONDS', 5);
const deadline = Date.now() + timeoutMs;
// Starting (the look-up and the deploy or redeploy) is tried again for 2 minutes at most: an
// ORCHESTRATOR_URL that never answers is a mistake to report, not to wait out for half an hour.
const startDeadline = Date.now() + Math.min(timeoutMs, 120_000);

// An ask with an Idempotency-Key whose earlier ask with that key is still being processed (this run's
// first attempt, whose answer a proxy's timeout lost; or another run of this commit) is answered 409
// idempotency_in_progress until that one has made its deployment: then asking again answers with it.
// Waited for (with backoff, and no sooner than Retry-After) a little longer than the orchestrator takes
// to give up on an ask lost with its process (2 minutes; a retry after that deploys), within the timeout.
const IN_PROGRESS_WAIT_MS = 150_000;

// No answer (the connection refused or dropped: a proxy, the orchestrator restarting) is status 0, not a
// thrown error: the wait below retries it, and the other calls say what happened instead of a stack trace.
async function api(method, path, { body, headers, retry = false } = {}) {
  const idemKey = headers?.['idempotency-key'];
  let inProgressSince = 0;
  let backoffMs = 500;
  for (;;) {
    const res = await call(method, path, body, headers);
    if (retry && idemKey && res.status === 409 && res.json?.error?.code === 'idempotency_in_progress') {
      inProgressSince ||= Date.now();
      const left = Math.min(inProgressSince + IN_PROGRESS_WAIT_MS, deadline) - Date.now();
      if (left <= 0) {
        warn(`ci-deploy: an earlier request with Idempotency-Key ${idemKey} was still being processed after ${Math.round((Date.now() - inProgressSince) / 1000)} s; nothing else was asked. Re-run the job: it follows that request's deployment once made (or deploys, if that request was lost)`);
        return res;
      }
      const waitMs = Math.min(Math.max(backoffMs, retryAfterMs(res)), left);
      backoffMs = Math.min(backoffMs * 2, 10_000);
      warn(`ci-deploy: ${method} ${path}: a request with the same Idempotency-Key (${idemKey}) is still being processed; asking again in ${Math.ceil(waitMs / 1000)} s`);
      await new Promise((r) => setTimeout(r, waitMs));
      continue;
    }
    // A call safe to repeat (a read, or a write with an Idempotency-Key) is tried again on an answer that
    // says "not now" (429, a proxy's 502/503/504) or none at all, after Retry-After, for a while.
    if (!retry || !transient(res.status) || Date.now() >= startDeadline) return res;
    const waitMs = Math.min(Math.max(pollMs, retryAfterMs(res)), Math.max(0, startDeadline - Date.now()));
    warn(`ci-deploy: ${method} ${path}: ${problem(res)}; trying again in ${Math.ceil(waitMs / 1000)} s`);
    await new Promise((r) => setTimeout(r, waitMs));
  }
}
const transient = (status) => status === 0 || status === 429 || status === 502 || status === 503 || status === 504;
const retryAfterMs = (res) => {
  const s = Number(res.retryAfter);
  return Number.isFinite(s) && s > 0 ? s * 1000 : 0;
};

/**
 * How long one request may take: 30 s, and no more than 10 s past the deadline (a hung answer held the run past it
 * for Node's 5 minutes). Not less than 10 s: an answer on its way near the deadline (a loaded orchestrator) is read.
 */
const requestMs = () => Math.max(10_000, Math.min(30_000, deadline - Date.now() + 10_000));

async function call(method, path, body, headers) {
  try {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body ? JSON.stringify(body) : undefined,
      signal: globalThis.AbortSignal.timeout(requestMs()),
      // Not followed: fetch drops Authorization on a redirect to another origin, but sent X-Render-Api-Key (the
      // Render key) and the body on to wherever Location pointed. A redirect is ORCHESTRATOR_URL set wrong (http://
      // for https://, an old address): said, with the origin it points to, as bad input.
      redirect: 'manual',
    });
    if (res.status >= 300 && res.status < 400) {
      let to = 'an address it did not give';
      try { to = new URL(res.headers.get('location') ?? '', `${base}/`).origin; } catch { /* keep the default */ }
      await res.body?.cancel().catch(() => {});
      return { status: res.status, json: null, redirectTo: to };
    }
    const json = await res.json().catch(() => null);
    return { status: res.status, json, replayed: res.headers.get('idempotent-replayed') === 'true', retryAfter: res.headers.get('retry-after') };
  } catch (err) {
    // Only the network's own word (a code, a timeout): an error of the request itself may quote a header, the token.
    const network = err?.name === 'TimeoutError' ? `no answer in ${Math.round(requestMs() / 1000)} s` : err?.cause?.code ?? 'no answer';
    return { status: 0, json: null, network };
  }
}

const problem = (res) => (res.status === 0 ? `no answer from ${base}: ${res.network}`
  : res.redirectTo ? `HTTP ${res.status}, a redirect to ${res.redirectTo}, not followed (it would carry your Render key there): set ORCHESTRATOR_URL to the orchestrator's own address, its BASE_URL`
  : res.json?.error ? `${res.json.error.code}: ${res.json.error.message}` : `HTTP ${res.status}`);

const failWith = (what, res) => {
  warn(`ci-deploy: ${what} (${problem(res)})`);
  // 4xx is bad input, but a rate limit (429) is not: it passes; nor an earlier ask with the key still being processed after the wait.
  const notNow = res.status === 429 || res.json?.error?.code === 'idempotency_in_progress';
  // A redirect is ORCHESTRATOR_URL set wrong: bad input too.
  process.exit((res.status >= 400 && res.status < 500 && !notNow) || res.redirectTo ? 2 : 1);
};
const key = { 'x-render-api-key': apiKey };
const idemOf = (k) => (k ? { 'idempotency-key': k } : {});
const deployBody = { github_repo: repo, project_name: serviceName, ...(branch ? { branch } : {}), ...(sha ? { commit_sha: sha } : {}) };
const deploy = (idem) => api('POST', '/api/render/deploy', { body: deployBody, headers: { ...key, ...idem }, retry: Boolean(idem['idempotency-key']) });

// Render's repo is a URL (https://github.com/owner/name); GitHub's names are case-insensitive.
const repoOf = (url) => (url ?? '').replace(/^https?:\/\/github\.com\//i, '').replace(/\.git$/i, '').replace(/\/+$/, '').toLowerCase();
// The services named SERVICE_NAME only (GET /api/render/services/lookup): the orchestrator reads Render's
// list filtered by name and the latest deploy of those alone, not of every service of the key (the whole
// list costs a Render read per service from the key's budget). An orchestrator older than that route
// (404 or 405 to it) is asked for the whole list instead, and so is one that refuses the name (400): the
// look-up takes the deploy form's naming rule, and a service named on Render's dashboard (legacy_app.v2)
// can still be found, and redeployed, in the whole list.
const lookUp = async (opts) => {
  const res = await api('GET', `/api/render/services/lookup?name=${encodeURIComponent(serviceName)}`, opts);
  return res.status === 400 || res.status === 404 || res.status === 405 ? api('GET', '/api/render/services', opts) : res;
};
const listed = await lookUp({ headers: key, retry: true });
if (listed.status !== 200 || !Array.isArray(listed.json?.services)) failWith('could not list your Render services', listed);
const isOurs = (s) => s.name === serviceName && repoOf(s.repo) === repo.toLowerCase() && (!branch || s.branch === branch);
const named = listed.json.services.filter((s) => s.name === serviceName);
let ours = named.filter(isOurs);

if (ours.length > 1) {
  warn(`ci-deploy: several services named "${serviceName}" deploy ${repo}${branch ? `@${branch}` : ''} (${ours.map((s) => s.id).join(', ')}, in different workspaces); this script cannot tell which to redeploy`);
  process.exit(2);
} else if (ours.length === 0 && named.length > 0) {
  const other = named.map((s) => `${s.id} deploys ${repoOf(s.repo) || '(no repository)'}${s.branch ? `@${s.branch}` : ''}`).join('; ');
  warn(`ci-deploy: the service name "${serviceName}" is taken by a service of another repository or branch (${other}), not ${repo}${branch ? `@${branch}` : ''}. Nothing was deployed; set SERVICE_NAME to a name of its own for this repository${branch ? ' and branch' : ''}.`);
  process.exit(2);
}

/** The deployment asked for with Idempotency-Key `idemKey`: a redeploy of our service, or the deploy that creates it. */
async function start(idemKey) {
  const idem = idemOf(idemKey);
  if (ours.length === 0) {
    const res = await deploy(idem);
    if (res.status !== 202) failWith('the deploy was not accepted', res);
    return accepted(res);
  }
  const svc = ours[0];
  let res = await api('POST', `/api/render/services/${encodeURIComponent(svc.id)}/redeploy`, { body: sha ? { commit_sha: sha } : {}, headers: { ...key, ...idem }, retry: Boolean(idem['idempotency-key']) });
  // This commit's run was the one that created the service (a re-run): its key names that deploy, which is
  // asked for again with the same request and answered with the deployment it made (nothing new deployed).
  if (res.status === 409 && res.json?.error?.code === 'idempotency_key_reused') res = await deploy(idem);
  if (res.status !== 202) failWith(`the redeploy of ${svc.id} was not accepted`, res);
  return accepted(res);
}
/** A 202 that names no deployment (a proxy's page): nothing to follow (it was a stack trace). */
function accepted(res) {
  if (typeof res.json?.id === 'string' && res.json.id) return res;
  warn(`ci-deploy: the request was answered 202 (accepted) but the answer names no deployment (a proxy's page?); nothing to follow. Re-run the job${sha ? ': its Idempotency-Key finds the deployment, if one was made' : ''}`);
  process.exit(1);
}

// Per service as well as per commit: one push may deploy several services (a SERVICE_NAME each), and one
// key for all of them made every run after the first a reused key (409).
let started = await start(sha ? `ci-${sha}-${serviceName}` : undefined);
// A re-run whose key names a deployment that failed (a flaky build, a variable missing and set since):
// the commit is deployed again, under a key naming that failure, so re-runs of this job agree on one
// new attempt, and a re-run after that one went live is answered with it (nothing new deployed).
const wentLive = (d) => d.status === 'live' || d.status === 'deactivated';
// A redeploy of a commit already live, or older than the one live or being deployed (CI runs finishing
// out of order, a re-run of an old job), deploys nothing and ends canceled saying so: not a failure of
// this commit. The orchestrator says which endings those are (nothingToDeploy): no list of codes here
// to fall behind its own.
const nothingToDo = (d) => d.nothingToDeploy === true;
for (let tries = 0; sha && started.replayed && started.json.finished && !wentLive(started.json) && !nothingToDo(started.json) && tries < 20; tries++) {
  say(`deployment ${started.json.id} of this commit ended ${started.json.status}: deploying it again`);
  started = await start(`ci-${sha}-${serviceName}-after-${started.json.id}`);
}
const announce = (d) => say(`deployment ${d.id}: ${repo}${branch ? `@${branch}` : ''}${sha ? ` (${sha.slice(0, 7)})` : ''} → ${serviceName}${d.kind === 'redeploy' ? ` (redeploy of ${d.serviceId})` : ''}`);
announce(started.json);

// The job canceled (Actions sends SIGINT, then SIGTERM): the deployment goes on; the log says where it is.
let followedId = null;
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]]) {
  process.on(signal, () => {
    warn(followedId ? `ci-deploy: canceled; deployment ${followedId} goes on without this job (follow or cancel it at ${base}/#/deployments/${followedId})` : 'ci-deploy: canceled');
    process.exit(code);
  });
}

/** The deployment `id` once finished (exits when the wait cannot go on, or on the timeout). */
async function finished(id) {
  followedId = id;
  let last = '';
  for (;;) {
    const res = await api('GET', `/api/render/deployments/${encodeURIComponent(id)}`);
    if (res.status !== 200) {
      // Transient answers (429, 503) and no answer at all are retried; anything else ends the wait.
      if (res.status !== 0 && res.status !== 429 && res.status < 500) { warn(`ci-deploy: ${problem(res)}`); process.exit(1); }
    } else if (typeof res.json?.status === 'string') {
      const d = res.json;
      if (d.status !== last) { say(`status: ${d.status}`); last = d.status; }
      if (d.finished) return d;
    } // else a 200 that is no deployment (a proxy's maintenance page): asked again, as a 503 is
    if (Date.now() > deadline) {
      warn(`ci-deploy: still ${last || 'unknown'} after ${timeoutMs / 1000} s; deployment ${id} goes on without this job: follow it at ${base}/#/deployments/${id}`);
      process.exit(1);
    }
    // Not before Retry-After (a 429), nor past the deadline.
    await new Promise((r) => setTimeout(r, Math.min(Math.max(pollMs, retryAfterMs(res)), Math.max(0, deadline - Date.now()) + 1)));
  }
}

/**
 * Our service (this repository and branch, under SERVICE_NAME) once the service list shows it, polled
 * for 2 minutes at most; null when it does not appear, or a service of another repository has the name.
 */
async function ourServiceAppearing() {
  const until = Date.now() + Math.min(timeoutMs, 120_000);
  for (;;) {
    const res = await lookUp({ headers: key });
    const services = res.status === 200 && Array.isArray(res.json?.services) ? res.json.services : [];
    const found = services.filter(isOurs);
    if (found.length === 1) return found[0];
    if (found.length > 1 || services.some((s) => s.name === serviceName)) return null;
    if (Date.now() >= until) return null;
    await new Promise((r) => setTimeout(r, Math.max(pollMs, 1_000)));
  }
}

let d = await finished(started.json.id);
// Two pushes close together on a new service: this run's look-up found none while the other run's
// deploy was creating it, so the deploy asked here found the name taken by that same service. It is
// redeployed at this commit once it is listed (a newer commit live by then is left alone: see above).
if (d.status === 'failed' && d.failure?.code === 'service_name_taken' && ours.length === 0) {
  say(`deployment ${d.id} ended service_name_taken: another run is creating "${serviceName}" (or just has); redeploying it once it is listed`);
  const svc = await ourServiceAppearing();
  if (svc) {
    ours = [svc];
    started = await start(sha ? `ci-${sha}-${serviceName}-after-${d.id}` : undefined);
    announce(started.json);
    d = await finished(started.json.id);
  } else warn(`ci-deploy: no service "${serviceName}" of ${repo}${branch ? `@${branch}` : ''} was listed within ${Math.round(Math.min(timeoutMs, 120_000) / 1000)} s`);
}

if (d.status === 'live') {
  say(`live: ${d.serviceUrl ?? d.dashboardUrl ?? '(no URL reported)'}`);
  process.exit(0);
}
// It went live and a later deploy has replaced it since (a re-run of an older commit's job): it succeeded.
if (d.status === 'deactivated') {
  say(`went live, since replaced by a later deploy: ${d.serviceUrl ?? d.dashboardUrl ?? '(no URL reported)'}`);
  process.exit(0);
}
if (nothingToDo(d)) {
  say(`nothing was deployed (${d.failure?.code ?? d.status}): ${d.failure?.message ?? 'this commit or a newer one is already live'}`);
  process.exit(0);
}
warn(`ci-deploy: ${d.status}${d.failure ? ` (${d.failure.code}: ${d.failure.message})` : ''}`);
if (d.dashboardUrl) warn(`dashboard: ${d.dashboardUrl}`);
process.exit(1);
