import { apiRows } from '../scenarios/api.js';
import { bearerRows } from '../scenarios/bearer.js';
import { servicesRows } from '../scenarios/services.js';
import { sentinelRows } from '../scenarios/sentinel.js';
import { pipelineRows } from '../scenarios/pipeline.js';
import { scaleRows } from '../scenarios/scale.js';
import { sessionsRows } from '../scenarios/sessions.js';
import { logTailRows } from '../scenarios/logTail.js';
import { detectRows } from '../scenarios/detect.js';
import { telemetryRows } from '../scenarios/telemetry.js';
import { fmt, verdict, type Row } from './rows.js';

export type { Row } from './rows.js';

/** Each scenario's rows, in the order of the table; a scenario's own file says what its targets are. */
const ROWS: Array<[name: string, rows: (result: never) => Row[]]> = [
  ['api', apiRows], ['bearer', bearerRows], ['services', servicesRows], ['pipeline', pipelineRows], ['scale', scaleRows],
  ['sessions', sessionsRows], ['sentinel', sentinelRows], ['logs', logTailRows], ['detect', detectRows], ['telemetry', telemetryRows],
];

/** The summary table: one row per figure, each with its target and PASS/MISS. */
export function buildTable(results: Record<string, unknown>): Row[] {
  const rows: Row[] = [];
  for (const [name, rowsOf] of ROWS) {
    const r = results[name] as { error?: string } | undefined;
    if (!r) continue;
    if (r.error) rows.push({ metric: `${name}: scenario failed`, value: r.error.slice(0, 80), target: 'runs', verdict: 'MISS' });
    else rows.push(...rowsOf(r as never));
  }

  const limited = (['services', 'pipeline', 'scale'] as const).map((k) => results[k] as { renderRateLimited?: number; renderCalls?: number } | undefined).filter((r) => r && r.renderCalls !== undefined);
  if (limited.length) {
    const calls = limited.reduce((a, r) => a + (r!.renderCalls ?? 0), 0);
    const n429 = limited.reduce((a, r) => a + (r!.renderRateLimited ?? 0), 0);
    rows.push({ metric: '429s from Render (simulator at default limits)', value: `${n429} of ${fmt(calls, 0)} calls`, target: '0', verdict: verdict(n429 === 0) });
  }
  return rows;
}

export function printTable(rows: Row[]): void {
  const w0 = Math.max(6, ...rows.map((r) => r.metric.length));
  const w1 = Math.max(5, ...rows.map((r) => r.value.length));
  const w2 = Math.max(6, ...rows.map((r) => r.target.length));
  const line = (a: string, b: string, c: string, d: string) => `${a.padEnd(w0)} | ${b.padEnd(w1)} | ${c.padEnd(w2)} | ${d}`;
  process.stdout.write(`\n${line('metric', 'value', 'target', 'result')}\n${'-'.repeat(w0 + w1 + w2 + 16)}\n`);
  for (const r of rows) process.stdout.write(`${line(r.metric, r.value, r.target, r.verdict)}\n`);
  const missed = rows.filter((r) => r.verdict === 'MISS').length;
  process.stdout.write(`\n${rows.length - missed} PASS, ${missed} MISS\n\n`);
}
