import test from 'ava';
import { MAX_FINDINGS } from '../../server/sentinel/store.js';
import { roundsOnClock } from './rounds.js';

// A user keeps at most MAX_FINDINGS (500) findings. A failed sign-in to Render is a low finding of its own,
// one per audit entry, and anyone who knows a member's email can fail to sign in as often as they like.
// Kept as "the newest 500", a burst of 500 failed sign-ins after someone opened a shell into a service
// pushed that high finding out: the Security page no longer counted or showed it (its id a 404), though
// nothing had been done about it. Low findings make room first; a high one goes only for other high ones.

const SEC = 1_000;

test('a flood of failed Render sign-ins (low) does not push out the high finding before it', async (t) => {
  const w = await roundsOnClock(t, 'flood');
  const svc = await w.create('api');
  w.render.addAuditEvent(w.ownerId, 'StartShellEvent', { service: svc.id });
  w.advance(SEC);
  await w.round();
  const shell = w.found.find((f) => f.rule === 'start_shell');
  t.truthy(shell, 'the shell is a finding');

  w.advance(SEC);
  for (let i = 0; i < MAX_FINDINGS + 20; i++) { w.render.addAuditEvent(w.ownerId, 'LoginEvent', {}, { status: 'error' }); w.advance(1); }
  // A round reads a page of 100 audit entries: enough rounds to read them all.
  for (let i = 0; i < Math.ceil((MAX_FINDINGS + 20) / 100) + 1; i++) {
    w.advance(SEC);
    await w.round();
  }
  t.is(w.found.filter((f) => f.rule === 'render_login_failed').length, MAX_FINDINGS + 20, 'every failed sign-in was read');
  t.is(await w.rounds.store.countFindings(1), MAX_FINDINGS, 'still at most 500 kept');
  t.truthy(await w.rounds.store.getFinding(1, shell!.id, w.clock()), 'the shell finding is still there');
  const kept = await w.rounds.store.listFindings(1, MAX_FINDINGS, w.clock());
  t.is(kept.filter((f) => f.severity === 'high').length, 1, 'and counted');
});

test('when every finding kept is of one severity, the oldest goes first, as before', async (t) => {
  const w = await roundsOnClock(t, 'floodsame');
  w.advance(SEC);
  for (let i = 0; i < MAX_FINDINGS + 5; i++) { w.render.addAuditEvent(w.ownerId, 'LoginEvent', {}, { status: 'error' }); w.advance(1); }
  for (let i = 0; i < Math.ceil((MAX_FINDINGS + 5) / 100) + 1; i++) {
    w.advance(SEC);
    await w.round();
  }
  t.is(await w.rounds.store.countFindings(1), MAX_FINDINGS);
  const first = w.found.slice(0, 5).map((f) => f.id);
  for (const id of first) t.is(await w.rounds.store.getFinding(1, id), null, 'the oldest went');
  t.truthy(await w.rounds.store.getFinding(1, w.found.at(-1)!.id), 'the newest stays');
});

// The write that made room could make it by removing the finding it had just written (a low one, with every
// other finding kept more severe): the script still said it was new, so it was alerted and audited, and was
// nowhere on the Security page (its id a 404), again at every write of it.
test('a low finding with the cap full of high ones is not kept, and is not said to be new', async (t) => {
  const w = await roundsOnClock(t, 'floodhigh');
  const svc = await w.create('api');
  w.advance(SEC);
  for (let i = 0; i < MAX_FINDINGS; i++) { w.render.addAuditEvent(w.ownerId, 'StartShellEvent', { service: svc.id }); w.advance(1); }
  for (let i = 0; i < Math.ceil(MAX_FINDINGS / 100) + 1; i++) {
    w.advance(SEC);
    await w.round();
  }
  t.is(w.found.filter((f) => f.severity === 'high').length, MAX_FINDINGS);
  w.advance(SEC);
  w.render.addAuditEvent(w.ownerId, 'LoginEvent', {}, { status: 'error' });
  w.advance(SEC);
  await w.round();
  w.advance(SEC);
  await w.round();
  t.deepEqual(w.found.filter((f) => f.rule === 'render_login_failed'), [], 'not reported as new');
  t.is(await w.rounds.store.countFindings(1), MAX_FINDINGS);
  const kept = await w.rounds.store.listFindings(1, MAX_FINDINGS, w.clock());
  t.true(kept.every((f) => f.severity === 'high'), 'the high findings all stay');
});
