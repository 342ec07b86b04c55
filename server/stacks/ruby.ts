import { fromTemplate, has, procfileStart, procfileWorkerOnly, type Refiner } from './refiner.js';
import { isSpace, linesOf } from './lines.js';

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

/** A Rails app's asset pipeline gem from its Gemfile, or null (an API-only app has none). */
function assetPipelineGem(gems: Set<string>): string | null {
  return ASSET_PIPELINE_GEMS.find((gem) => gems.has(gem)) ?? null;
}

export const detectRuby: Refiner = async (files, t) => {
  const gems = gemfileGems((await files.read('Gemfile')) ?? '');
  const rails = gems.has('rails') || gems.has('railties');
  const pipeline = rails ? assetPipelineGem(gems) : null;
  const buildCommand = pipeline ? PRECOMPILE_BUILD : t.buildCommand;
  const assets = !rails ? '' : pipeline
    ? ` Precompiles assets (${pipeline} in Gemfile).`
    : ' No asset pipeline gem (sprockets-rails, propshaft…) in Gemfile, so no assets to precompile.';
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
