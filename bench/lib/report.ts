import type { ApiResult } from '../scenarios/api.js';

export interface Row {
  metric: string;
  value: string;
  /** The target, when the brief sets one. */
  target?: string;
  verdict?: 'PASS' | 'MISS';
}

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits }) : 'n/a');
const verdict = (ok: boolean): Row['verdict'] => (ok ? 'PASS' : 'MISS');

/** The summary table: one row per figure, with the brief's targets marked PASS/MISS. */
export function buildTable(results: Record<string, unknown>): Row[] {
  const rows: Row[] = [];
  const failed = (name: string) => {
    const r = results[name] as { error?: string } | undefined;
    if (r?.error) rows.push({ metric: `${name}: scenario failed`, value: r.error.slice(0, 80), verdict: 'MISS' });
    return !r || Boolean(r.error);
  };

  if (!failed('api')) {
    const a = results.api as ApiResult;
    rows.push({ metric: `bare Koa JSON (${a.connections} conn, ${a.durationS} s)`, value: `${fmt(a.bareKoa.reqPerSec, 0)} req/s, p50 ${a.bareKoa.p50Ms} ms, p99 ${a.bareKoa.p99Ms} ms` });
    for (const [label, f] of [['GET /api/session', a.session], ['GET /api/render/status', a.renderStatus]] as const) {
      rows.push({
        metric: `${label} (authenticated)`,
        value: `${fmt(f.reqPerSec, 0)} req/s = ${fmt(f.ratio, 2)}× bare Koa; p50 ${f.p50Ms} ms, p99 ${f.p99Ms} ms${f.non2xx || f.errors ? `; ${f.non2xx} non-2xx, ${f.errors} errors` : ''}`,
        target: '≥ 0.5× bare Koa', verdict: verdict(f.ratio >= 0.5 && f.non2xx === 0),
      });
    }
  }
  return rows;
}

export function printTable(rows: Row[]): void {
  const w0 = Math.max(6, ...rows.map((r) => r.metric.length));
  const w1 = Math.max(5, ...rows.map((r) => r.value.length));
  const w2 = Math.max(6, ...rows.map((r) => (r.target ?? '').length));
  const line = (a: string, b: string, c: string, d: string) => `${a.padEnd(w0)} | ${b.padEnd(w1)} | ${c.padEnd(w2)} | ${d}`;
  process.stdout.write(`\n${line('metric', 'value', 'target', 'result')}\n${'-'.repeat(w0 + w1 + w2 + 16)}\n`);
  for (const r of rows) process.stdout.write(`${line(r.metric, r.value, r.target ?? '', r.verdict ?? '')}\n`);
  process.stdout.write('\n');
}
