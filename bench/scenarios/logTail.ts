import type { Bench } from '../lib/bench.js';
import { startDeployment } from '../lib/bench.js';
import { createTenant, headersOf, requestDeployAs, type Tenant } from '../lib/tenants.js';
import { round, sleep } from '../lib/stats.js';
import { fmt, verdict, type Row } from '../lib/rows.js';

export interface LogTailResult {
  windowS: number;
  clients: number;
  /** Render GET /logs calls per minute while one tab, then `clients` tabs, follow one running deploy. */
  oneClientPerMin: number;
  manyClientsPerMin: number;
  /** Lines appended during the many-tab window, and the fewest / most of them any tab received. */
  linesAppended: number;
  linesReceived: { min: number; max: number };
  renderRateLimited: number;
}

/**
 * Log tail fan-out: one deployment with a build running (the simulator holds it in its build phase and
 * a line is appended every 200 ms), followed over GET /api/events?logs=<id> by one tab, then by
 * `clients` tabs of the same user, each for `windowS` seconds, through the production web process and
 * Render's default limits. What Render sees (GET /logs per minute) must not grow with the tabs.
 */
export async function runLogTail(bench: Bench, o: { clients: number; windowS: number; warmupS: number }): Promise<LogTailResult> {
  const dep = await startDeployment(bench, { name: 'logs', render: { manualDeploys: true }, worker: {}, web: { maxStreamsPerUser: o.clients + 10 } });
  let appending = true;
  try {
    const t = await createTenant(dep.deps, bench.github, dep.render, { login: 'log-tail', repos: 1 });
    const record = await requestDeployAs(dep.deps, t, 'tail');
    let ids: { serviceId: string; deployId: string } | null = null;
    for (let i = 0; i < 600 && !ids; i++) {
      const rec = await dep.deps.deployments.get(record.id);
      if (rec?.serviceId && rec.deployId) ids = { serviceId: rec.serviceId, deployId: rec.deployId };
      else await sleep(50);
    }
    if (!ids) throw new Error('the deploy never reached Render');
    dep.render.advanceDeploy(ids.deployId); // build_in_progress, held there
    let appended = 0;
    const appender = (async () => {
      while (appending) {
        dep.render.appendLog(ids.serviceId, `step ${appended} of a long build`, { type: 'build' });
        appended += 1;
        await sleep(200);
      }
    })();

    const logCalls = () => dep.render.calls.filter((c) => c.accountId === t.accountId && c.method === 'GET' && c.route === '/logs');
    const measure = async (n: number) => {
      const tabs = await Promise.all(Array.from({ length: n }, () => openTab(dep.url, t, record.id)));
      await sleep(o.warmupS * 1000);
      const before = logCalls().length;
      const firstLine = appended;
      await sleep(o.windowS * 1000);
      const calls = logCalls().length - before;
      const lastLine = appended;
      await sleep(3_500); // the last lines of the window are delivered at the next poll
      const received = tabs.map((tab) => tab.stepsSeen(firstLine, lastLine));
      for (const tab of tabs) tab.close();
      return { perMin: calls / (o.windowS / 60), lines: lastLine - firstLine, received };
    };
    const one = await measure(1);
    await sleep(1_000);
    const many = await measure(o.clients);
    appending = false;
    await appender;
    return {
      windowS: o.windowS, clients: o.clients,
      oneClientPerMin: round(one.perMin), manyClientsPerMin: round(many.perMin),
      linesAppended: many.lines, linesReceived: { min: Math.min(...many.received), max: Math.max(...many.received) },
      renderRateLimited: logCalls().filter((c) => c.status === 429).length,
    };
  } finally {
    appending = false;
    await dep.stop();
  }
}

/** A tab's event stream: which build steps' lines it received. */
async function openTab(url: string, t: Tenant, deploymentId: string) {
  const abort = new AbortController();
  const res = await fetch(`${url}/api/events?logs=${deploymentId}`, { headers: headersOf(t), signal: abort.signal });
  if (res.status !== 200) throw new Error(`event stream: ${res.status} ${await res.text()}`);
  let buf = '';
  const steps = new Set<number>();
  void (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          if (!block.startsWith('event: logs\n')) continue;
          const data = JSON.parse(block.split('\ndata: ')[1]!) as { lines: Array<{ message: string }> };
          for (const l of data.lines) {
            const m = /^step (\d+) of a long build$/.exec(l.message);
            if (m) steps.add(Number(m[1]));
          }
        }
      }
    } catch { /* closed */ }
  })();
  return {
    /** How many of steps [from, to) arrived. */
    stepsSeen: (from: number, to: number) => [...steps].filter((n) => n >= from && n < to).length,
    close: () => abort.abort(),
  };
}

export function logTailRows(l: LogTailResult): Row[] {
  // Equal up to one poll at a window's edge (a 30 s window holds 10 or 11 polls at 3 s): a poller per
  // tab would multiply the calls by the tabs.
  const slack = 60 / l.windowS;
  return [
    {
      metric: `log tail fan-out: ${l.clients} SSE clients on one deployment (${l.windowS} s)`,
      value: `Render GET /logs ${fmt(l.manyClientsPerMin)}/min with ${l.clients} tabs vs ${fmt(l.oneClientPerMin)}/min with one${l.renderRateLimited ? `; ${l.renderRateLimited} × 429` : ''}`,
      target: `= one tab's (± ${fmt(slack)}/min: 1 poll)`, verdict: verdict(Math.abs(l.manyClientsPerMin - l.oneClientPerMin) <= slack && l.renderRateLimited === 0),
    },
    {
      metric: `  lines delivered to each of the ${l.clients} tabs`,
      value: `${l.linesReceived.min === l.linesAppended ? 'all' : `${l.linesReceived.min}–${l.linesReceived.max} of`} ${l.linesAppended} new lines`,
      target: 'every line, every tab', verdict: verdict(l.linesReceived.min === l.linesAppended),
    },
  ];
}
