import { exists, fromTemplate, type Refiner } from './refiner.js';

const PUBLISH_CANDIDATES = ['public', 'dist', 'build', 'site', '_site'];

export const detectStatic: Refiner = async (files, t) => {
  if (files.list.includes('index.html')) return fromTemplate(t, 'index.html at the root and no server code; published as a static site.', { publishPath: '.' });
  for (const dir of PUBLISH_CANDIDATES) {
    if (files.dirs.includes(dir) && await exists(files, `${dir}/index.html`)) {
      return fromTemplate(t, `${dir}/index.html and no server code; ${dir}/ is published as a static site.`, { publishPath: dir });
    }
  }
  return 'no index.html at the root or in public/, dist/, build/, site/ or _site/';
};
