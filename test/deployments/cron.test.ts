import test from 'ava';
import { cronScheduleProblem } from '../../server/deployments/cron.js';

test('valid five-field schedules pass', (t) => {
  for (const s of ['* * * * *', '0 3 * * *', '*/15 * * * 1-5', '0,30 9-17 * * MON-FRI', '5 4 1 JAN,jul *', '0 0 * * 7', '0-59/10 */2 1-31/3 1-12 0-6', ' 0  3 * * * ']) {
    t.is(cronScheduleProblem(s), null, s);
  }
});

test('invalid schedules say what is wrong', (t) => {
  const cases: Array<[string, RegExp]> = [
    ['', /five fields/], ['* * * *', /this one has 4/], ['* * * * * *', /has 6/], ['@hourly', /Shortcuts/],
    ['60 * * * *', /"60" is not a valid minute/], ['* 24 * * *', /hour/], ['* * 0 * *', /day of month/],
    ['* * * 13 *', /month/], ['* * * * 8', /day of week/], ['* * * FOO *', /month/], ['*/0 * * * *', /step/],
    ['5/10 * * * *', /step needs/], ['10-5 * * * *', /backwards/], ['1,,2 * * * *', /empty item/], ['1, * * * *', /empty item/],
    ['-1 * * * *', /not a valid minute/], ['1.5 * * * *', /minute/], ['0x1 * * * *', /minute/],
  ];
  for (const [s, re] of cases) t.regex(cronScheduleProblem(s) ?? 'null', re, JSON.stringify(s));
});

test('hostile input is refused by its length, and long fields are read in one pass', (t) => {
  t.regex(cronScheduleProblem('1,'.repeat(100_000)) ?? '', /at most 200/);
  t.regex(cronScheduleProblem(`${'1,'.repeat(48)}x * * * *`) ?? '', /"x" is not a valid minute/);
});
