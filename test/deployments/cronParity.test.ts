import test from 'ava';
import { cronScheduleProblem } from '../../server/deployments/cron.js';

// The deploy form checks a cron schedule as it is typed (web/assets/cron.js) by the server's rule, in
// the server's words (server/deployments/cron.ts, which has the final say): the two give the same answer.
const webModule = '../../web/assets/cron.js';
const web = (await import(webModule)) as { cronScheduleProblem(schedule: string): string | null };

const CASES = [
  '0 3 * * *', '*/15 * * * *', '0 0 1 JAN MON', '0-30/5 9-17 * * 1-5', '59 23 31 12 7', '0 0 31 2 *', '5,10,15 * * * *',
  '', '   ', 'every 5 min', '61 * * * *', '* * *', '* * * * * *', '@daily', '*/0 * * * *', '*/60 * * * *', '5/5 * * * *',
  '30-10 * * * *', '0 24 * * *', '0 0 0 * *', '0 0 * 13 *', '0 0 * * 8', '0 0 * FOO *', '1,,2 * * * *', ',1 * * * *', '1-2-3 * * * *',
  '*/ * * * *', '-1 * * * *', '0\t3\t*\t*\t*', '001 * * * *', 'x'.repeat(201), '0 0 * jan sun', '* * * * MON-FRI', '*/100 * * * *',
];

test('the form\'s schedule check answers as the server\'s, word for word', (t) => {
  for (const schedule of CASES) t.is(web.cronScheduleProblem(schedule), cronScheduleProblem(schedule), JSON.stringify(schedule));
});

test('and on random schedules made of the pieces schedules are made of', (t) => {
  const pieces = ['*', '0', '5', '59', '60', '1-5', '5-1', '*/15', '*/0', ',', 'MON', 'jan', '-', '/', '7', '13', '31', '32', '@hourly'];
  let seed = 17;
  const random = (n: number) => { seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648; return seed % n; };
  for (let i = 0; i < 3_000; i++) {
    const fields = Array.from({ length: 3 + random(5) }, () => Array.from({ length: 1 + random(2) }, () => pieces[random(pieces.length)]).join(''));
    const schedule = fields.join(random(4) === 0 ? '\t' : ' ');
    t.is(web.cronScheduleProblem(schedule), cronScheduleProblem(schedule), JSON.stringify(schedule));
  }
});
