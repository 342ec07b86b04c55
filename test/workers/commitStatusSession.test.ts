import test from 'ava';
import { randomBytes } from 'node:crypto';
import type { Job } from 'bullmq';
import { createKeyring } from '../../server/crypto/keyring.js';
import { sealGithubToken } from '../../server/sessions/credentials.js';
import { commitStatusJobId, type CommitStatusJobData } from '../../server/queues/commitStatusQueue.js';
import { runCommitStatusJob } from '../../workers/tasks/commitStatus.js';
import type { WritePacer } from '../../workers/tasks/writePacer.js';
import type { WorkerContext } from '../../workers/context.js';

// A status job that waits its pacing turn in its slot must not post with the token of a session that
// ended during the wait: the token is read from the session again after the wait (a job never uses
// the token of an ended session, SECURITY.md). Before, it was read once, before the wait.
test('a session that ends while the job waits its pacing turn gets no status posted', async (t) => {
  const keyring = createKeyring(randomBytes(32));
  const rec = {
    id: 'dpl-0123456789abcdefghij', userId: 7, requestMac: 'mac', sessionRef: 'ref', status: 'live',
    commitSha: 'a'.repeat(40), request: { githubRepo: 'alice/app', serviceName: 'app' },
  };
  let sessionAlive = true;
  const session = { user: { id: 7, login: 'alice' }, githubTokenSealed: sealGithubToken(7, 'gho_token', keyring) };
  const posted: string[] = [];
  const quiet = { debug() {}, warn() {} };
  const ctx = {
    keyring,
    config: { baseUrl: 'http://app.test' },
    logger: { child: () => quiet },
    deployments: { get: async (id: string) => (id === rec.id ? rec : null) },
    commitStatusQueue: { getJobState: async () => 'unknown' },
    sessions: { loadByRef: async (ref: string) => (sessionAlive && ref === rec.sessionRef ? session : undefined) },
    upstream: {
      github: (token: string) => ({
        tokenScopes: async () => ['repo'],
        createCommitStatus: async () => { posted.push(token); },
      }),
    },
  } as unknown as WorkerContext;
  // One short wait (slept in the slot), during which the user signs out.
  let asked = 0;
  const pacer: WritePacer = {
    book: () => {
      asked++;
      if (asked === 1) { setTimeout(() => { sessionAlive = false; }, 10); return 100; }
      return 0;
    },
  };
  const job = {
    name: 'pending', id: commitStatusJobId(rec.id, 'pending'), attemptsMade: 0, opts: {},
    data: { deploymentId: rec.id, userId: 7, requestMac: 'mac' },
  } as unknown as Job<CommitStatusJobData>;

  await runCommitStatusJob(ctx, job, 'lock', pacer);
  t.deepEqual(posted, [], 'no status posted with the ended session\'s token');

  // Control: the same job with the session alive throughout posts once, with the session's token.
  sessionAlive = true;
  asked = 1;
  await runCommitStatusJob(ctx, job, 'lock', pacer);
  t.deepEqual(posted, ['gho_token']);
});
