import test from 'ava';
import { createRenderClient } from '../../server/render/client.js';
import { BUDGET_FOR_TESTS } from './limits.js';
import { enable, findings, startSentinelStack, tenant, waitFor, type SentinelStack } from './support.js';

// The worker's task notes the round's own env-var reads (to redact log lines) on Render's clock, by the
// round's latest answer: Render stamps their audit entries by its clock, and a note by the worker's, 5
// minutes ahead here, was outside the ±2-minute match, so the next round reported our own read as a threat.
// The simulator keeps the machine's clock (Render's); the worker's runs 5 minutes ahead of it.

const MIN = 60_000;
let s: SentinelStack;
test.before(async () => { s = await startSentinelStack({ renderLimits: BUDGET_FOR_TESTS, workerClock: { now: () => Date.now() + 5 * MIN } }); });
test.after.always(async () => { await s?.close(); });

const isAudit = (c: { route: string }) => c.route === '/owners/{ownerId}/audit-logs';

test('a worker 5 minutes ahead of Render: a crash is reported, and the env-var read made to redact it is not', async (t) => {
  const ida = await tenant(s.stack, 'ida-skew');
  const callsOf = () => s.stack.render.calls.filter((c) => c.accountId === ida.accountId);
  await enable(ida.agent);
  await waitFor('two rounds', async () => callsOf().filter(isAudit).length >= 2);
  s.stack.render.appendLog(ida.services[0]!.id, 'TypeError: Cannot read properties of undefined (reading \'id\')');
  await waitFor('the crash reported', async () => (await findings(ida.agent)).some((f) => f.rule === 'app_log_exception'));
  const read = await waitFor('the env values read to redact it', async () => callsOf().findIndex((c) => c.route === '/services/{serviceId}/env-vars') + 1);
  // The round after the read's reads its audit entry; once the one after that has begun, it has ended.
  await waitFor('two rounds after the read', async () => callsOf().slice(read).filter(isAudit).length >= 2);
  const entries = (await createRenderClient({ baseUrl: s.stack.render.url, apiKey: ida.apiKey }).listAuditLogs(ida.ownerId, { limit: 100 })).items;
  t.is(entries.filter((e) => e.event === 'ViewEnvVarValuesEvent').length, 1, 'Render audited the read');
  t.deepEqual((await findings(ida.agent)).map((f) => f.rule), ['app_log_exception'], 'our own env-var read is not reported as a threat');
});
