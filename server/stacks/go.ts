import { fromTemplate, procfileStart, type Refiner } from './refiner.js';

export const detectGo: Refiner = async (files, t) => {
  const procfile = await procfileStart(files);
  if (procfile) return fromTemplate(t, 'Go module (go.mod); starts with the Procfile web: command.', { startCommand: procfile });
  return fromTemplate(t, 'Go module (go.mod); builds the root package into ./app.');
};
