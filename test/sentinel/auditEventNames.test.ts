import test from 'ava';
import { roundsOnClock } from './rounds.js';

// Render's audit-log `event` is an enum that grows (docs/render-api.md, "Audit logs": unknown event strings
// must be tolerated, and are not findings). The rules were looked up in a plain object, so an event string
// that names one of its inherited members (`constructor`, `toString`, `__proto__`…) found a "rule": a
// finding with no rule, severity or title was written, published and audited, and its alert failed.

test('event names that are inherited members of a plain object are unknown events: no finding', async (t) => {
  const w = await roundsOnClock(t, 'protoevents');
  for (const event of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf']) w.render.addAuditEvent(w.ownerId, event, {});
  w.render.addAuditEvent(w.ownerId, 'StartShellEvent', {});
  w.advance(1_000);
  await w.round();
  t.deepEqual(w.found.map((f) => [f.rule, f.severity]), [['start_shell', 'high']]);
});
