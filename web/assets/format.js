/** Dates and small text helpers. */

const timeFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const clockFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });

export function formatTime(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : timeFmt.format(d);
}

/**
 * An RFC 3339 UTC timestamp as text that sorts in time order whatever its precision. Written by Go's
 * RFC3339Nano, a fraction loses its trailing zeros: ".17Z" is before ".170645Z", which plain text order
 * puts first (Z sorts after the digits), and a whole second (no fraction) after every line in it.
 */
export function timeSortKey(ts) {
  if (typeof ts !== 'string') return '';
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/i.exec(ts);
  return m ? `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}` : ts;
}

export function formatClock(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : clockFmt.format(d);
}

/** "3 min ago" style, falling back to the date for anything older than a week. */
export function relativeTime(iso, now = Date.now()) {
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return '';
  const s = Math.round((now - t) / 1000);
  if (s < 10) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  if (s < 7 * 86400) return `${Math.floor(s / 86400)} d ago`;
  return formatTime(iso);
}

/** A <time> element with the full date as its tooltip; relative ones are kept current by refreshRelativeTimes. */
export function timeEl(h, iso, relative = true) {
  return h('time', { datetime: iso, title: formatTime(iso), 'data-relative': relative ? '' : null }, relative ? relativeTime(iso) : formatTime(iso));
}

/** "just now" becomes "2 min ago" as time passes. */
export function refreshRelativeTimes(root) {
  for (const el of root.querySelectorAll('time[data-relative]')) el.textContent = relativeTime(el.dateTime);
}

/** Elapsed time between two instants, e.g. "1 min 12 s". */
export function duration(fromIso, toIso) {
  const ms = new Date(toIso).getTime() - new Date(fromIso).getTime();
  if (!Number.isFinite(ms) || ms < 0) return '';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** Render's deploy triggers (spec/render-openapi.json, docs/render-api.md §6.2) as its dashboard words them. */
const TRIGGERS = {
  api: 'API', blueprint_sync: 'Blueprint sync', deploy_hook: 'Deploy hook', deployed_by_render: 'Deployed by Render',
  manual: 'Manual', new_commit: 'New commit', other: 'Other', rollback: 'Rollback', service_resumed: 'Service resumed',
  service_updated: 'Service updated',
};

/** "API" for `api`; a trigger Render adds later reads as its words ("some_new_one" → "Some new one"). */
export function triggerLabel(trigger) {
  if (!trigger) return '';
  if (TRIGGERS[trigger]) return TRIGGERS[trigger];
  const words = String(trigger).replaceAll('_', ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** A Render service name from a repository name: lowercase DNS label, at most 63 characters. */
export function serviceNameFromRepo(repoName) {
  return String(repoName)
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/g, '') || 'my-service';
}
