import type { RenderClient } from '../render/client.js';
import { loadLogSource, logText, readLogPage, type LogPage, type SecretsSource } from './logs.js';
import type { DeploymentRecord } from './types.js';

/**
 * How long a log read may wait for the key's shared Render budget: a page a little longer than other
 * reads (the panel would rather load slowly than show an error); a download much longer, as each of
 * its pages may wait (a log of 2,000 lines is 20 Render calls of Render's ~30 a minute).
 */
export const LOG_BUDGET_WAIT_MS = { page: 8_000, download: 65_000 } as const;

/** A page of one deployment's own log lines (server/deployments/logWindows.ts), newest page first. */
export async function deploymentLogPage(client: RenderClient, rec: DeploymentRecord, q: { limit: number; cursor?: string }, now: string, secretsOf: SecretsSource): Promise<LogPage> {
  const src = await loadLogSource(client, rec, secretsOf);
  return src ? readLogPage(src, q, now) : { logs: [], hasMore: false, nextCursor: null, phases: [], deployStatus: null };
}

/** The whole log of one deployment as a text file: every page of every phase, redacted like the pages. */
export async function deploymentLogFile(client: RenderClient, rec: DeploymentRecord, now: string, secretsOf: SecretsSource): Promise<{ filename: string; text: string }> {
  const src = await loadLogSource(client, rec, secretsOf);
  let text = `# ${rec.request.serviceName} · deployment ${rec.id}${rec.deployId ? ` · Render deploy ${rec.deployId}` : ''}\n`;
  if (src) for await (const chunk of logText(src, now)) text += chunk;
  else text += 'Render has not started this deploy yet.\n';
  return { filename: `deployment-${rec.id}.log.txt`, text };
}
