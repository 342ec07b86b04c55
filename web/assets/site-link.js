/**
 * A service's own address, as the dashboard's card, the settings page and a deployment's page offer it.
 * Render names a private service's address as host:port (nginx-docker:10000), reachable only from the
 * workspace's other services: not a URL a browser can open. h() leaves such an href out (safeUrl), so it
 * was drawn as a link that did nothing; it is said as text instead, marked as internal.
 */
import { h, safeUrl } from './dom.js';

/** A link that opens `url` in a new tab, the internal address as text, or null when there is no address. */
export function siteLink(url, label) {
  if (!url) return null;
  if (safeUrl(url)) return h('a', { href: url, rel: 'noopener noreferrer', target: '_blank' }, label, h('span', { class: 'visually-hidden' }, ' (new tab)'));
  return h('span', { class: 'muted', 'data-testid': 'internal-address' }, 'Internal address: ', h('span', { class: 'mono' }, String(url)));
}
