import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import { Agent } from '../helpers/agent.js';

// Key setup has a per-network allowance (SECURITY.md, `keySetup`) on top of each user's invalid-key
// lock-out: it stops one address from having Render judge guessed or stolen keys across many GitHub
// accounts. X-Render-Api-Key asks Render the same question and was under the lock-out only, so one
// address with a few accounts' tokens had Render judge as many keys as their lock-outs allowed together.
// Keys Render accepted lately are not counted again: a CI run sends its key with every request.
// TRUST_PROXY: each address is its own client, as behind Render's proxy.
let stack: Stack;
test.before(async () => {
  stack = await startStack({ env: { TRUST_PROXY: 'true' }, appOptions: { security: { limits: { keySetup: { points: 3, durationSec: 600 } } } } });
});
test.after.always(async () => { await stack?.close(); });

function client(login: string, id: number, ip: string) {
  stack.github.addUser({ id, login });
  const token = stack.github.issuePat(login);
  return (apiKey: string) => new Agent(stack.url, { authorization: `Bearer ${token}`, 'x-render-api-key': apiKey, 'x-forwarded-for': ip }).get('/api/render/status');
}

test('X-Render-Api-Key checks of keys Render has not accepted lately count against the network\'s key setup allowance', async (t) => {
  const office = '198.51.100.44';
  const ci = client('allow-ci', 9401, office);
  const guesserA = client('allow-a', 9402, office);
  const guesserB = client('allow-b', 9403, office);
  const elsewhere = client('allow-c', 9404, '198.51.100.45');
  const good = `rnd_allowci${'g'.repeat(24)}`;
  stack.render.addAccount({ apiKey: good, workspaces: [{ name: 'ci ws' }] });
  const wrong = (n: number) => `rnd_allowguess${String(n).padStart(4, '0')}${'w'.repeat(18)}`;

  t.is((await ci(good)).status, 200, 'a CI run\'s key: one of the three');
  for (const n of [1, 2]) t.is((await guesserA(wrong(n))).status, 400, 'judged by Render: wrong');
  const judged = () => stack.render.calls.filter((c) => c.route === '/owners').length;
  const before = judged();
  const refused = await guesserB(wrong(3));
  t.is(refused.status, 429, refused.text);
  t.is(refused.json.error.code, 'rate_limited');
  t.is(judged(), before, 'Render was not asked about it');
  // The key Render accepted keeps working from that address; another address has its own allowance.
  for (let i = 0; i < 4; i++) t.is((await ci(good)).status, 200);
  t.is((await elsewhere(wrong(4))).status, 400);
  // The refused check took none of B's lock-out tries (its claim was given back).
  t.is(Number(await stack.redis.client.get(`${stack.redis.prefix}:rl:invalid-key:user:9403`) ?? 0), 0);
  t.is(Number(await stack.redis.client.get(`${stack.redis.prefix}:rl:invalid-key:user:9402`) ?? 0), 2, 'A\'s two wrong keys counted');
});
