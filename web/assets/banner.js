/**
 * The sandbox banner: everything is simulated, and here is the demo Render key to paste. The release banner:
 * the app was updated since this page loaded.
 */
import { announce, h, replace } from './dom.js';

export function renderSandboxBanner(el, meta) {
  if (!meta?.sandbox) { el.hidden = true; return; }
  const key = meta.demo?.renderApiKey ?? '';
  const keyEl = h('code', { class: 'sandbox-banner__key', 'data-testid': 'demo-key' }, key);
  const copy = h('button', { type: 'button', class: 'btn btn--small btn--on-dark' }, 'Copy key');
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(key);
      copy.textContent = 'Copied';
    } catch {
      // No clipboard access (e.g. permissions): select the text so Ctrl+C works.
      const range = document.createRange();
      range.selectNodeContents(keyEl);
      const sel = getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      copy.textContent = 'Selected: press Ctrl+C';
    }
    setTimeout(() => { copy.textContent = 'Copy key'; }, 2500);
  });
  replace(el,
    h('div', { class: 'sandbox-banner__inner' },
      h('p', { class: 'sandbox-banner__text' },
        h('strong', null, 'Sandbox mode. '),
        'GitHub and Render are simulated on this machine; nothing is deployed for real.',
        meta.demo?.login ? [' You sign in as ', h('span', { class: 'nowrap' }, `“${meta.demo.login}”`), '.'] : ''),
      key ? h('p', { class: 'sandbox-banner__text' }, 'Demo Render key: ', keyEl, ' ', copy) : null));
  el.setAttribute('role', 'region');
  el.setAttribute('aria-label', 'Sandbox mode');
  el.hidden = false;
}

/**
 * A deploy of this app since the page loaded (an API answer named another UI release, web/assets/api.js):
 * the tab still runs the modules it loaded, which may no longer fit the server's API. Says so once, with a
 * reload; never reloads by itself (a form being filled in would be lost).
 */
export function showReleaseBanner(el) {
  if (!el || !el.hidden) return;
  const reload = h('button', { type: 'button', class: 'btn btn--small btn--on-dark', 'data-testid': 'release-reload' }, 'Reload');
  reload.addEventListener('click', () => location.reload());
  replace(el,
    h('div', { class: 'release-banner__inner' },
      h('p', { class: 'release-banner__text' },
        h('strong', null, 'Render Deployer has been updated. '),
        'Reload this page to use the new version. ', reload)));
  el.setAttribute('role', 'status');
  // Named, as the sandbox banner is: found again from a screen reader's list of the page's parts.
  el.setAttribute('aria-label', 'App updated');
  el.hidden = false;
  // Shown with its text and role at once, the banner is a live region that appeared, not one that changed:
  // screen readers do not reliably read it out. The page's announcer (there since load) says it, once.
  announce('Render Deployer has been updated. Reload this page to use the new version: the Reload button is at the top of the page.');
}
