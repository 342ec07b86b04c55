import { fromTemplate, procfileStart, type Refiner } from './refiner.js';
import { occurrences, skipSpaces, skipSpacesBack } from './lines.js';

/** Whether mix.exs declares `{:phoenix, …}` (spaces allowed around the atom), found by indexOf scans only. */
export function mixUsesPhoenix(mix: string): boolean {
  const atom = ':phoenix';
  for (const at of occurrences(mix, atom)) {
    if (mix[skipSpacesBack(mix, at) - 1] === '{' && mix[skipSpaces(mix, at + atom.length)] === ',') return true;
  }
  return false;
}

export const detectElixir: Refiner = async (files, t) => {
  const mix = (await files.read('mix.exs')) ?? '';
  const phoenix = mixUsesPhoenix(mix);
  const assets = phoenix && mix.includes('"assets.deploy"');
  const buildCommand = assets ? `${t.buildCommand} && MIX_ENV=prod mix assets.deploy` : t.buildCommand;
  const procfile = await procfileStart(files);
  if (procfile) return fromTemplate(t, 'Elixir project (mix.exs); starts with the Procfile web: command.', { buildCommand, startCommand: procfile });
  if (phoenix) {
    return fromTemplate(t, `Phoenix app (mix.exs)${assets ? ', deploys assets' : ''}; starts with mix phx.server. Set SECRET_KEY_BASE and PHX_HOST.`, {
      buildCommand,
      startCommand: 'MIX_ENV=prod mix phx.server',
    });
  }
  return fromTemplate(t, 'Elixir project (mix.exs); compiles for prod and runs the application.');
};
