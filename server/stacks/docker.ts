import { fromTemplate, type Refiner } from './refiner.js';

export const detectDocker: Refiner = async (files, t) => {
  const name = files.list.includes('Dockerfile') ? 'Dockerfile' : 'dockerfile';
  return fromTemplate(t, `${name} at the repository root; Render builds the image and runs its CMD.`, { dockerfilePath: `./${name}` });
};
