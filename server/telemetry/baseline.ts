import { SIGNALS, type DetectorStats, type Signal } from './options.js';
import { isObject } from '../render/calls.js';

/** EWMA state of one signal: mean, variance, samples seen. */
type Ewma = [mean: number, variance: number, samples: number];

/** A user's baseline: overall, and per UTC hour of day (traffic at 09:00 is judged against 09:00s). */
interface Baseline {
  v: 1;
  all: Partial<Record<Signal, Ewma>>;
  hours: Record<string, Partial<Record<Signal, Ewma>>>;
  /**
   * Until when (epoch ms) an hour is judged against the higher of its own threshold and the overall one:
   * set while the detector learns through an operator's grace (detector.ts), see threshold().
   */
  acceptedUntil?: number;
}

export type Sample = Record<Signal, number>;

export const emptyBaseline = (): Baseline => ({ v: 1, all: {}, hours: {} });

const isEwma = (e: unknown): e is Ewma => Array.isArray(e) && e.length === 3 && e.every((n) => typeof n === 'number' && Number.isFinite(n));
/** The signals of a stored slot that are EWMA states; anything else (a damaged or hand-edited value) is left out. */
function signalsOf(o: unknown): Partial<Record<Signal, Ewma>> {
  const out: Partial<Record<Signal, Ewma>> = {};
  if (isObject(o)) for (const s of SIGNALS) if (isEwma(o[s])) out[s] = o[s];
  return out;
}

/**
 * A stored baseline, read field by field: `all: null` or a string where a state belongs (a hand edit, a damaged
 * write) passed the shape check and threw in judge(), and the detector's whole run with it, every minute, for
 * every user; `npm run admin telemetry` failed on it too. What is not a state is left out (learnt again).
 */
export function parseBaseline(raw: string | null): Baseline {
  if (!raw) return emptyBaseline();
  let b: unknown;
  try { b = JSON.parse(raw); } catch { return emptyBaseline(); }
  if (!isObject(b) || b.v !== 1) return emptyBaseline();
  const hours: Baseline['hours'] = {};
  if (isObject(b.hours)) for (let h = 0; h < 24; h++) if (Object.hasOwn(b.hours, String(h))) hours[String(h)] = signalsOf(b.hours[String(h)]);
  const accepted = typeof b.acceptedUntil === 'number' && Number.isFinite(b.acceptedUntil) ? { acceptedUntil: b.acceptedUntil } : {};
  return { v: 1, all: signalsOf(b.all), hours, ...accepted };
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
  return { ...b, v: 1, all, hours: { ...b.hours, [hour]: slot } };
}

/** The same baseline, its hours judged at least at the overall level until `until` (epoch ms). */
export const acceptLevel = (b: Baseline, until: number): Baseline => ({ ...b, acceptedUntil: Math.max(until, acceptedUntil(b)) });

const acceptedUntil = (b: Baseline) => (typeof b.acceptedUntil === 'number' && Number.isFinite(b.acceptedUntil) ? b.acceptedUntil : 0);

/**
 * The most a signal may reach this hour before it is anomalous: the hour's own baseline once trusted, else
 * the overall one, else the floor. Until `acceptedUntil`, the higher of the hour's and the overall one: an
 * operator's grace teaches the overall baseline the accepted level but only the hour slots it spans, and an
 * older hour slot brought the lifted block back at its hour. Not by raising the hour slots to the overall
 * level: a slot learns only from minutes with traffic, so a quiet hour would stay blunted for good; this way
 * each hour the user is active in learns the new level from its own traffic, then is judged alone again.
 */
export function threshold(b: Baseline, hour: number, signal: Signal, stats: DetectorStats, now = 0): number {
  const slot = b.hours[hour]?.[signal];
  const all = b.all[signal];
  const trustedAll = all && all[2] >= stats.minSamples ? all : null;
  const own = level(slot && slot[2] >= stats.minSamples ? slot : trustedAll, signal, stats);
  return now < acceptedUntil(b) ? Math.max(own, level(trustedAll, signal, stats)) : own;
}

function level(ref: Ewma | null, signal: Signal, stats: DetectorStats): number {
  const floor = stats.floors[signal];
  if (!ref) return floor;
  const [mean, variance] = ref;
  const sd = Math.max(Math.sqrt(Math.max(0, variance)), stats.relSd * mean, stats.minSd[signal]);
  return Math.max(floor, mean + stats.k * sd);
}

interface Judgement { anomalous: boolean; signal: Signal; observed: number; threshold: number }

/** The signal furthest above its threshold (relative), or the closest one when none is above. */
export function judge(b: Baseline, hour: number, x: Sample, stats: DetectorStats, now = 0): Judgement {
  let worst: Judgement | null = null;
  let worstRatio = -Infinity;
  for (const s of SIGNALS) {
    const t = threshold(b, hour, s, stats, now);
    const ratio = x[s] / t;
    if (ratio > worstRatio) { worstRatio = ratio; worst = { anomalous: x[s] > t, signal: s, observed: x[s], threshold: Math.round(t * 10) / 10 }; }
  }
  return worst!;
}
