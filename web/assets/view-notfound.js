import { h } from './dom.js';

export function notFoundView() {
  return {
    title: 'Not found',
    el: h('section', { class: 'page' },
      h('h1', { tabindex: '-1' }, 'Page not found'),
      h('p', null, 'There is nothing at this address. ', h('a', { href: '#/' }, 'Go to the dashboard'), '.')),
  };
}
