import { z } from 'zod';
import type { Finding, SentinelSettings, SentinelStatus, SkippedStretch } from './types.js';
import { view } from '../openapi/describe.js';
import { cutUnits } from '../text.js';

export const FindingView = view('SentinelFinding', z.object({
  id: z.string(), kind: z.enum(['audit', 'app_log', 'service_event']), rule: z.string(), severity: z.enum(['high', 'medium', 'low']), title: z.string(),
  ownerId: z.string().nullable(), serviceId: z.string().nullable(), serviceName: z.string().nullable(),
  count: z.number().int(), firstAt: z.string(), lastAt: z.string(),
  firstLine: z.string().nullable(), lastLine: z.string().nullable(),
  actor: z.object({ type: z.string(), email: z.string().nullable() }).nullable(),
  renderEvent: z.string().nullable(),
  envVarKey: z.string().nullable(),
}), 'Something Sentinel noticed in the caller\'s Render workspace (names and ids only, never values).');
export type FindingView = z.infer<typeof FindingView>;

export const SentinelSettingsView = z.object({
  enabled: z.boolean(),
  watchingThisSession: z.boolean(),
  intervalSeconds: z.number().int(),
  slack: z.object({ configured: z.boolean(), hint: z.string().nullable(), deployResults: z.boolean() }),
  lastRunAt: z.string().nullable(),
  auditLogUnavailable: z.array(z.object({ ownerId: z.string(), name: z.string() })),
  notices: z.array(z.string()),
});
export type SentinelSettingsView = z.infer<typeof SentinelSettingsView>;

/**
 * A name from Render (a workspace's or a service's: anyone in the workspace may rename a service) inside a
 * sentence of ours, isolated (FSI … PDI) as the page puts a name in a <bdi>. A right-to-left override in it
 * (U+202E) otherwise ran on past the name and the rest of the sentence was drawn reversed (a notice on the
 * page, an alert in Slack). Isolate controls of its own are left out: a PDI in the name closed the isolate
 * early and let an override after it out again.
 */
export const isolated = (name: string) => `\u2068${name.replace(/[\u2066-\u2069]/g, '')}\u2069`;

/**
 * A name from Render or GitHub cut to `max` UTF-16 units (…), never between the halves of a surrogate pair,
 * for a Slack message: the message is cut at 500 units (server/alerts/slack.ts) and names come first, so a
 * long one cut off what follows it (a deploy's outcome and link, an alert's service id and time, the
 * isolate's end). Units, not code points: three names of emoji at 100 code points each were 600 units.
 */
export function clipped(name: string, max = 100): string {
  if (name.length <= max) return name;
  return `${cutUnits(name, max - 1)}…`;
}

/** What leaves the server about a finding: a whitelist. */
export function presentFinding(f: Finding): FindingView {
  return {
    id: f.id, kind: f.kind, rule: f.rule, severity: f.severity, title: f.title,
    ownerId: f.ownerId, serviceId: f.serviceId, serviceName: f.context?.serviceName ?? null,
    count: f.count, firstAt: f.firstAt, lastAt: f.lastAt,
    firstLine: f.firstLine ?? null, lastLine: f.lastLine ?? null,
    actor: f.actor ? { type: f.actor.type, email: f.actor.email ?? null } : null,
    renderEvent: f.context?.renderEvent ?? null,
    envVarKey: f.context?.key ?? null,
  };
}

/**
 * Whether the rounds of the watch `s` wrote the status: the status outlives a watch turned off, and after
 * Sentinel was turned on again the last round of the watch before ("Render did not answer during the last
 * round", stretches skipped) was shown as this one's until its first round ended. By the watch's
 * `enabledAt` the rounds write with it; a status written before they did (no `watchEnabledAt`) by the time
 * of its last round (none yet: a first round's own writes).
 */
export function ofWatch(s: SentinelSettings, status: SentinelStatus): boolean {
  if (status.watchEnabledAt !== undefined) return status.watchEnabledAt === s.enabledAt;
  const last = status.lastRunAt === null ? Number.NaN : Date.parse(status.lastRunAt);
  return !Number.isFinite(last) || last >= s.enabledAt;
}

export function presentSettings(s: SentinelSettings | null, status: SentinelStatus, ctx: { currentRef: string; defaultIntervalMs: number; ownerNames: Map<string, string> }): SentinelSettingsView {
  // On, with a status of an earlier watch: nothing of it is this watch's (no round of it has ended yet).
  const earlier = Boolean(s?.enabled) && !ofWatch(s!, status);
  const unavailable = earlier ? [] : status.auditUnavailable.map((id) => ({ ownerId: id, name: ctx.ownerNames.get(id) ?? id }));
  return {
    enabled: Boolean(s?.enabled),
    /** Watching with another session's consent (another browser): that session's end stops it. */
    watchingThisSession: Boolean(s?.enabled && s.sessionRef === ctx.currentRef),
    intervalSeconds: Math.round((s?.intervalMs ?? ctx.defaultIntervalMs) / 1000),
    slack: { configured: Boolean(s?.slackSealed), hint: s?.slackHint ?? null, deployResults: Boolean(s?.slackDeployResults) },
    lastRunAt: earlier ? null : status.lastRunAt,
    auditLogUnavailable: unavailable,
    // What the last round found, said only while the watch is on: the status outlives it (kept for the
    // findings' time), so after Sentinel was turned off the page said "The last round paused…" above
    // "Sentinel is off", even after signing in again.
    notices: !s?.enabled || earlier ? [] : [
      ...unavailable.map((u) => `Your Render plan has no audit log API for ${isolated(u.name)}; app-log watch continues.`),
      ...(status.lastProblem === 'budget' ? ['The last round paused to leave Render API capacity for deploys; it continues next round.'] : []),
      ...(status.lastProblem === 'render_key_rejected' ? ['Render rejected your API key during the last round.'] : []),
      ...(status.lastProblem === 'render_unavailable' ? ['Render did not answer during the last round; it is retried next round.'] : []),
      // Partial coverage the watch gave up on (watcher.ts): said, so a quiet page is not taken for a quiet workspace.
      ...[...(status.skipped ?? [])].reverse().map(skippedNotice),
    ],
  };
}

/** A UTC minute, as the page shows it: `2025-01-31 14:05 UTC`. */
const minuteOf = (ts: string) => { const ms = Date.parse(ts); return Number.isFinite(ms) ? `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC` : ts; };

function skippedNotice(s: SkippedStretch): string {
  const shown = s.services.map(isolated);
  const names = shown.length <= 3 ? shown.join(', ') : `${shown.slice(0, 3).join(', ')} and ${shown.length - 3} more`;
  const span = `from ${minuteOf(s.from)} to ${minuteOf(s.to)}`;
  return s.what === 'app_logs'
    ? `App logs of ${names} ${span} were not read: more came than a round reads, or rounds were further apart than the interval.`
    : `Service events of ${names} ${span} were not read: older than a day when their turn came.`;
}

/** The SSE payload for a finding (published on the user's channel, re-serialised by the stream). */
export function sentinelMessage(f: Finding, isNew: boolean): string {
  return JSON.stringify({ sentinel: { id: f.id, severity: f.severity, title: f.title, count: f.count, lastAt: f.lastAt, isNew } });
}

/** Published when the user's Sentinel settings change, for their other tabs to read them again (nothing of the settings). */
export function sentinelSettingsMessage(): string {
  return JSON.stringify({ sentinelSettings: true });
}

/** For the SSE route: the whitelisted event data, or null when the message is not a Sentinel one. */
export function sentinelEventData(message: string): string | null {
  try {
    const m = JSON.parse(message) as { sentinel?: Record<string, unknown>; sentinelSettings?: unknown };
    if (m?.sentinelSettings === true) return JSON.stringify({ type: 'sentinel_settings' });
    const s = m?.sentinel;
    if (!s || typeof s !== 'object' || typeof s.id !== 'string') return null;
    return JSON.stringify({ type: 'sentinel', id: s.id, severity: s.severity ?? null, title: s.title ?? null, count: s.count ?? null, lastAt: s.lastAt ?? null, isNew: s.isNew === true });
  } catch {
    return null;
  }
}
