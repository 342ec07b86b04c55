/**
 * Telemetry and anomaly detection settings. The operator-facing ones come from the environment
 * (server/config/env.ts → AppConfig.telemetry); the detector's statistics have code defaults here,
 * with the reasons, and tests shrink them.
 */

/** The per-minute signals the detector judges (see detector.ts). */
export const SIGNALS = ['requests', 'probes', 'deploys', 'targets'] as const;
export type Signal = (typeof SIGNALS)[number];

export interface TelemetrySettings {
  enabled: boolean;
  /** Run the anomaly detector job in worker processes (telemetry is still recorded without it). */
  detection: boolean;
  /** Per-minute buckets are kept this long (hours). */
  minuteRetentionHours: number;
  /** Per-hour, per-route buckets are kept this long (days). */
  hourRetentionDays: number;
  /** A first anomaly throttles the user for this long. */
  throttleMinutes: number;
  /** Requests a throttled user may make per minute (all /api routes together). */
  throttlePerMinute: number;
  /** Anomalous minutes in a row (the first one throttles) before the user is blocked. */
  blockAfter: number;
  /** How long a block lasts. */
  blockMinutes: number;
  /** After an operator's unblock, the detector only learns (never acts) for this long. */
  graceMinutes: number;
}

export const DEFAULT_TELEMETRY: TelemetrySettings = {
  enabled: true, detection: true, minuteRetentionHours: 24, hourRetentionDays: 14, throttleMinutes: 15, throttlePerMinute: 60,
  blockAfter: 3, blockMinutes: 60, graceMinutes: 60,
};

export interface DetectorStats {
  /**
   * Nothing below these is ever anomalous, and a user without an established baseline is judged
   * against them alone ("sane defaults" for a new user's first burst). Per minute; targets are
   * distinct repositories and services over targetWindowMinutes.
   * - requests 300/min: 5 a second for a whole minute. The UI makes a few a minute (live updates
   *   come over one SSE stream); a script polling every second stays well under.
   * - probes (401/403/404) 30/min: a person mistypes a few ids; a scanner makes hundreds.
   * - deploys 10/min: Render itself takes 20 new services an hour per key.
   * - targets 25 distinct repositories or services in 10 minutes.
   */
  floors: Record<Signal, number>;
  /** The smallest standard deviation assumed (a very regular user still gets some room). */
  minSd: Record<Signal, number>;
  /** Anomalous when above mean + k × sd (sd at least relSd × mean). */
  k: number;
  relSd: number;
  /** Samples before a baseline (per hour of day, else the user's overall one) is trusted over the floors. */
  minSamples: number;
  /** EWMA weights: per hour-of-day slot, and overall. */
  alphaHour: number;
  alphaAll: number;
  targetWindowMinutes: number;
  /** A minute is judged this long after it ended, so every web process has flushed it. */
  settleMs: number;
  /**
   * After an operator's grace (an unblock), each hour is judged against at least the overall baseline,
   * which learned the accepted level, for this many days (baseline.ts threshold()). 7: every hour of
   * the day and every weekday comes round at least once, so each hour slot the user is active in learns
   * the new level from its own traffic meanwhile; within the baseline's retention (14 days by default).
   */
  acceptedLevelDays: number;
}

export const DEFAULT_DETECTOR: DetectorStats = {
  floors: { requests: 300, probes: 30, deploys: 10, targets: 25 },
  minSd: { requests: 5, probes: 2, deploys: 1, targets: 2 },
  k: 4, relSd: 0.25, minSamples: 30, alphaHour: 0.1, alphaAll: 0.05, targetWindowMinutes: 10, settleMs: 10_000, acceptedLevelDays: 7,
};

export interface DetectorOptions extends Partial<Omit<DetectorStats, 'floors' | 'minSd'>> {
  floors?: Partial<Record<Signal, number>>;
  minSd?: Partial<Record<Signal, number>>;
}

export function resolveDetector(o: DetectorOptions = {}): DetectorStats {
  return { ...DEFAULT_DETECTOR, ...o, floors: { ...DEFAULT_DETECTOR.floors, ...o.floors }, minSd: { ...DEFAULT_DETECTOR.minSd, ...o.minSd } };
}
