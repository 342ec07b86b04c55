/** Settings: connect, replace or clear the Render API key; the signed-in account; sign out. */
import { ApiError } from './api.js';
import { busy, confirmButton, field, focusLost, h, keepFocus, notice, replace, revealToggle, uid } from './dom.js';
import { formatTime } from './format.js';

export function settingsView(ctx) {
  const keySection = h('section', { class: 'card', 'aria-labelledby': 'render-key-heading', 'data-testid': 'render-key-section' });
  const flash = h('div', { class: 'flash' });

  const ownersList = h('ul', { class: 'plain-list', 'data-testid': 'key-owners' });
  let shownRejected = false;
  function drawOwners() {
    replace(ownersList, (ctx.session.render?.owners ?? []).map((o) =>
      h('li', null, h('bdi', null, o.name), h('span', { class: 'muted' }, ` · ${o.type === 'user' ? 'personal' : 'team'} · ${o.id}`))));
  }

  function drawStatus() {
    const r = ctx.session.render;
    if (!r?.configured) { drawForm(); return; }
    drawOwners();
    // Render refused the key on a call made with it (revoked on Render's side): it is still held, but useless.
    const rejected = Boolean(r.rejectedAt);
    shownRejected = rejected;
    const replaceBtn = h('button', { type: 'button', class: `btn ${rejected ? 'btn--primary' : 'btn--secondary'}`, 'data-testid': 'replace-key' }, rejected ? 'Connect a new key' : 'Replace key');
    replaceBtn.addEventListener('click', () => drawForm({ replacing: true }));
    const clear = confirmButton({
      label: 'Clear credentials',
      question: 'Remove the key? Your queued and running deploys stop.',
      confirmLabel: 'Clear key',
      danger: true,
      testId: 'clear-key',
      onConfirm: async () => {
        try {
          await ctx.api.clearRenderKey();
          // No session (signed out, or another user's: the page starts afresh): nothing of this page to draw.
          if (!(await ctx.refreshSession())) return;
          replace(flash, notice('success', 'Your Render API key was removed from this session. Deploys that were still running have been stopped.'));
          ctx.announce('Render key removed');
          drawForm();
          // The pressed button is gone with the key: the form asking for one comes next.
          keySection.querySelector('input')?.focus();
        } catch (err) {
          replace(flash, notice('error', err.message));
        }
      },
    });
    setFormMode = null;
    replace(keySection,
      h('h2', { id: 'render-key-heading', tabindex: '-1' }, 'Render API key'),
      rejected
        ? h('div', { 'data-testid': 'key-status', 'data-state': 'rejected' }, notice('error',
          h('strong', null, 'Render rejected this key (revoked?) — connect a new key. '),
          'Key ', h('code', null, r.keyHint ?? 'rnd_…'), ` was refused by Render ${formatTime(r.rejectedAt)}: nothing can be read or deployed with it.`))
        : h('p', { class: 'key-status', 'data-testid': 'key-status', 'data-state': 'connected' },
          h('span', { class: 'ok-mark', 'aria-hidden': 'true' }, '✓ '),
          'Connected: ', h('code', null, r.keyHint ?? 'rnd_…'),
          r.verifiedAt ? h('span', { class: 'muted' }, ` · verified ${formatTime(r.verifiedAt)}`) : null),
      h('h3', null, 'Workspaces this key can deploy to'),
      ownersList,
      // The session keeps the list Render gave when the key was connected; this page asks Render again as it opens.
      h('p', { class: 'muted', 'data-testid': 'key-owners-note' },
        'As Render lists them: asked again each time this page or the deploy form opens.'),
      h('div', { class: 'actions' },
        rejected ? null : h('a', { class: 'btn btn--primary', href: '#/deploy' }, 'Deploy a repository'),
        replaceBtn, clear));
  }

  /**
   * While the key form is shown: makes it connect a key or replace the one connected (the session's key
   * changed in another tab), leaving what is typed in it, and focus, as they are.
   */
  let setFormMode = null;

  function drawForm({ replacing = false } = {}) {
    const input = h('input', {
      type: 'password', name: 'render_api_key', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off',
      placeholder: 'rnd_…', class: 'input input--mono', required: true, 'data-testid': 'render-key-input',
    });
    const toggle = revealToggle(input, 'Show key');
    const keyField = field({
      label: 'Render API key',
      control: input,
      addon: toggle,
      hint: 'Create one in the Render Dashboard under Account Settings → API Keys. We check it with Render, keep it encrypted in your session only, and never show it again.',
    });
    const submit = h('button', { type: 'submit', class: 'btn btn--primary', 'data-testid': 'render-key-submit' }, 'Connect key');
    const demo = ctx.meta.sandbox && ctx.meta.demo?.renderApiKey
      ? h('button', { type: 'button', class: 'btn btn--secondary', 'data-testid': 'use-demo-key' }, 'Use the demo key')
      : null;
    demo?.addEventListener('click', () => { input.value = ctx.meta.demo.renderApiKey; input.focus(); });
    const cancel = h('button', { type: 'button', class: 'btn btn--ghost', hidden: !replacing }, 'Cancel');
    cancel.addEventListener('click', () => {
      drawStatus();
      // Back where the replacing started, not on <body> (the pressed Cancel is gone).
      keySection.querySelector('[data-testid=replace-key]')?.focus();
    });

    const form = h('form', { class: 'form', novalidate: true, 'aria-labelledby': 'render-key-heading' },
      h('div', { class: 'input-row' }, keyField.el),
      h('div', { class: 'actions' }, submit, demo, cancel));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const key = input.value.trim();
      if (!key) { keyField.setError('Paste your Render API key first.'); input.focus(); return; }
      keyField.setError(null);
      replace(flash);
      try {
        await busy(submit, 'Checking with Render…', () => ctx.api.setupRenderKey(key));
      } catch (err) {
        // The key stays in the field (masked) so a typo can be fixed rather than pasted again.
        const aboutTheKey = err instanceof ApiError && (err.code === 'render_key_invalid' || err.code === 'validation_failed');
        keyField.setError(aboutTheKey ? err.message : `The key was not saved: ${err.message}`);
        input.focus();
        input.select();
        return;
      }
      input.value = '';
      if (!(await ctx.refreshSession())) return;
      replace(flash, notice('success', 'Render API key connected. You can deploy now.'));
      ctx.announce('Render key connected');
      drawStatus();
      // The form is gone: focus the section that now says the key is connected, not <body>.
      if (focusLost()) keySection.querySelector('h2')?.focus();
    });
    const heading = h('h2', { id: 'render-key-heading' });
    const intro = h('p', null, 'Deploys run on your own Render account, with your own key.');
    setFormMode = (replacingNow) => {
      heading.textContent = replacingNow ? 'Replace your Render API key' : 'Connect your Render API key';
      intro.hidden = Boolean(ctx.session.render?.configured);
      cancel.hidden = !replacingNow;
    };
    setFormMode(replacing);
    replace(keySection, heading, intro, form);
    if (replacing) input.focus();
  }

  const signOut = h('button', { type: 'button', class: 'btn btn--secondary' }, 'Sign out');
  signOut.addEventListener('click', () => busy(signOut, 'Signing out…', () => ctx.signOut()).catch((err) => replace(flash, notice('error', err.message))));
  const user = ctx.session.user;
  const accountId = uid('account');
  const el = h('section', { class: 'page' },
    h('h1', { tabindex: '-1' }, 'Settings'),
    flash,
    keySection,
    h('section', { class: 'card', 'aria-labelledby': accountId },
      h('h2', { id: accountId }, 'GitHub account'),
      h('p', null, 'Signed in as ', h('strong', null, user.login), user.name ? h('span', { class: 'muted' }, ` (${user.name})`) : null, '.'),
      h('div', { class: 'actions' }, signOut)));
  drawStatus();
  // Render's list of the key's workspaces now (the session's is from when it was connected): only the list
  // is drawn again, so nothing the user is on (focus, a confirm open) moves.
  void ctx.refreshWorkspaces().then((changed) => { if (changed && !setFormMode) drawOwners(); });
  /**
   * The status drawn again for a change made in another tab: focus on one of its controls (Replace key, now
   * "Connect a new key") went with it to <body>, and a keyboard user started again from the top of the page.
   * It goes back to the same control, else the section's first one.
   */
  const redrawStatus = () => keepFocus({ area: keySection, fallback: null, keyOf: () => 'key', itemOf: () => keySection }, drawStatus);
  /**
   * The key was cleared or replaced in another tab: the key section follows (this tab's notices stay). A
   * key typed here and not yet sent stays, with focus: drawing the form again lost it (focus fell to
   * <body>); the form now connects a key or replaces the one connected, as the session has it.
   */
  function onSessionChanged({ workspacesOnly = false } = {}) {
    // The same key (its workspaces refreshed, or Render's refusal of it noted, in another tab): the status
    // follows while it is shown; a form being filled in is left alone, and drawn right when it closes.
    if (workspacesOnly) {
      if (!setFormMode) { if (Boolean(ctx.session.render?.rejectedAt) === shownRejected) drawOwners(); else redrawStatus(); }
      return;
    }
    const typed = keySection.querySelector('[data-testid=render-key-input]');
    if (!setFormMode || !typed?.value) { redrawStatus(); return; }
    const configured = Boolean(ctx.session.render?.configured);
    setFormMode(configured);
    replace(flash, notice('info', configured
      ? `The Render key was changed in another tab: ${ctx.session.render.keyHint ?? 'another key'} is connected now. The key typed below is not used until you connect it.`
      : 'The Render key was removed in another tab. The key typed below is not used until you connect it.'));
  }
  return { title: 'Settings', el, onSessionChanged };
}
