import { fromTemplate, has, procfileStart, type Refiner } from './refiner.js';
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

export const detectRuby: Refiner = async (files, t) => {
  const gems = gemfileGems((await files.read('Gemfile')) ?? '');
  const rails = gems.has('rails') || gems.has('railties');
  const buildCommand = rails ? 'bundle install && bundle exec rake assets:precompile && bundle exec rake assets:clean' : t.buildCommand;
  const procfile = await procfileStart(files);
  if (procfile) return fromTemplate(t, `Ruby project (Gemfile)${rails ? ', Rails' : ''}; starts with the Procfile web: command.`, { buildCommand, startCommand: procfile });
  if (rails) {
    return fromTemplate(t, 'Rails app (rails in Gemfile); precompiles assets and starts puma with config/puma.rb.', {
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
