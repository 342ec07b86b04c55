import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import { openSseStream } from '../helpers/sse.js';
import { until } from '../helpers/pipeline.js';

// X-Render-Api-Key runs a request on a key session of its own, deleted when the request ends (unless it
// started a deploy). A live update stream's handler returns as soon as the stream is open, and the key
// session used to be deleted right then: the stream, re-checking its session at each keepalive, ended at
// the first one (and a log tail it follows had no key to read with), so a CI client reconnected every
// keepalive, each time checking the key with Render again. The session now lasts as long as the stream.
let stack: Stack;
test.before(async () => { stack = await startStack({ appOptions: { events: { keepAliveMs: 20 } } }); });
test.after.always(async () => { await stack?.close(); });

const keepalives = (text: string) => text.split('event: ping\n').length - 1;
const sessionCount = async () => (await stack.redis.client.keys(`${stack.config.redisPrefix}:sess:*`)).length;

test.serial('a stream opened with X-Render-Api-Key keeps its key session while it is open, and drops it when it closes', async (t) => {
  stack.github.addUser({ id: 9600, login: 'keystream' });
  const token = stack.github.issueToken('keystream');
  const apiKey = `rnd_keystream${'k'.repeat(24)}`;
  stack.render.addAccount({ apiKey, workspaces: [{ name: 'keystream ws' }] });
  t.is((await fetch(`${stack.url}/api/session`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
  const before = await sessionCount();

  const stream = await openSseStream(`${stack.url}/api/events`, { authorization: `Bearer ${token}`, 'x-render-api-key': apiKey });
  try {
    t.is(stream.status, 200);
    // Rejects if the stream ends first.
    await stream.waitFor((text) => keepalives(text) >= 5, 30_000);
    t.is(await sessionCount(), before + 1, 'the key session lives while its stream is open');
  } finally {
    stream.close();
  }
  await until('the key session is deleted', async () => ((await sessionCount()) === before ? true : null));
  t.pass();
});
