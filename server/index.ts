import { loadConfigOrExit } from './config/env.js';
import { createLogger } from './logger.js';
import { startWeb } from './web.js';

// Entry point of `npm run start:web`. The only module besides scripts/ that reads process.env.
if (process.env.NODE_DEBUG && /koa-session|http|net/.test(process.env.NODE_DEBUG)) {
  process.stderr.write('Refusing to start: NODE_DEBUG would print session contents (Render keys) to the log. Unset it.\n');
  process.exit(1);
}
const config = loadConfigOrExit(process.env);
const logger = createLogger({ level: config.logLevel, name: 'web' });
const web = await startWeb({ config, logger });
logger.info({ port: config.port, baseUrl: config.baseUrl, sandbox: config.sandbox }, 'web listening');

let closing = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, async () => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 25_000);
    force.unref();
    await web.close();
    process.exit(0);
  });
}
