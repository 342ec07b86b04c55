import { z } from 'zod';
import type { RenderClient } from '../render/client.js';
import { isObject } from '../render/calls.js';
import { RenderApiError } from '../render/errors.js';
import { EnvGroupsTooMany } from '../render/resources/settings.js';
import type { Deploy, LogEntry } from '../render/types.js';
import { errors } from '../errors.js';
import { redactSecrets, stripControls } from './redact.js';
import type { DeploymentRecord } from './types.js';
import { clampToWindow, deployLogWindows, type LogPhase, type LogWindow } from './logWindows.js';
import { retiredSecrets, type RetiredSecretsDeps } from './retiredSecrets.js';
import { noteSeenSecrets, seenMac, type SeenItem } from './seenSecrets.js';
import type { Clock } from '../clock.js';
import { queryWholeNumber } from '../middleware/queryNumber.js';

/**
 * A deployment's logs as Render has them, bounded to that deploy (logWindows.ts), paged the way
 * Render pages `GET /logs` (hasMore, nextStartTime/nextEndTime; docs/render-api.md), with every
 * env var value and secret file of the service redacted (redact.ts).
 */

export interface LogLine {
  id: string;
  timestamp: string;
  message: string;
  phase: LogPhase;
  type: string | null;
  level: string | null;
}

export interface LogPage {
  /** Oldest first. */
  logs: LogLine[];
  /** Older lines exist: pass `nextCursor` back to read them ("load earlier"). */
  hasMore: boolean;
  nextCursor: string | null;
  /** The phases this deploy has, oldest first (runtime only once it went live). */
  phases: LogPhase[];
  /** Render's deploy status, so the panel can say whether more lines may come. */
  deployStatus: string | null;
}

const Cursor = z.object({
  p: z.enum(['build', 'runtime']),
  s: z.string().max(40),
  e: z.string().max(40),
}).strict();
type Cursor = z.infer<typeof Cursor>;

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

function parseCursor(text: string): Cursor | null {
  try {
    const parsed = Cursor.safeParse(JSON.parse(Buffer.from(text, 'base64url').toString('utf8')));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

function decodeCursor(text: string): Cursor {
  const cursor = parseCursor(text);
  if (!cursor) throw errors.validation('cursor: not a cursor from this API');
  return cursor;
}

/**
 * `?limit` (lines per Render request, Render's maximum by default) and `?cursor` from a previous page.
 * The cursor is decoded here, not only once the deploy's windows are read: for a deploy Render has not
 * started, any text answered an empty last page (200), as if the log had ended.
 */
export const LogPageQuery = z.object({
  limit: queryWholeNumber({ min: 1, max: 100, default: 100 }),
  cursor: z.string().max(400, { abort: true }).regex(/^[A-Za-z0-9_-]+$/, { message: 'not a cursor from this API', abort: true })
    .refine((v) => parseCursor(v) !== null, 'not a cursor from this API').optional(),
}).strict();

/** What a deployment needs from Render to read its logs; null when Render has no deploy for it yet. */
interface LogSource {
  client: RenderClient;
  ownerId: string;
  serviceId: string;
  deploy: Deploy;
  secrets: string[];
}

/**
 * Every value to redact from a service's lines: its env var values and its secret files' contents,
 * those of the env groups linked to it, and those replaced or removed through the settings or since an
 * earlier read (seenSecrets.ts; a deploy made before still runs with them). `calls`: the Render calls it
 * took (3, one per linked group, and the running deploys' read when the retired list is past its cap;
 * a list of more than one page counts as one).
 */
export async function serviceSecrets(client: RenderClient, service: { ownerId: string; serviceId: string }, retired: RetiredSecretsDeps, clock: Clock): Promise<{ values: string[]; calls: number }> {
  const { ownerId, serviceId } = service;
  const [vars, files, { groups, reads }, storedMac] = await Promise.all([
    client.listEnvVars(serviceId), client.listSecretFiles(serviceId), linkedEnvGroups(client, ownerId, serviceId), seenMac(retired, serviceId),
  ]);
  const items: SeenItem[] = [
    ...vars.map((v) => ({ name: `env-vars/${v.key}`, value: v.value })),
    ...files.map((f) => ({ name: `secret-files/${f.name}`, value: f.content })),
    ...groups.flatMap((g) => [
      ...g.envVars.map((v) => ({ name: `env-groups/${g.id}/env-vars/${String(v.key)}`, value: v.value })),
      ...g.secretFiles.map((f) => ({ name: `env-groups/${g.id}/secret-files/${String(f.name)}`, value: f.content })),
    ]),
  ].filter((i): i is SeenItem => typeof i.value === 'string');
  // Values gone since the last read (changed outside this app) are retired before the retired list is read.
  const retiring = await noteSeenSecrets(retired, clock, client, serviceId, items, storedMac);
  // Read after Render's: a settings change keeps the value it replaces before asking Render, so a read of
  // Render that no longer finds the old value is followed by one of ours that does (read alongside, the
  // two could fall on either side of the change, and the value the running deploy prints be in neither).
  const old = await retiredSecrets(retired, serviceId);
  return { values: [...items.map((i) => i.value), ...old], calls: 3 + reads + retiring };
}

/**
 * The env groups linked to a service, with their values: a service's own env vars and secret files are
 * listed apart from its groups' (docs/render-api.md §7), and an app prints either alike. The workspace's
 * list names each group's services; only the linked ones are read (each read is audited, as a service's
 * env vars are: the client notes it for the watch, server/sentinel/store.ts).
 */
async function linkedEnvGroups(client: RenderClient, ownerId: string, serviceId: string) {
  let listed;
  try {
    listed = await client.listEnvGroups(ownerId);
  } catch (err) {
    // Groups past the most this app reads: some values could not be known, so no line is shown unredacted.
    if (err instanceof EnvGroupsTooMany) throw errors.logRedactionIncomplete();
    throw err;
  }
  const linked = listed.filter((g) => g.serviceLinks.some((l) => l.id === serviceId));
  const read = await Promise.all(linked.map((g) => client.getEnvGroup(g.id).catch((err: unknown) => {
    // Deleted since the list: its values are no longer the service's. Not the service's 404 (gone for good).
    if (err instanceof RenderApiError && err.kind === 'not_found') return null;
    throw err;
  })));
  // `reads`: every group asked for, those gone since the list included (each was a call).
  const groups = read.filter((g) => g !== null).map((g) => ({
    id: g.id,
    envVars: Array.isArray(g.envVars) ? g.envVars.filter((v) => isObject(v)) : [],
    secretFiles: Array.isArray(g.secretFiles) ? g.secretFiles.filter((f) => isObject(f)) : [],
  }));
  return { groups, reads: linked.length };
}

/** The values a log read redacts with: serviceSecrets, or values kept from one (server/deployments/pageSecrets.ts). */
export type SecretsSource = (client: RenderClient, service: { ownerId: string; serviceId: string }) => Promise<string[]>;

/**
 * The Render deploy (one read call) and the values to redact (`secretsOf`: serviceSecrets' calls, or none
 * when kept values serve). Null before the deploy exists at Render. A failed read of the values fails the
 * whole read: without them, the lines cannot be redacted.
 */
export async function loadLogSource(client: RenderClient, rec: DeploymentRecord, secretsOf: SecretsSource): Promise<LogSource | null> {
  if (!rec.serviceId || !rec.deployId) return null;
  const [deploy, secrets] = await Promise.all([client.getDeploy(rec.serviceId, rec.deployId), secretsOf(client, { ownerId: rec.request.ownerId, serviceId: rec.serviceId })]);
  return { client, ownerId: rec.request.ownerId, serviceId: rec.serviceId, deploy, secrets };
}

const label = (l: LogEntry, name: string) => l.labels.find((x) => x.name === name)?.value ?? null;

/** A line longer than this is cut (after redaction, so no secret is cut in two): a page of 100 stays a few MB for the panel and the tail's channel. */
export const MAX_LINE_CHARS = 16_384;

function cut(message: string): string {
  return message.length <= MAX_LINE_CHARS ? message : `${message.slice(0, MAX_LINE_CHARS)}… [${message.length - MAX_LINE_CHARS} characters cut]`;
}

/**
 * A label's value as served (`type`: app, request, build; `level`: info, warning, error…): one word of up to
 * 16 letters that is none of the secrets, else none. Copied as Render gave them, a label carried what an app
 * put there past redaction and control stripping (the message's alone had them): a secret in the JSON page,
 * the live tail and the download, and terminal escapes into logs.txt.
 */
function labelWord(l: LogEntry, name: string, secrets: string[]): string | null {
  const value = label(l, name);
  return value !== null && /^[A-Za-z]{1,16}$/.test(value) && redactSecrets(value, secrets) === value ? value : null;
}

export function presentLine(l: LogEntry, phase: LogPhase, secrets: string[]): LogLine {
  return { id: l.id, timestamp: l.timestamp, message: cut(redactSecrets(stripControls(l.message), secrets)), phase, type: labelWord(l, 'type', secrets), level: labelWord(l, 'level', secrets) };
}

/**
 * One page, newest lines first in Render's terms (direction=backward), returned oldest first. Without
 * a cursor it ends at the newest line of the latest phase; a page that exhausts a phase continues
 * into the earlier one in the same request, so at most one Render log call per phase.
 */
export async function readLogPage(src: LogSource, q: { limit: number; cursor?: string }, now: string): Promise<LogPage> {
  const windows = deployLogWindows(src.deploy, now);
  const phases = windows.map((w) => w.phase);
  const empty: LogPage = { logs: [], hasMore: false, nextCursor: null, phases, deployStatus: src.deploy.status ?? null };
  if (windows.length === 0) return empty;
  let index = windows.length - 1;
  let range: { startTime: string; endTime: string } | null = { startTime: windows[index]!.startTime, endTime: windows[index]!.endTime };
  if (q.cursor) {
    const c = decodeCursor(q.cursor);
    index = windows.findIndex((w) => w.phase === c.p);
    if (index < 0) throw errors.validation('cursor: this deploy has no such phase');
    range = clampToWindow(windows[index]!, c.s, c.e);
  }
  let out: LogLine[] = [];
  for (;;) {
    const w = windows[index]!;
    if (range) {
      const page = await src.client.listLogs({
        ownerId: src.ownerId, resource: [src.serviceId], type: w.types, startTime: range.startTime, endTime: range.endTime,
        direction: 'backward', limit: q.limit - out.length,
      });
      out = [...page.logs.map((l) => presentLine(l, w.phase, src.secrets)).reverse(), ...out];
      if (page.hasMore && page.nextStartTime && page.nextEndTime) {
        return { ...empty, logs: out, hasMore: true, nextCursor: encodeCursor({ p: w.phase, s: page.nextStartTime, e: page.nextEndTime }) };
      }
    }
    if (index === 0) return { ...empty, logs: out };
    index -= 1;
    const earlier: LogWindow = windows[index]!;
    range = { startTime: earlier.startTime, endTime: earlier.endTime };
    if (out.length >= q.limit) {
      return { ...empty, logs: out, hasMore: true, nextCursor: encodeCursor({ p: earlier.phase, s: earlier.startTime, e: earlier.endTime }) };
    }
  }
}

/** Upper bound of a download (pages of 100 lines): a runaway runtime log cannot hold a request forever. */
const MAX_DOWNLOAD_PAGES = 500;
/** And of its size (it is built in the web process's memory): 500 pages of 16 Ki-character lines would be 800 Mi. */
export const MAX_DOWNLOAD_CHARS = 16 * 1024 * 1024;

/**
 * The whole log as text, oldest first, every page of every phase (forward, 100 lines per request).
 * Each phase starts with a heading line; a download cut by MAX_DOWNLOAD_PAGES or MAX_DOWNLOAD_CHARS says so at the end.
 */
export async function* logText(src: LogSource, now: string): AsyncGenerator<string, void, undefined> {
  const windows = deployLogWindows(src.deploy, now);
  let pages = 0;
  let lines = 0;
  let chars = 0;
  for (const [i, w] of windows.entries()) {
    yield `=== ${w.phase === 'build' ? 'Build and deploy' : 'Runtime (after the deploy went live)'} · ${w.startTime} – ${w.endTime} ===\n`;
    const params = { ownerId: src.ownerId, resource: [src.serviceId], type: w.types, startTime: w.startTime, endTime: w.endTime, direction: 'forward' as const, limit: 100 };
    for await (const page of src.client.logPages(params, { maxPages: MAX_DOWNLOAD_PAGES - pages })) {
      pages += 1;
      lines += page.logs.length;
      let chunk = '';
      for (const l of page.logs) {
        const line = presentLine(l, w.phase, src.secrets);
        const level = line.level && line.level !== 'info' ? ` ${line.level.toUpperCase()}` : '';
        chunk += `${line.timestamp}${level} ${line.message.replace(/\r?\n/g, '\n    ')}\n`;
      }
      chars += chunk.length;
      if (chunk) yield chunk;
      const more = page.hasMore || i < windows.length - 1;
      if (more && (pages >= MAX_DOWNLOAD_PAGES || chars >= MAX_DOWNLOAD_CHARS)) { yield `[truncated after ${lines} lines: read the rest on Render]\n`; return; }
    }
  }
  if (windows.length === 0) yield 'Render has not started this deploy yet.\n';
}
