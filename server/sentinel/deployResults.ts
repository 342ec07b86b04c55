import type { Redis } from 'ioredis';
import type { Keyring } from '../crypto/keyring.js';
import type { Logger } from '../logger.js';
import { isTerminal, type DeploymentRecord } from '../deployments/types.js';
import { createSentinelAlerts, type SentinelAlertOptions } from './alerts.js';
import { createSentinelStore } from './store.js';
import { watchConsentHolds } from './consent.js';
import { clipped, isolated } from './present.js';
import { withoutUserInfo } from '../render/serviceNames.js';
import type { SessionStore } from '../sessions/store.js';

export type DeploySlack = (rec: DeploymentRecord) => Promise<void>;

/**
 * Deploy results to the user's own Slack webhook (issue 15): the webhook and SSRF guard of Sentinel's
 * alerts (server/sentinel/alerts.ts), only when the user turned "deploy results" on for it, and only while
 * the session that did so lives and holds a key: the setting is that session's consent, as the watch is
 * (a round stops the watch once that session ended or its key was cleared, but the next round may be an
 * hour away). One message per
 * deployment (live, or failed with its code), ids and names only; never throws. Sent by whichever process ends
 * the deployment: the worker's run, or the web when it ends one itself (a delete through the app, serviceDeleted.ts).
 */
export function createDeploySlack(opts: { redis: Redis; prefix: string; keyring: Keyring; absoluteMs: number; baseUrl: string; logger: Logger; sessions: Pick<SessionStore, 'loadByRef'>; alerts?: SentinelAlertOptions }): DeploySlack {
  const store = createSentinelStore({ redis: opts.redis, prefix: opts.prefix, keyring: opts.keyring, absoluteMs: opts.absoluteMs });
  const alerts = createSentinelAlerts({ ...opts.alerts, redis: opts.redis, prefix: opts.prefix, logger: opts.logger });
  return async (rec) => {
    if (!isTerminal(rec.status) || rec.status === 'canceled') return;
    try {
      const settings = await store.getSettings(rec.userId);
      if (!settings?.slackDeployResults) return;
      // That session ended, or its key was cleared: the watch is over (sentinelTask.ts stops it at its next round).
      if (!watchConsentHolds(await opts.sessions.loadByRef(settings.sessionRef), rec.userId)) return;
      const url = store.openSlackUrl(rec.userId, settings.slackSealed);
      if (!url) return;
      const once = await opts.redis.set(`${opts.prefix}:deployment:${rec.id}:slack`, '1', 'EX', 7 * 24 * 3600, 'NX');
      if (once !== 'OK') return;
      // Asked again before a retry after Slack's 429 (alerts.ts): the same setting, webhook and consent.
      const stillWanted = async () => {
        const now = await store.getSettings(rec.userId);
        return Boolean(now?.slackDeployResults) && now!.slackSealed === settings.slackSealed
          && watchConsentHolds(await opts.sessions.loadByRef(now!.sessionRef), rec.userId);
      };
      await alerts.notifyDeploy(rec.userId, url, deployText(rec, opts.baseUrl), stillWanted);
    } catch (err) {
      opts.logger.warn({ deploymentId: rec.id, err: { message: (err as Error)?.message ?? 'unknown' } }, 'deploy result not sent to Slack');
    }
  };
}

/**
 * A redeploy's service name, branch and repository are Render's, which anyone in the workspace may change:
 * each is clipped (the outcome and link after it are never cut off) and, when it holds a directional
 * control, isolated (a right-to-left override in it turned our words after it around), as Sentinel's
 * alerts do (alerts.ts alertText). A name without one is left bare: "shop is live" stays searchable in Slack.
 */
const shown = (name: string) => {
  const short = clipped(name);
  return /[\u202a-\u202e\u2066-\u2069]/.test(short) ? isolated(short) : short;
};

function deployText(rec: DeploymentRecord, baseUrl: string): string {
  const live = rec.status === 'live' || rec.status === 'deactivated';
  const commit = rec.renderCommitId ?? rec.commitSha;
  const what = `${shown(withoutUserInfo(rec.request.githubRepo))}${rec.request.branch ? `@${shown(rec.request.branch)}` : ''}${commit ? ` (${commit.slice(0, 7)})` : ''}`;
  const outcome = live ? 'is live' : `failed: ${rec.failure?.code ?? rec.status}`;
  return `[Deploy] ${shown(rec.request.serviceName)} ${outcome} · ${what} · ${baseUrl}/#/deployments/${rec.id}`;
}
