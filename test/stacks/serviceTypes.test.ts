import test from 'ava';
import { stackFromBlueprint } from '../../server/stacks/blueprint.js';
import { detectStack } from '../../server/stacks/detect.js';
import { SERVICE_TYPES, SERVICE_TYPE_PRESETS } from '../../server/stacks/serviceTypes.js';
import type { RepoFiles } from '../../server/stacks/types.js';
import { readFileSync } from 'node:fs';

const repo = (files: Record<string, string>): RepoFiles => ({ list: Object.keys(files), dirs: [], read: async (p) => files[p] ?? null });

test('templates/types has one preset per Render service type of the vendored spec', (t) => {
  const spec = JSON.parse(readFileSync(new URL('../../spec/render-openapi.json', import.meta.url), 'utf8'));
  t.deepEqual([...SERVICE_TYPES].sort(), [...spec.components.schemas.serviceType.enum].sort());
  for (const type of SERVICE_TYPES) t.is(SERVICE_TYPE_PRESETS[type].type, type);
  t.true(SERVICE_TYPE_PRESETS.cron_job.needsSchedule);
  t.false(SERVICE_TYPE_PRESETS.background_worker.freePlan);
});

test('render.yaml: the first deployable service gives the type (worker, pserv, cron with a valid schedule)', (t) => {
  const svc = (type: string, extra = '') => `  - type: ${type}\n    name: x\n    runtime: python\n    buildCommand: pip install .\n    startCommand: python run.py\n${extra}`;
  t.is(stackFromBlueprint(`services:\n${svc('worker')}`)?.serviceType, 'background_worker');
  t.is(stackFromBlueprint(`services:\n${svc('pserv')}`)?.serviceType, 'private_service');
  const cron = stackFromBlueprint(`services:\n${svc('cron', '    schedule: "*/5 * * * *"\n')}`);
  t.is(cron?.serviceType, 'cron_job');
  t.is(cron?.schedule, '*/5 * * * *');
  t.is(stackFromBlueprint(`services:\n${svc('cron', '    schedule: "every day"\n')}`), null, 'a cron service with a bad schedule is not used');
  t.is(stackFromBlueprint(`services:\n${svc('web')}${svc('cron', '    schedule: "0 1 * * *"\n')}`)?.serviceType, 'web_service', 'first one wins');
  t.is(stackFromBlueprint(`services:\n  - type: keyvalue\n    name: kv\n${svc('worker')}`)?.serviceType, 'background_worker', 'non-deployable types are skipped');
});

test('Procfile: worker: without web: is a background worker; with web: it stays a web service', async (t) => {
  const node = { 'package.json': '{"scripts":{"start":"node server.js"}}', 'package-lock.json': '{}' };
  const worker = await detectStack(repo({ ...node, Procfile: 'worker: node queue.js\n' }));
  t.is(worker.serviceType, 'background_worker');
  t.is(worker.startCommand, 'node queue.js');
  const both = await detectStack(repo({ ...node, Procfile: 'web: node server.js\nworker: node queue.js\n' }));
  t.is(both.serviceType, 'web_service');
  const docker = await detectStack(repo({ Dockerfile: 'FROM node', Procfile: 'worker: node queue.js\n' }));
  t.is(docker.serviceType, 'web_service', 'a Docker image runs its own CMD');
});

test('Procfile: a worker-only repository is not told how its web server would be served, nor to add one', async (t) => {
  const python = await detectStack(repo({ 'requirements.txt': 'celery\n', Procfile: 'worker: celery -A tasks worker\n' }));
  t.like(python, { serviceType: 'background_worker', buildCommand: 'pip install -r requirements.txt', startCommand: 'celery -A tasks worker' });
  t.notRegex(python.reason, /gunicorn|serves/, python.reason);
  t.regex(python.reason, /declares a worker/);
  const ruby = await detectStack(repo({ Gemfile: 'gem "sidekiq"\n', Procfile: 'worker: bundle exec sidekiq\n' }));
  t.like(ruby, { serviceType: 'background_worker', startCommand: 'bundle exec sidekiq' });
  t.notRegex(ruby.reason, /puma/, ruby.reason);
  const rails = await detectStack(repo({ Gemfile: 'gem "rails"\ngem "propshaft"\n', Procfile: 'worker: bundle exec sidekiq\n' }));
  t.like(rails, { serviceType: 'background_worker', buildCommand: 'bundle install && bundle exec rake assets:precompile && bundle exec rake assets:clean' });
  t.notRegex(rails.reason, /puma/, rails.reason);
});
