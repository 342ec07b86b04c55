import { fromTemplate, has, procfileStart, type Refiner } from './refiner.js';

export const detectRuby: Refiner = async (files, t) => {
  const gemfile = ((await files.read('Gemfile')) ?? '').toLowerCase();
  const gem = (name: string) => new RegExp(`^\\s*gem\\s+['"]${name}['"]`, 'm').test(gemfile);
  const rails = gem('rails') || gem('railties');
  const buildCommand = rails ? 'bundle install && bundle exec rake assets:precompile && bundle exec rake assets:clean' : t.buildCommand;
  const procfile = await procfileStart(files);
  if (procfile) return fromTemplate(t, `Ruby project (Gemfile)${rails ? ', Rails' : ''}; starts with the Procfile web: command.`, { buildCommand, startCommand: procfile });
  if (rails) {
    return fromTemplate(t, 'Rails app (rails in Gemfile); precompiles assets and starts puma with config/puma.rb.', {
      buildCommand,
      startCommand: 'bundle exec puma -C config/puma.rb',
    });
  }
  if (!gem('puma') && has(files, 'config.ru')) {
    return fromTemplate(t, 'Rack app (config.ru, no puma in Gemfile); starts with rackup on $PORT.', {
      startCommand: 'bundle exec rackup -o 0.0.0.0 -p $PORT',
    });
  }
  return fromTemplate(t, `Ruby project (Gemfile); starts with puma.${gem('puma') ? '' : ' Add puma to your Gemfile.'}`);
};
