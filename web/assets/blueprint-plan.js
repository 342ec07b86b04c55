/**
 * "Deploy as Blueprint" (issue 15): for a repository with a render.yaml, shows what Render would create
 * (its own validation of the file) before anything happens. Nothing is created here: Render's API cannot
 * make a Blueprint, so the plan ends with Render's Deploy to Render link, where the user applies it.
 */
import { busy, h, notice, replace } from './dom.js';

const KINDS = [['services', 'Services'], ['databases', 'Postgres databases'], ['keyValue', 'Key Value instances'], ['envGroups', 'Environment groups']];

export function createBlueprintPlan({ api, target }) {
  const out = h('div', { class: 'blueprint-plan', 'aria-live': 'polite', 'data-testid': 'blueprint-plan' });
  const button = h('button', { type: 'button', class: 'btn btn--secondary btn--small', 'data-testid': 'blueprint-plan-button' }, 'Deploy as Blueprint…');
  let seq = 0;

  button.addEventListener('click', async () => {
    const { owner, repo, branch, ownerId } = target();
    const mine = ++seq;
    try {
      const res = await busy(button, 'Asking Render…', () => api.blueprintPlan(owner, repo, branch, ownerId));
      if (mine !== seq) return;
      if (!res.valid) {
        replace(out, notice('error', h('strong', null, 'Render says this render.yaml is not valid. '),
          h('ul', { class: 'plain-list', 'data-testid': 'blueprint-errors' }, res.errors.map((e) =>
            h('li', null, `${e.path ? `${e.path}: ` : ''}${e.error}${e.line ? ` (line ${e.line})` : ''}`)))));
        return;
      }
      replace(out,
        h('p', null, h('strong', null, `Render would create ${res.plan.totalActions} ${res.plan.totalActions === 1 ? 'resource' : 'resources'}`), ` from render.yaml on ${res.branch}:`),
        h('dl', { class: 'blueprint-plan__list' }, KINDS.filter(([k]) => res.plan[k].length).flatMap(([k, label]) => [
          h('dt', null, label), h('dd', { class: 'mono', 'data-testid': `blueprint-${k}` }, ...isolatedList(res.plan[k])),
        ])),
        h('p', { class: 'muted' }, 'Nothing has been created. A Blueprint is applied in your Render dashboard, which shows this plan again and asks for any values marked sync: false.'),
        h('a', { class: 'btn btn--primary btn--small', href: res.deployUrl, target: '_blank', rel: 'noopener noreferrer', 'data-testid': 'blueprint-open' }, 'Open in Render to apply'));
    } catch (err) {
      if (mine !== seq) return;
      replace(out, notice('error', `Could not get the Blueprint plan: ${err.message}`));
    }
  });

  return {
    el: h('div', { class: 'blueprint' }, h('p', { class: 'muted' }, 'This repository has its own render.yaml; it is checked with Render before deploying. ', button), out),
    reset() { seq += 1; out.replaceChildren(); },
  };
}

/**
 * Names from render.yaml, each in its own <bdi>, with ", " between: joined in one string, a name ending in a
 * right-to-left override (U+202E) turned the names after it around.
 */
function isolatedList(names) {
  return names.flatMap((name, i) => (i === 0 ? [h('bdi', null, name)] : [', ', h('bdi', null, name)]));
}
