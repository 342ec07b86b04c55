import type { Logger } from '../logger.js';
import { cutUnits } from '../text.js';
import { guardedPostJson, UnsafeUrlError, type PostResult, type UrlGuardOptions } from './urlGuard.js';

/** How an alert leaves the process: (url, JSON body) → HTTP status. The default is the SSRF-guarded POST. */
export type AlertPost = (url: string, body: string) => Promise<PostResult>;

/** How one delivery went: Slack took it, or why not (worded for the person who set the webhook; never the URL). */
export type DeliveryResult = { ok: true } | { ok: false; reason: string; retryAfterSec?: number };

/** Slack's incoming-webhook refusals (https://api.slack.com/messaging/webhooks#handling_errors) by status. */
const REFUSALS: Record<number, string> = {
  400: 'Slack refused the message (HTTP 400)',
  403: 'Slack refused the webhook (HTTP 403): its token is invalid or was revoked',
  404: 'Slack does not know this webhook (HTTP 404): it was deleted or is mistyped',
  410: 'Slack answered HTTP 410: the webhook\'s channel is archived or gone',
};

/** Why a POST did not reach Slack, from the error's code or the guard's reason only (messages may name the host's address). */
function failureReason(err: unknown, timeoutMs: number): string {
  if (err instanceof UnsafeUrlError) {
    return /does not resolve/.test(err.message)
      ? 'Slack could not be reached: hooks.slack.com does not resolve here (no internet access?)'
      : `the webhook URL was refused (${err.message.replace(/^refused webhook URL: /, '')})`;
  }
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && /^[A-Z_]{3,40}$/.test(code)) return `Slack could not be reached (${code})`;
  if ((err as Error)?.message === 'webhook timed out') return `Slack did not answer within ${Math.ceil(timeoutMs / 1000)} s`;
  return 'Slack could not be reached';
}

export interface SlackAlerter {
  /**
   * Fire an alert; true when Slack accepted it. Never throws and never rejects: failures are logged
   * (without the URL, which is a secret).
   */
  send(text: string): Promise<boolean>;
  /** The same, saying why when Slack did not accept it (the Sentinel test message shows it). */
  attempt(text: string): Promise<DeliveryResult>;
  readonly enabled: boolean;
}

interface SlackAlerterOptions {
  /** Incoming-webhook URL (SLACK_WEBHOOK_URL); null disables alerts. */
  webhookUrl: string | null;
  logger: Logger;
  /** Test seam: a different transport, or guard options (allowHosts for a local receiver). */
  post?: AlertPost;
  guard?: UrlGuardOptions;
  timeoutMs?: number;
}

const MAX_TEXT = 500;

/**
 * Slack incoming-webhook alerts: `{"text": "...", "mrkdwn": false}`. Callers pass short texts built from ids,
 * logins and event names only; the text is made one line and trimmed, anything credential-shaped is masked
 * as a last guard, and &, < and > are escaped as Slack asks (no markup: names show as typed).
 */
export function createSlackAlerter(opts: SlackAlerterOptions): SlackAlerter {
  const { webhookUrl, logger } = opts;
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const post: AlertPost = opts.post ?? ((url, body) => guardedPostJson(url, body, { ...opts.guard, timeoutMs }));
  async function attempt(text: string): Promise<DeliveryResult> {
    if (!webhookUrl) return { ok: false, reason: 'no Slack webhook is set' };
    // One line: a line break in a name from Render or GitHub put a line of its author's own into the
    // message ("Deploy succeeded", "All clear"); our texts are all one line.
    const oneLine = text.replace(/[\p{Cc}\u2028\u2029]+/gu, ' ');
    const masked = cutUnits(oneLine.replace(/\b(rnd_|gh[pousr]_|github_pat_|xox[abprs]-)[A-Za-z0-9_-]*/gi, '$1…'), MAX_TEXT);
    // Slack reads <…> as markup (a channel ping, a link under any label): names from Render or GitHub
    // (a service renamed by anyone in the workspace, a branch) show as typed. Slack's own escapes.
    const safe = masked.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    try {
      // mrkdwn off: * _ ~ ` have no escape in Slack's mrkdwn, so a name holding them struck, bolded or
      // turned into code the words of ours around it. Our texts use no formatting (a URL is still linked).
      const res = await post(webhookUrl, JSON.stringify({ text: safe, mrkdwn: false }));
      if (res.status >= 200 && res.status < 300) return { ok: true };
      logger.warn({ status: res.status }, 'Slack alert not accepted');
      return { ok: false, reason: REFUSALS[res.status] ?? `Slack answered HTTP ${res.status}`, ...(res.retryAfterSec === undefined ? {} : { retryAfterSec: res.retryAfterSec }) };
    } catch (err) {
      logger.warn({ reason: err instanceof UnsafeUrlError ? err.message : (err as Error)?.message ?? 'unknown' }, 'Slack alert failed');
      return { ok: false, reason: failureReason(err, timeoutMs) };
    }
  }
  return {
    enabled: Boolean(webhookUrl),
    attempt,
    async send(text) { return (await attempt(text)).ok; },
  };
}
