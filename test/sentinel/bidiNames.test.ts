import test from 'ava';
import { BUDGET_FOR_TESTS } from './limits.js';
import { renderTestClient } from '../sandbox/render-test-client.js';
import { enable, startSentinelStack, tenant, waitFor, type SentinelStack } from './support.js';
import { roundsOnClock } from './rounds.js';
import { presentSettings } from '../../server/sentinel/present.js';

// Render puts no rule on a service's name, and anyone in the workspace may rename a service (the people
// Sentinel watches). A name ending in a right-to-left override (U+202E), put as is into the alert's text,
// runs on past the name: Slack draws the alert's own words after it (the service id, the time) reversed,
// so a crafted name makes the alert read as something else (the same flaw test/ui/bidi-names.test.ts
// fixed on the page). The name is isolated in the alert: whatever bidirectional controls it holds, none is
// still open where the alert's own words go on. A name that closes an isolate itself (U+2069) first must
// not break out of it either. The same for the notices the Security page shows: sentences the server makes
// with a workspace's or service's name inside (the page can isolate a whole notice, not a name in it).

let s: SentinelStack;
test.before(async () => { s = await startSentinelStack({ renderLimits: BUDGET_FOR_TESTS }); });
test.after.always(async () => { await s?.close(); });

const EMBEDDINGS = new Set([0x202a, 0x202b, 0x202d, 0x202e]); // LRE RLE LRO RLO, closed by PDF (U+202C)
const ISOLATES = new Set([0x2066, 0x2067, 0x2068]); // LRI RLI FSI, closed by PDI (U+2069)

/** Whether a directional embedding, override or isolate (UAX #9, X1–X8) is still open at `index` of `text`. */
function bidiOpenAt(text: string, index: number): boolean {
  const stack: Array<'embedding' | 'isolate'> = [];
  for (let i = 0; i < index; i += 1) {
    const c = text.charCodeAt(i);
    if (EMBEDDINGS.has(c)) stack.push('embedding');
    else if (ISOLATES.has(c)) stack.push('isolate');
    // A PDF closes an embedding opened inside the current isolate only.
    else if (c === 0x202c && stack.at(-1) === 'embedding') stack.pop();
    // A PDI closes its isolate, and every embedding opened after it.
    else if (c === 0x2069 && stack.includes('isolate')) stack.length = stack.lastIndexOf('isolate');
  }
  return stack.length > 0;
}

test('a service name with bidirectional controls: nothing of it runs on into the alert\'s own words', async (t) => {
  const hook = `${s.tenantSlack.origin}/services/T000/B000/${'BIDI'.padEnd(16, '0')}`;
  const ada = await tenant(s.stack, 'ada-bidi', ['one', 'two']);
  const api = renderTestClient(s.stack.render.url, ada.apiKey);
  const names = ['payments\u202E', 'ledger\u2069\u202E'];
  for (const [i, svc] of ada.services.entries()) {
    const renamed = await api.call('PATCH', `/services/${svc.id}`, { name: names[i] });
    t.is(renamed.status, 200, renamed.text);
  }
  await enable(ada.agent, { slackWebhookUrl: hook });
  for (const svc of ada.services) s.stack.render.appendLog(svc.id, 'TypeError: Cannot read properties of undefined (reading \'id\')');
  for (const [i, svc] of ada.services.entries()) {
    const alert = await waitFor(`the alert of ${svc.id}`, async () => s.tenantSlack.texts.find((x) => x.includes(svc.id)));
    const words = alert.indexOf(`(${svc.id})`);
    t.true(words > 0, alert);
    t.false(bidiOpenAt(alert, words), `nothing left open before the alert's own words: ${JSON.stringify(alert)}`);
    t.false(bidiOpenAt(alert, alert.length), `nor at its end: ${JSON.stringify(alert)}`);
    t.true(alert.includes(names[i]!.replace(/[\u202a-\u202e\u2066-\u2069]/g, '')), `the name is still there: ${JSON.stringify(alert)}`);
  }
});

test('a workspace name with a right-to-left override: the plan notice\'s own words after it are not turned around', async (t) => {
  const name = 'Acme\u202E';
  const apiKey = `rnd_bidiworkspace${'k'.repeat(24)}`;
  s.stack.render.addAccount({ apiKey, workspaces: [{ name }] });
  s.stack.render.setAuditLogAccess(apiKey, false);
  const agent = s.stack.agent();
  await s.stack.signIn(agent, 'bidi-workspace');
  const setup = await agent.post('/api/render/setup', { api_key: apiKey });
  t.is(setup.status, 200, setup.text);
  await enable(agent);
  const notice = await waitFor('the plan notice', async () => ((await agent.get('/api/sentinel')).json.notices as string[]).find((n) => n.startsWith('Your Render plan')));
  const words = notice.indexOf('; app-log watch continues.');
  t.true(words > 0, notice);
  t.false(bidiOpenAt(notice, words), `nothing left open before the notice's own words: ${JSON.stringify(notice)}`);
  t.true(notice.includes('Acme'), notice);
});

test('a service name with a right-to-left override in a skipped stretch: the notice\'s own words after it are not turned around', async (t) => {
  const MIN = 60_000;
  const w = await roundsOnClock(t, 'bidiskip');
  const svc = await w.create('chatty\u202E');
  w.advance(MIN);
  await w.round();
  w.advance(5 * MIN);
  for (let i = 0; i < 600; i++) w.render.appendLog(svc.id, `GET /health 200 ${i}`);
  w.advance(55 * MIN);
  await w.round();
  w.advance(60 * MIN);
  await w.round(); // more than a round reads, an hour behind: the older lines are skipped, and noted
  const status = await w.status();
  t.is(status.skipped?.length, 1);
  const settings = { enabled: true, sessionRef: 'r', intervalMs: 3_600_000, slackSealed: null, slackHint: null, enabledAt: 0 };
  const [notice] = presentSettings(settings, status, { currentRef: 'r', defaultIntervalMs: 60_000, ownerNames: new Map() }).notices;
  const words = notice!.indexOf(' from ');
  t.true(words > 0, notice);
  t.false(bidiOpenAt(notice!, words), `nothing left open before the notice's own words: ${JSON.stringify(notice)}`);
  t.true(notice!.includes('chatty'), notice);
});
