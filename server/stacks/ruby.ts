import { fromTemplate, has, procfileStart, procfileWorkerOnly, readWithinLimit, type Refiner } from './refiner.js';
import { isSpace, linesOf } from './lines.js';
import type { RepoFiles } from './types.js';

/**
 * The gem names a Gemfile declares (`gem 'name'` or `gem "name"` at the start of a line), lower-cased.
 * One pass over the lines; no regex on the file (a backtracking one took 85 s on blank lines).
 */
export function gemfileGems(gemfile: string): Set<string> {
  const gems = new Set<string>();
  for (const { text, clipped } of linesOf(gemfile)) {
    if (clipped) continue;
    const line = text.trimStart().toLowerCase();
    if (!line.startsWith('gem') || !isSpace(line[3])) continue;
    const rest = line.slice(3).trimStart();
    const quote = rest[0];
    if (quote !== '"' && quote !== "'") continue;
    let end = 1;
    while (end < rest.length && rest[end] !== '"' && rest[end] !== "'") end++;
    if (end < rest.length) gems.add(rest.slice(1, end));
  }
  return gems;
}

/**
 * The gems that give a Rails app the `assets:precompile` and `assets:clean` tasks. Rails itself does not
 * (`rails new --api` has neither task, and rake aborts "Don't know how to build task"): sprockets-rails
 * (its sprockets/railtie defines both) and propshaft (railties/assets.rake) do; sass-rails and
 * sassc-rails require sprockets/railtie; webpacker 4+ defines both when no pipeline did
 * (compile.rake, clean.rake). Not these: jsbundling-rails, cssbundling-rails and shakapacker only
 * enhance an assets:precompile that exists, importmap-rails has none, and sprockets alone gives
 * Rails no task.
 */
const ASSET_PIPELINE_GEMS = ['sprockets-rails', 'propshaft', 'sass-rails', 'sassc-rails', 'webpacker'];

const PRECOMPILE_BUILD = 'bundle install && bundle exec rake assets:precompile && bundle exec rake assets:clean';

/**
 * The gem names a Gemfile.lock holds (its specs, their dependencies, DEPENDENCIES: each indented line's
 * first word, `!` off), lower-cased. One pass over the lines.
 */
export function lockedGems(lock: string): Set<string> {
  const gems = new Set<string>();
  for (const { text, clipped } of linesOf(lock)) {
    if (clipped || !isSpace(text[0])) continue;
    const word = text.trimStart().split(' ', 1)[0]!.toLowerCase();
    if (word !== '') gems.add(word.endsWith('!') ? word.slice(0, -1) : word);
  }
  return gems;
}

/**
 * Why a Rails app's build precompiles its assets, or null when it has no asset pipeline. The Gemfile may
 * not name the gem: up to 6.1 the rails gem itself depends on sprockets-rails (a 6.1 app that moved to
 * jsbundling names none), so Gemfile.lock, which lists what the bundle holds, decides. Without one the
 * Rails version is unknown: an app that says `config.api_only = true` has no pipeline; any other keeps the
 * precompile it always had.
 */
async function assetPipeline(files: RepoFiles, gems: Set<string>): Promise<string | null> {
  const named = ASSET_PIPELINE_GEMS.find((gem) => gems.has(gem));
  if (named) return `${named} in Gemfile`;
  const lock = has(files, 'Gemfile.lock') ? await readWithinLimit(files, 'Gemfile.lock') : null;
  if (lock !== null) {
    const locked = lockedGems(lock);
    const held = ASSET_PIPELINE_GEMS.find((gem) => locked.has(gem));
    return held ? `${held} in Gemfile.lock` : null;
  }
  const application = files.dirs.includes('config') ? await readWithinLimit(files, 'config/application.rb') : null;
  if (application !== null && saysApiOnly(application)) return null;
  return 'Rails up to 6.1 brings sprockets-rails, and no Gemfile.lock says which Rails this is';
}

/** Whether config/application.rb has a `config.api_only = true` line (a scan of its lines, no regex on the file). */
function saysApiOnly(application: string): boolean {
  for (const { text, clipped } of linesOf(application)) {
    if (clipped) continue;
    const line = text.trim();
    if (!line.startsWith('config.api_only')) continue;
    const value = line.slice('config.api_only'.length).trimStart();
    if (value.startsWith('=') && /^true\b/.test(value.slice(1).trimStart())) return true;
  }
  return false;
}

export const detectRuby: Refiner = async (files, t) => {
  const gems = gemfileGems((await files.read('Gemfile')) ?? '');
  const rails = gems.has('rails') || gems.has('railties');
  const pipeline = rails ? await assetPipeline(files, gems) : null;
  const buildCommand = pipeline ? PRECOMPILE_BUILD : t.buildCommand;
  const assets = !rails ? '' : pipeline
    ? ` Precompiles assets (${pipeline}).`
    : ' No asset pipeline gem (sprockets-rails, propshaft…) in the bundle, so no assets to precompile.';
  const project = `Ruby project (Gemfile)${rails ? ', Rails' : ''}`;
  const procfile = await procfileStart(files);
  if (procfile) return fromTemplate(t, `${project}; starts with the Procfile web: command.${assets}`, { buildCommand, startCommand: procfile });
  if (await procfileWorkerOnly(files)) return fromTemplate(t, `${project}.${assets}`, { buildCommand });
  if (rails) {
    return fromTemplate(t, `Rails app (rails in Gemfile); starts puma with config/puma.rb.${assets}`, {
      buildCommand,
      startCommand: 'bundle exec puma -C config/puma.rb',
    });
  }
  const puma = gems.has('puma');
  if (!puma && has(files, 'config.ru')) {
    return fromTemplate(t, 'Rack app (config.ru, no puma in Gemfile); starts with rackup on $PORT.', {
      startCommand: 'bundle exec rackup -o 0.0.0.0 -p $PORT',
    });
  }
  return fromTemplate(t, `Ruby project (Gemfile); starts with puma.${puma ? '' : ' Add puma to your Gemfile.'}`);
};
