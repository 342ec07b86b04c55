import { SIGNALS, type DetectorStats, type Signal } from './options.js';

/** EWMA state of one signal: mean, variance, samples seen. */
type Ewma = [mean: number, variance: number, samples: number];

/** A user's baseline: overall, and per UTC hour of day (traffic at 09:00 is judged against 09:00s). */
interface Baseline {
  v: 1;
  all: Partial<Record<Signal, Ewma>>;
  hours: Record<string, Partial<Record<Signal, Ewma>>>;
}

export type Sample = Record<Signal, number>;

export const emptyBaseline = (): Baseline => ({ v: 1, all: {}, hours: {} });

export function parseBaseline(raw: string | null): Baseline {
  if (!raw) return emptyBaseline();
  try {
    const b = JSON.parse(raw) as Baseline;
    return b && b.v === 1 && typeof b.all === 'object' && typeof b.hours === 'object' ? b : emptyBaseline();
  } catch { return emptyBaseline(); }
}

const round = (n: number) => Math.round(n * 1000) / 1000;

/** Exponentially weighted mean and variance; the first samples weigh 1/n so a young baseline is a plain average. */
function step(prev: Ewma | undefined, x: number, alpha: number): Ewma {
  if (!prev) return [x, 0, 1];
  const [mean, variance, n] = prev;
  const a = Math.max(alpha, 1 / (n + 1));
  const diff = x - mean;
  const incr = a * diff;
  return [round(mean + incr), round((1 - a) * (variance + diff * incr)), Math.min(n + 1, 1_000_000)];
}

export function learn(b: Baseline, hour: number, x: Sample, stats: DetectorStats): Baseline {
  const slot = { ...(b.hours[hour] ?? {}) };
  const all = { ...b.all };
  for (const s of SIGNALS) {
    slot[s] = step(slot[s], x[s], stats.alphaHour);
    all[s] = step(all[s], x[s], stats.alphaAll);
  }
  return { v: 1, all, hours: { ...b.hours, [hour]: slot } };
}

/** The most a signal may reach this hour before it is anomalous. */
export function threshold(b: Baseline, hour: number, signal: Signal, stats: DetectorStats): number {
  const slot = b.hours[hour]?.[signal];
  const all = b.all[signal];
  const ref = slot && slot[2] >= stats.minSamples ? slot : all && all[2] >= stats.minSamples ? all : null;
  const floor = stats.floors[signal];
  if (!ref) return floor;
  const [mean, variance] = ref;
  const sd = Math.max(Math.sqrt(Math.max(0, variance)), stats.relSd * mean, stats.minSd[signal]);
  return Math.max(floor, mean + stats.k * sd);
}

interface Judgement { anomalous: boolean; signal: Signal; observed: number; threshold: number }

/** The signal furthest above its threshold (relative), or the closest one when none is above. */
export function judge(b: Baseline, hour: number, x: Sample, stats: DetectorStats): Judgement {
  let worst: Judgement | null = null;
  let worstRatio = -Infinity;
  for (const s of SIGNALS) {
    const t = threshold(b, hour, s, stats);
    const ratio = x[s] / t;
    if (ratio > worstRatio) { worstRatio = ratio; worst = { anomalous: x[s] > t, signal: s, observed: x[s], threshold: Math.round(t * 10) / 10 }; }
  }
  return worst!;
}
