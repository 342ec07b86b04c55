import type { Logger } from '../logger.js';
import { guardedPostJson, UnsafeUrlError, type PostResult, type UrlGuardOptions } from './urlGuard.js';

/** How an alert leaves the process: (url, JSON body) → HTTP status. The default is the SSRF-guarded POST. */
export type AlertPost = (url: string, body: string) => Promise<PostResult>;

export interface SlackAlerter {
  /**
   * Fire an alert; true when Slack accepted it. Never throws and never rejects: failures are logged
   * (without the URL, which is a secret).
   */
  send(text: string): Promise<boolean>;
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
 * Slack incoming-webhook alerts: `{"text": "..."}`. Callers pass short texts built from ids, logins
 * and event names only; the text is trimmed and anything credential-shaped is masked as a last guard.
 */
export function createSlackAlerter(opts: SlackAlerterOptions): SlackAlerter {
  const { webhookUrl, logger } = opts;
  const post: AlertPost = opts.post ?? ((url, body) => guardedPostJson(url, body, { ...opts.guard, timeoutMs: opts.timeoutMs ?? 5_000 }));
  return {
    enabled: Boolean(webhookUrl),
    async send(text) {
      if (!webhookUrl) return false;
      const safe = text.replace(/\b(rnd_|gh[pousr]_|github_pat_|xox[abprs]-)[A-Za-z0-9_-]*/gi, '$1…').slice(0, MAX_TEXT);
      try {
        const res = await post(webhookUrl, JSON.stringify({ text: safe }));
        if (res.status >= 200 && res.status < 300) return true;
        logger.warn({ status: res.status }, 'Slack alert not accepted');
      } catch (err) {
        logger.warn({ reason: err instanceof UnsafeUrlError ? err.message : (err as Error)?.message ?? 'unknown' }, 'Slack alert failed');
      }
      return false;
    },
  };
}
