/**
 * The anomaly block banner: the server refused a call with 429 account_temporarily_blocked (issue 18).
 * Says what happened, when it lifts (local time, from Retry-After), that running deploys continue,
 * and reloads the page once the block has lifted.
 */
import { h, replace } from './dom.js';

let reloadTimer = null;

export function showBlockBanner(el, err) {
  if (!el) return;
  const seconds = Math.max(1, Number(err.retryAfter) || 60);
  const liftsAt = new Date(Date.now() + seconds * 1000);
  // The first whole minute at or after it: a time cut to the minute (10:15:50 read "10:15") is before the lift.
  const time = new Date(Math.ceil(liftsAt.getTime() / 60_000) * 60_000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  const minutes = Math.ceil(seconds / 60);
  replace(el,
    h('div', { class: 'block-banner__inner' },
      h('p', { class: 'block-banner__text', 'data-testid': 'block-banner-title' },
        h('strong', null, 'Your account is temporarily blocked. '),
        `It lifts at ${time} (in ${minutes} minute${minutes === 1 ? '' : 's'}). Deploys already running continue.`),
      h('p', { class: 'block-banner__text', 'data-testid': 'block-banner-reason' }, err.message)));
  el.setAttribute('role', 'alert');
  el.dataset.liftsAt = liftsAt.toISOString();
  el.hidden = false;
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(() => location.reload(), seconds * 1000 + 1000);
}

/**
 * Takes the banner down and stops its reload: at a sign-out, so that the next person to sign in here is
 * not told their account is blocked (nor shown the reason, which is the previous user's).
 */
export function hideBlockBanner(el) {
  clearTimeout(reloadTimer);
  reloadTimer = null;
  if (!el) return;
  el.replaceChildren();
  el.removeAttribute('role');
  delete el.dataset.liftsAt;
  el.hidden = true;
}
