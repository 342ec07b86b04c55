import test from 'ava';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { loadConfig } from '../../server/config/env.js';
import { createLogger } from '../../server/logger.js';
import { startWeb } from '../../server/web.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { envFor } from '../helpers/processes.js';
import { addNodeRepo, signedInWithKey } from '../helpers/pipeline.js';

const KEY_A = randomBytes(32).toString('hex');
const KEY_B = randomBytes(32).toString('hex');

let stack: Stack;
test.before(async () => { stack = await startStack({ env: { SECRET_KEY: KEY_A } }); });
test.after.always(async () => { await stack?.close(); });

const quiet = () => createLogger({ level: 'silent', destination: new Writable({ write(_c, _e, cb) { cb(); } }) });

// A key's fingerprint is an HMAC under SECRET_KEY, and a session keeps the fingerprint its key was
// stored with across a rotation (so its deploys and its budget stay the key's). Pasting the same key
// again after the rotation computed it under the new SECRET_KEY, took the different value for another
// key and stopped every deploy the session had made with that very key ("key changed").
test.serial('the same Render key saved again after a SECRET_KEY rotation is not a key change: its deploys go on', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'resaver');
  addNodeRepo(stack, 'resaver', 'app');
  const res = await agent.post('/api/render/deploy', { github_repo: 'resaver/app', project_name: 'resaver' });
  t.is(res.status, 202); // no worker runs: it stays queued
  const id = res.json.id as string;
  const madeWith = (await stack.web.deps.deployments.get(id))!.keyFingerprint;

  await stack.web.close();
  const web = await startWeb({ config: loadConfig(envFor(stack.config, { SECRET_KEY: KEY_B, SECRET_KEY_PREVIOUS: KEY_A })), logger: quiet(), host: '127.0.0.1' });
  try {
    t.is((await agent.get('/api/session')).status, 200, 'the session moved to the new key\'s ref');
    t.is((await agent.post('/api/render/setup', { api_key: apiKey })).status, 200);
    t.is((await web.deps.deployments.get(id))?.status, 'queued', 'the deploy made with this key was not stopped');
    const ref = web.deps.sessions.refOf(agent.jar.get('sid')!);
    t.is((await web.deps.sessions.loadByRef(ref))?.render?.keyFingerprint, madeWith, 'the session still names the key as its deploys do');

    // Another key is still a key change.
    const other = 'rnd_resaverotherkey0123456789';
    stack.render.addAccount({ apiKey: other, workspaces: [{ name: 'other workspace' }] });
    t.is((await agent.post('/api/render/setup', { api_key: other })).status, 200);
    t.is((await web.deps.deployments.get(id))?.status, 'credentials_revoked', 'a different key stops it');
  } finally {
    await web.close();
  }
});
