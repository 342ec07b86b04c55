/**
 * Operator CLI on the app's own configuration (same environment as the web and worker processes);
 * no HTTP surface. `npm run admin -- blocks | unblock <github-login> | telemetry <github-login>`
 * (`id:<GitHub user id>` in place of a login).
 */
import { loadConfigOrExit } from '../server/config/env.js';
import { createLogger } from '../server/logger.js';
import { createRedis, isRedisUnavailable, redisUrlWithoutPassword } from '../server/redis.js';
import { createKeyring } from '../server/crypto/keyring.js';
import { createAuditLog } from '../server/audit/auditLog.js';
import { createSecurityEvents } from '../server/security/events.js';
import { createSlackAlerter } from '../server/alerts/slack.js';
import { DEFAULT_ALERT_COOLDOWN_SEC } from '../server/security/options.js';
import { systemClock } from '../server/clock.js';
import { telemetryKeys } from '../server/telemetry/keys.js';
import { createGuardStore } from '../server/telemetry/guards.js';
import { AdminError, assertAppData, listBlocks, unblock, userTelemetry, type AdminDeps } from '../server/telemetry/admin.js';
import { withNpmStartState } from './start/stateDir.js';

const USAGE = `usage: npm run admin -- <command>
  blocks                    users the anomaly detector throttles or blocks, and until when
  unblock <github-login>    lift the throttle or block listed under that login now (audited, alerted)
  telemetry <github-login>  a user's recent traffic, per minute and per route, and their baseline
A user may be named by GitHub user id as id:<number> (a bare number is a login).`;

const args = process.argv.slice(2);
const [command, arg] = args;
// Exactly the arguments a command takes: `unblock alice bob` must not lift alice's block alone and say nothing of bob.
if (!command || !['blocks', 'unblock', 'telemetry'].includes(command) || args.length !== (command === 'blocks' ? 1 : 2) || (command !== 'blocks' && !arg)) {
  process.stderr.write(`${USAGE}\n`);
  process.exit(2);
}

// Beside `npm start`: the Redis and key it gave its processes, which this shell does not have.
const config = loadConfigOrExit(withNpmStartState(process.env));
const logger = createLogger({ level: 'warn', name: 'admin', destination: process.stderr });
// A Redis out of reach ends the command within seconds (a refused connection after two quick retries,
// a silent one at the connect or command timeout) with a line of our own, not ioredis' words.
const redis = createRedis(config.redisUrl, 'worker', { maxRetriesPerRequest: 2, connectTimeout: 3_000, commandTimeout: 10_000 });
let redisError = null as Error | null;
redis.on('error', (err: Error) => { redisError = err; });
const keys = telemetryKeys(config.redisPrefix);
const audit = createAuditLog({ redis, prefix: config.redisPrefix, clock: systemClock, keyring: createKeyring(config.secretKey, config.previousSecretKey), retention: config.auditRetention });
const alerter = createSlackAlerter({ webhookUrl: config.slackWebhookUrl, logger });
const events = createSecurityEvents({ audit, alerter, redis, prefix: config.redisPrefix, logger, cooldownSec: DEFAULT_ALERT_COOLDOWN_SEC });
const deps: AdminDeps = { redis, keys, store: createGuardStore(redis, keys), settings: config.telemetry, events, audit, prefix: config.redisPrefix, now: () => systemClock.now() };

/**
 * A REDIS_URL that reaches something other than the app's Redis: a server that does not speak Redis
 * (ioredis' parser fails: "Unknown RESP type 72 …", a ParserError in older versions), or a Redis that
 * refuses the URL's password or wants one. What to fix, in our words; null for anything else. Before,
 * ioredis' own words were printed and no setting was named.
 */
function misconfiguredRedis(err: unknown): string | null {
  if (!(err instanceof Error)) return null;
  const at = `REDIS_URL=${redisUrlWithoutPassword(config.redisUrl)}`;
  if (err.name === 'ParserError' || /^(Unknown RESP type|Protocol error)\b/.test(err.message)) {
    return `${at} answers, but not as Redis does (it is another kind of server, or TLS where the URL says redis://): set REDIS_URL as the app's processes have it.`;
  }
  const auth = /^(WRONGPASS|NOAUTH|ERR invalid password)\b/.exec(err.message)?.[1];
  if (auth) {
    return `The Redis at ${at} ${auth === 'NOAUTH' ? 'wants a password the URL does not give' : 'refused the URL\'s user name or password'} (${auth.split(' ')[0]}): set REDIS_URL with the password the app's processes use (redis://:<password>@host:port).`;
  }
  return null;
}

let code = 0;
let checked = false;
try {
  await assertAppData(deps);
  checked = true;
  const lines = command === 'blocks' ? await listBlocks(deps) : command === 'unblock' ? [await unblock(deps, arg!)] : await userTelemetry(deps, arg!);
  process.stdout.write(`${lines.join('\n')}\n`);
  // The Slack alert of an unblock is sent in the background: give it a moment before exiting.
  if (command === 'unblock' && alerter.enabled) await new Promise((r) => setTimeout(r, 3_000));
} catch (err) {
  const misconfigured = misconfiguredRedis(err);
  const why = err instanceof AdminError ? err.message
    : misconfigured ? `${misconfigured} ${checked ? 'The command may have stopped part-way: run it again.' : 'Nothing was read or changed.'}`
    : isRedisUnavailable(err) ? `Redis at REDIS_URL=${redisUrlWithoutPassword(config.redisUrl)} did not answer${redisError ? ` (${redisError.message})` : ''}: start it, or set REDIS_URL as the app's processes have it. ${checked ? 'The command may have stopped part-way: run it again.' : 'Nothing was read or changed.'}`
    : `failed: ${(err as Error).message}`;
  process.stderr.write(`${why.replace(/\s*\n\s*/g, ' ')}\n`);
  code = 1;
} finally {
  redis.disconnect();
}
process.exit(code);
