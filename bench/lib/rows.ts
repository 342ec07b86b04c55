import type { LoadFigures } from './load.js';

/**
 * One line of the summary table. Every row has a target and a verdict: a figure without one is
 * folded into the value of the row it explains, and a baseline's row passes when it ran clean (its
 * figures are what other rows divide by).
 */
export interface Row {
  metric: string;
  value: string;
  target: string;
  verdict: 'PASS' | 'MISS';
}

export const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits }) : 'n/a');
export const verdict = (ok: boolean): Row['verdict'] => (ok ? 'PASS' : 'MISS');

const failures = (f: LoadFigures) => (f.non2xx || f.errors ? `; ${f.non2xx} non-2xx, ${f.errors} errors` : '');

/** req/s, latency, and the server's CPU per request, as one value. */
export const loadValue = (f: LoadFigures) => `${fmt(f.reqPerSec, 0)} req/s, p50 ${f.p50Ms} ms, p99 ${f.p99Ms} ms; server CPU ${f.serverCpuUs} µs/req${failures(f)}`;

/** A baseline measured in the same run: valid when every request answered 2xx. */
export function baselineRow(metric: string, f: LoadFigures): Row {
  return { metric, value: loadValue(f), target: 'baseline: all 2xx, 0 errors', verdict: verdict(f.non2xx === 0 && f.errors === 0 && f.reqPerSec > 0) };
}

/** A throughput ratio against a baseline of the same run (≥ `min`), all answers 2xx. */
export function ratioRow(metric: string, f: LoadFigures & { ratio: number }, baseline: string, min: number): Row {
  return {
    metric, value: `${fmt(f.reqPerSec, 0)} req/s = ${fmt(f.ratio, 2)}× ${baseline}; p50 ${f.p50Ms} ms, p99 ${f.p99Ms} ms${failures(f)}`,
    target: `≥ ${min}× ${baseline}`, verdict: verdict(f.ratio >= min && f.non2xx === 0 && f.errors === 0),
  };
}

/**
 * Server CPU per request against the baseline's: throughput ratio restated as cost (≥ 0.5× the
 * baseline's req/s needs ≤ 2× its CPU per request on a saturated machine). Steadier than req/s under
 * other load, because it counts what this process spent, not what it was given.
 */
export function cpuRow(metric: string, f: LoadFigures, baseline: LoadFigures, baselineName: string, maxTimes: number): Row {
  return {
    metric, value: `server ${f.serverCpuUs} µs vs ${baselineName} ${baseline.serverCpuUs} µs (${fmt(f.serverCpuUs / Math.max(1, baseline.serverCpuUs), 2)}×); Redis ${f.redisCpuUs} µs, autocannon ${f.loadGenCpuUs} µs`,
    target: `≤ ${maxTimes}× ${baselineName}`, verdict: verdict(f.serverCpuUs <= maxTimes * baseline.serverCpuUs),
  };
}
