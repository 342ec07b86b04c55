import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, renderCalls, signedInWithKey } from '../helpers/pipeline.js';
import { cronScheduleProblem } from '../../server/deployments/cron.js';

// A cron schedule's month and weekday names are matched after String.prototype.toUpperCase, which
// folds some non-ASCII letters onto ASCII ones: "ı" (dotless i, what a Turkish keyboard gives when FRI is
// typed in lower case) → "I", "ſ" (long s) → "S". So "frı", "ſun", "ſat", "ſep" passed as FRI, SUN, SAT,
// SEP, and the schedule went to Render as typed, non-ASCII letters and all: no cron parser reads them
// (Render's schedules are standard five-field cron, docs/render-api.md "Service types"). The form's check
// (web/assets/cron.js) is the same rule and let it through as the user typed.

const webModule = '../../web/assets/cron.js';
const web = (await import(webModule)) as { cronScheduleProblem(schedule: string): string | null };

const FOLDED = ['0 9 * * mon-frı', '0 0 * * ſun', '0 0 * * ſat', '0 0 1 ſep *', '0 0 * * FRı', '0 0 * ſEP *'];

let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack } = p));

test('names with non-ASCII letters that upper-case to a cron name are refused, by the server and the form alike', (t) => {
  for (const schedule of FOLDED) {
    t.regex(cronScheduleProblem(schedule) ?? 'accepted', /not a valid (day of week|month)/, `server: ${JSON.stringify(schedule)}`);
    t.is(web.cronScheduleProblem(schedule), cronScheduleProblem(schedule), `form: ${JSON.stringify(schedule)}`);
  }
  // The ASCII names, in any case, still pass.
  for (const schedule of ['0 9 * * mon-fri', '0 0 * * SUN', '0 0 1 Sep *', '0 0 * jan,JUL sat']) t.is(cronScheduleProblem(schedule), null, schedule);
});

test('a cron job chosen in the form with "0 9 * * mon-frı" is a 400 on its schedule, and nothing reaches Render', async (t) => {
  const { agent, accountId } = await signedInWithKey(stack, 'trcron');
  addNodeRepo(stack, 'trcron', 'jobs');
  const res = await agent.post('/api/render/deploy', {
    github_repo: 'trcron/jobs', project_name: 'jobs', service_type: 'cron_job', schedule: '0 9 * * mon-frı', start_command: 'node job.js',
  });
  t.is(res.status, 400, `accepted a schedule no cron parser reads: ${res.status} ${res.text}`);
  t.is(res.json?.error?.field, 'schedule', res.text);
  t.is(renderCalls(stack, accountId, 'POST', '/services').length, 0);
});

test('a render.yaml cron entry on "0 3 * * ſun" is skipped as a schedule that is not valid', async (t) => {
  const { agent } = await signedInWithKey(stack, 'yamlcron');
  addNodeRepo(stack, 'yamlcron', 'jobs', {
    'render.yaml': 'services:\n  - type: cron\n    name: weekly\n    runtime: node\n    schedule: "0 3 * * ſun"\n    buildCommand: npm ci\n    startCommand: node job.js\n',
  });
  const detect = await agent.get('/api/github/repos/yamlcron/jobs/detect');
  t.is(detect.status, 200, detect.text);
  t.not(detect.json.serviceType, 'cron_job', `detected a cron job on ${JSON.stringify(detect.json.schedule)}`);
});
