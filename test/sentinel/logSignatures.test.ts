import test from 'ava';
import { oneServiceRounds } from './rounds.js';

// An exception's class name is read off the log line, and an app that logs what it is sent ("unknown
// type: FooError") lets anyone name one. Each name was a group of its own, so one round of 500 lines with
// 500 names made 500 findings: each an audit entry in the user's trail and the global chain (both trimmed
// by count), and the user's 500 kept findings (a shell opened among them) pushed out at once.

test('a round of lines naming hundreds of exception classes makes a bounded number of findings; the rest are one "other exceptions" group', async (t) => {
  const { render, service, rounds } = await oneServiceRounds(t, 'signatures', 'echoes');
  for (let i = 0; i < 300; i++) render.appendLog(service!.id, `unknown type: Made${i}UpError`);
  render.appendLog(service!.id, 'panic: runtime error: index out of range');

  await rounds.round();
  const logFindings = rounds.found.filter((f) => f.kind === 'app_log');
  t.true(logFindings.length <= 25, `${logFindings.length} findings from one round`);
  const other = logFindings.find((f) => f.context?.signature === 'Other exceptions');
  t.truthy(other, 'the names past the bound are one group');
  t.is(logFindings.reduce((n, f) => n + f.count, 0), 301, 'every line is counted');
  t.true(logFindings.some((f) => f.rule === 'app_log_panic'), 'other kinds of line are their own findings still');

  // The next round: the bound holds for the watch, not per round. New names join the other group.
  const before = rounds.found.length;
  for (let i = 0; i < 50; i++) render.appendLog(service!.id, `unknown type: Later${i}MadeUpError`);
  await rounds.round();
  t.is(rounds.found.length, before, 'no new finding');
  t.is(rounds.written.filter((f) => f.id === other!.id).at(-1)?.count, other!.count + 50);
});
