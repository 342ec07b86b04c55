import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { useScannedStack } from '../helpers/secretScan.js';
import { openSseAs } from '../helpers/sse.js';
import { createService, tenant as tenantOf } from './support/renderTenants.js';

// A change made to a service (lifecycle or settings) is published on the acting user's own live channel,
// so their other tabs re-read it: ids and the action only, never to another user.

let stack: Stack;
useScannedStack(test, {}, (s) => ({ stack } = s));

const tenant = (name: string) => tenantOf(stack, name);

/** Parsed `event: service` messages in a stream's text. */
function serviceEvents(text: string): Array<Record<string, unknown>> {
  return text.split('\n\n').filter((block) => block.startsWith('event: service\n')).map((block) => JSON.parse(block.split('\ndata: ')[1]!));
}

test('a suspend reaches the acting user\'s streams as ids and the action; another user\'s stream hears nothing of it', async (t) => {
  const alice = await tenant('svcev-alice');
  const bob = await tenant('svcev-bob');
  const aliceSvc = await createService(alice, 'alice-web');
  const bobSvc = await createService(bob, 'bob-web');
  const aliceStream = await openSseAs(alice.agent, '/api/events');
  const bobStream = await openSseAs(bob.agent, '/api/events');
  t.teardown(() => { aliceStream.close(); bobStream.close(); });
  await Promise.all([aliceStream.waitFor((s) => s.includes('event: stream\n')), bobStream.waitFor((s) => s.includes('event: stream\n'))]);

  // A settings change carrying a secret value, then the suspend.
  const secret = 'svcev-secret-value-1234567890';
  t.is((await alice.agent.request('PUT', `/api/render/services/${aliceSvc.id}/env-vars/DATABASE_PASSWORD`, { json: { value: secret } })).status, 200);
  const suspended = await alice.agent.post(`/api/render/services/${aliceSvc.id}/suspend`, {});
  t.is(suspended.status, 200, suspended.text);

  const aliceText = await aliceStream.waitFor((s) => serviceEvents(s).some((e) => e.action === 'suspend'));
  t.deepEqual(serviceEvents(aliceText), [
    { type: 'service', id: aliceSvc.id, action: 'env_var_set' },
    { type: 'service', id: aliceSvc.id, action: 'suspend' },
  ]);
  t.false(aliceText.includes(alice.apiKey), 'no Render key in the stream');
  t.false(aliceText.includes(secret), 'no env var value in the stream');
  t.false(aliceText.includes('DATABASE_PASSWORD'), 'not even the variable\'s name');

  // Published after Alice's (both answered only once published): had Bob's stream carried her
  // channel, her events would have come first (one subscriber connection delivers in publish order).
  t.is((await bob.agent.post(`/api/render/services/${bobSvc.id}/suspend`, {})).status, 200);
  const bobText = await bobStream.waitFor((s) => serviceEvents(s).length > 0);
  t.deepEqual(serviceEvents(bobText), [{ type: 'service', id: bobSvc.id, action: 'suspend' }]);
  t.false(bobText.includes(aliceSvc.id));
  t.false(bobText.includes(alice.apiKey));
  t.false(bobText.includes(secret));
  t.false(aliceStream.text().includes(bobSvc.id));
});

test('resume and delete are published too; a refused action (another user\'s service) publishes nothing', async (t) => {
  const cy = await tenant('svcev-cy');
  const dee = await tenant('svcev-dee');
  const cySvc = await createService(cy, 'cy-web');
  const deeSvc = await createService(dee, 'dee-web');
  const cyStream = await openSseAs(cy.agent, '/api/events');
  t.teardown(() => cyStream.close());
  await cyStream.waitFor((s) => s.includes('event: stream\n'));

  // Cy tries Dee's service: 404, and nothing is said on either channel.
  t.is((await cy.agent.post(`/api/render/services/${deeSvc.id}/suspend`, {})).status, 404);
  t.is((await cy.agent.post(`/api/render/services/${cySvc.id}/suspend`, {})).status, 200);
  t.is((await cy.agent.post(`/api/render/services/${cySvc.id}/resume`, {})).status, 200);
  t.is((await cy.agent.delete(`/api/render/services/${cySvc.id}`)).status, 204);
  const text = await cyStream.waitFor((s) => serviceEvents(s).some((e) => e.action === 'delete'));
  t.deepEqual(serviceEvents(text).map((e) => [e.id, e.action]), [[cySvc.id, 'suspend'], [cySvc.id, 'resume'], [cySvc.id, 'delete']]);
  t.false(text.includes(deeSvc.id));
});
