import type { Deploy } from '../render/types.js';

/**
 * Which of a service's log lines belong to one deploy, from Render's own deploy object
 * (docs/render-api.md, "Logs of one deploy"). Render's `GET /logs` filters by resource, time and
 * label, never by deploy, so a deploy's lines are:
 * - build: `type=build` lines from when the deploy started (startedAt; createdAt if Render left it
 *   unset once it is past `created`) to when it finished (finishedAt; now while it runs). A deploy
 *   queued behind another has no build lines until it starts, so the previous deploy's tail never
 *   shows up in it.
 * - runtime: the app's own lines (`type=app` and `type=request`) after the deploy went live, until a
 *   newer deploy replaced it (`deactivated`; its updatedAt) or now. Failed and canceled deploys
 *   never ran, so they have no runtime lines.
 */
export type LogPhase = 'build' | 'runtime';

export interface LogWindow {
  phase: LogPhase;
  types: string[];
  startTime: string;
  endTime: string;
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i;

/** An RFC 3339 date-time as epoch microseconds (Render writes microseconds), or null. */
export function timeUs(text: string): number | null {
  const m = RFC3339.exec(text);
  if (!m) return null;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return null;
  return ms * 1000 + Number((m[2] ?? '').padEnd(6, '0').slice(0, 6));
}

/** Epoch microseconds as RFC 3339 UTC with microseconds, the form Render writes. */
export function formatUs(us: number): string {
  const iso = new Date(Math.floor(us / 1000)).toISOString();
  return `${iso.slice(0, 23)}${String(us % 1000).padStart(3, '0')}Z`;
}

const later = (a: string, b: string) => ((timeUs(a) ?? 0) >= (timeUs(b) ?? 0) ? a : b);

/** The deploy's log windows in time order (build, then runtime when it went live). Empty before it starts. */
export function deployLogWindows(deploy: Deploy, now: string): LogWindow[] {
  // Not started yet: queued, or just out of the queue (`created`, no startedAt yet). Its createdAt is when it
  // was queued, and from then on the service's build lines were the deploy it waited behind (which a live
  // tail's first look streamed, and kept in the panel).
  if (deploy.status === 'queued' || (deploy.status === 'created' && !deploy.startedAt)) return [];
  // Canceled before it left the queue (never started): it built nothing, and from its createdAt to its end
  // the service's build lines are the deploy it waited behind.
  if (deploy.status === 'canceled' && !deploy.startedAt) return [];
  const start = deploy.startedAt ?? deploy.createdAt;
  if (!start) return [];
  const buildEnd = deploy.finishedAt ? later(deploy.finishedAt, start) : later(now, start);
  const windows: LogWindow[] = [{ phase: 'build', types: ['build'], startTime: start, endTime: buildEnd }];
  if ((deploy.status === 'live' || deploy.status === 'deactivated') && deploy.finishedAt) {
    const replacedAt = deploy.status === 'deactivated' ? later(deploy.updatedAt ?? deploy.finishedAt, deploy.finishedAt) : later(now, deploy.finishedAt);
    windows.push({ phase: 'runtime', types: ['app', 'request'], startTime: deploy.finishedAt, endTime: replacedAt });
  }
  return windows;
}

/** True when the deploy can still write build lines (its window's end is "now"). */
export function deployRunning(deploy: Deploy): boolean {
  return !deploy.finishedAt && deploy.status !== 'live' && deploy.status !== 'deactivated';
}

/** Clamp [start, end] into the window: a cursor can narrow a window, never widen it. Null when empty. */
export function clampToWindow(w: LogWindow, startTime: string, endTime: string): { startTime: string; endTime: string } | null {
  const ws = timeUs(w.startTime);
  const we = timeUs(w.endTime);
  const s = timeUs(startTime);
  const e = timeUs(endTime);
  if (ws === null || we === null || s === null || e === null) return null;
  const from = Math.max(ws, s);
  const to = Math.min(we, e);
  if (from > to) return null;
  return { startTime: formatUs(from), endTime: formatUs(to) };
}
