import { Writable } from 'node:stream';
import { loadConfig } from '../../server/config/env.js';
import { createLogger } from '../../server/logger.js';
import { startWeb, type WebProcess } from '../../server/web.js';
import { startBalancer, type Balancer } from './balancer.js';
import { envFor } from './processes.js';
import { freePort } from './ports.js';
import type { Stack } from './stack.js';

/**
 * Step 2 of a SECRET_KEY rotation as Render's zero-downtime deploy runs it (SECURITY.md, "Rotating
 * SECRET_KEY"): the stack's own web process goes, and one still on SECRET_KEY=`oldKey`
 * (SECRET_KEY_PREVIOUS=`newKey`) and one on `newKey` (previous `oldKey`) take its place behind one proxy on
 * the stack's port. `webs[0]` is the old one, `webs[1]` the new; the caller closes both and the balancer.
 */
export async function rollingWebs(stack: Stack, oldKey: string, newKey: string): Promise<{ webs: WebProcess[]; balancer: Balancer }> {
  await stack.web.close();
  const webs: WebProcess[] = [];
  const quiet = () => createLogger({ level: 'silent', destination: new Writable({ write(_c, _e, cb) { cb(); } }) });
  for (const secrets of [{ SECRET_KEY: oldKey, SECRET_KEY_PREVIOUS: newKey }, { SECRET_KEY: newKey, SECRET_KEY_PREVIOUS: oldKey }]) {
    const config = loadConfig(envFor(stack.config, { ...secrets, PORT: String(await freePort()) }));
    webs.push(await startWeb({ config, logger: quiet(), host: '127.0.0.1' }));
  }
  return { webs, balancer: await startBalancer(stack.config.port, webs.map((w) => w.url)) };
}
