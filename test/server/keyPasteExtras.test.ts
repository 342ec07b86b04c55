import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { useScannedStack } from '../helpers/secretScan.js';

// A whole, good key pasted with something around it: quotes (from a .env file or a chat), a "Bearer "
// prefix (from a curl line), the variable's name, Markdown backticks, a zero-width space a web page
// carried. The route's own rule (renderKey.ts): each message says what is wrong with what was pasted,
// "keys start with rnd_" only for a key that does not. These keys do start with rnd_: told that keys
// start with rnd_, the user looks at their key, sees rnd_, and has nothing to fix.
let stack: Stack;
useScannedStack(test, {}, (s) => ({ stack } = s));

const apiKey = 'rnd_pastewrappedkeyaaaaaaaaaaaaaa';

test('a good key wrapped in quotes, backticks, a Bearer prefix, a variable name or an invisible character: the message says to paste only the key, not that keys start with rnd_; nothing stored', async (t) => {
  stack.render.addAccount({ apiKey, workspaces: [{ name: 'Paste' }] });
  const agent = stack.agent();
  await stack.signIn(agent, 'pastewrapped');
  for (const pasted of [`"${apiKey}"`, `'${apiKey}'`, `\u201c${apiKey}\u201d`, `\`${apiKey}\``, `Bearer ${apiKey}`, `RENDER_API_KEY=${apiKey}`, `export RENDER_API_KEY="${apiKey}"`, `\u200b${apiKey}`]) {
    const res = await agent.post('/api/render/setup', { api_key: pasted });
    t.is(res.status, 400, pasted);
    t.is(res.json.error.code, 'validation_failed');
    t.notRegex(res.json.error.message, /start with rnd_/, `${JSON.stringify(pasted)}: told keys start with rnd_ when the pasted key does`);
    t.regex(res.json.error.message, /only the key/, JSON.stringify(pasted));
    t.false(res.text.includes(apiKey), 'the key is not echoed');
  }
  t.false((await agent.get('/api/render/status')).json.configured, 'nothing stored');
  // The same key pasted alone (with the whitespace a copy brings) connects.
  const ok = await agent.post('/api/render/setup', { api_key: `  ${apiKey}\r\n` });
  t.is(ok.status, 200, ok.text);
});

test('a key of another service is still told that Render keys start with rnd_', async (t) => {
  const agent = stack.agent();
  await stack.signIn(agent, 'pasteother');
  for (const pasted of ['sk_live_1234567890abcdef', 'ghp_abcdefghijklmnopqrstuvwxyz', 'Bearer sk_live_1234567890']) {
    const res = await agent.post('/api/render/setup', { api_key: pasted });
    t.is(res.status, 400);
    t.regex(res.json.error.message, /Render keys start with rnd_/, pasted);
  }
});
