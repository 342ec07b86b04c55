import test from 'ava';
import { createSlackAlerter } from '../../server/alerts/slack.js';
import { createLogger } from '../../server/logger.js';
import { githubRepoOf, withoutUserInfo } from '../../server/render/serviceNames.js';

// Slack's text is cut at 500 UTF-16 units (server/alerts/slack.ts): a cut whose last unit was the first half of
// an emoji in a name from Render or GitHub sent a lone surrogate ("\ud83d"), which is not Unicode text.
test('the 500-unit cut never leaves half a surrogate pair', async (t) => {
  let sent = '';
  const alerter = createSlackAlerter({ webhookUrl: 'https://hooks.slack.com/services/T/B/X', logger: createLogger({ level: 'silent' }), post: async (_url, body) => { sent = body; return { status: 200 }; } });
  await alerter.attempt(`[Deploy] ${'\u{1F680}'.repeat(300)} is live`);
  const text = (JSON.parse(sent) as { text: string }).text;
  t.false(/[\ud800-\udbff]$/.test(text), `ends in a lone high surrogate: ${JSON.stringify(sent.slice(-20))}`);
  t.true(text.length <= 500);
});

// A repository URL as Render holds it may carry user info (a token): dropped wherever the app keeps or shows it.
// A GitHub URL with it was not taken for GitHub's (githubRepoOf), so a redeploy's record named the URL, not owner/name.
test('a repository URL\'s user info is dropped, up to the authority\'s last @; a GitHub URL with it is still GitHub\'s', (t) => {
  t.is(githubRepoOf('https://x-access-token:ghs_abcdefabcdefabcdef@github.com/acme/shop'), 'acme/shop');
  t.is(withoutUserInfo('https://oauth2:glpat-Zq8x@gitlab.com/acme/shop'), 'https://gitlab.com/acme/shop');
  // A password with an unencoded @ (URL parsers split at the last one): none of it stays.
  t.is(withoutUserInfo('https://user:p@ss@gitlab.com/acme/shop'), 'https://gitlab.com/acme/shop');
  t.is(withoutUserInfo('ssh://git@gitlab.com/acme/shop.git'), 'ssh://gitlab.com/acme/shop.git');
  // The scp form names a login, not a secret, and is no URL: left as it is.
  t.is(withoutUserInfo('git@github.com:acme/shop.git'), 'git@github.com:acme/shop.git');
  t.is(withoutUserInfo('https://github.com/acme/shop'), 'https://github.com/acme/shop');
  // A query's or fragment's @ is not user info.
  t.is(withoutUserInfo('https://gitlab.com/acme/shop?ref=a@b'), 'https://gitlab.com/acme/shop?ref=a@b');
});
