/**
 * A service's lifecycle buttons (Redeploy, Suspend / Resume, Delete), shared by the dashboard's service
 * cards and the service settings page, so that both say and do the same.
 */
import { noAnswer } from './api.js';
import { busy, confirmButton, focusLost, h, notice, replace } from './dom.js';

/** The button offered after an action in place of the one pressed (by its data-testid): Resume after Suspend. */
export const IN_PLACE_OF = { 'service-suspend': 'service-resume', 'service-resume': 'service-suspend' };

/**
 * Actions on their way, by service id: the pressed buttons' test ids, and the buttons drawn meanwhile.
 * A page draws a service again while its action is out (another tab's change, the action's own event):
 * the new buttons are drawn held (the pressed one busy) until it ends, or a second press would send a
 * second suspend. Module-wide: the dashboard and the settings page hold the same service's buttons.
 */
const pending = new Map();

/** Draws `b` held when an action of service `id` is out (busy when it is that action's); released when the last ends. */
function holdIfPending(id, testId, busyLabel, b) {
  const out = pending.get(id);
  if (!out) return b;
  const label = b.textContent;
  b.disabled = true;
  if (out.pressed.includes(testId)) { b.setAttribute('aria-busy', 'true'); b.textContent = busyLabel; }
  out.held.push(() => { b.disabled = false; b.removeAttribute('aria-busy'); b.textContent = label; });
  return b;
}

async function whilePending(id, testId, fn) {
  const out = pending.get(id) ?? { pressed: [], held: [] };
  pending.set(id, out);
  out.pressed.push(testId);
  try {
    return await fn();
  } finally {
    out.pressed.splice(out.pressed.indexOf(testId), 1);
    if (!out.pressed.length) {
      pending.delete(id);
      for (const release of out.held) release();
    }
  }
}

/**
 * @param {object} o
 * @param {object} o.ctx
 * @param {{ id: string, name: string }} o.service
 * @param {HTMLElement} o.flash           where a failure is said
 * @param {() => Promise<unknown>} o.reload  draws the service again after a change (its buttons with it)
 * @param {(testId: string) => HTMLElement|null} o.find  a control of the service as drawn now
 * @param {HTMLElement} o.fallback        focused when the pressed button is gone with no counterpart (a delete)
 * @param {() => boolean} o.disposed
 */
export function serviceActions({ ctx, service: s, flash, reload, find, fallback, disposed }) {
  const run = async (label, testId, fn) => {
    replace(flash);
    try {
      // Held while out: ended (either way) before the service is drawn again below.
      const result = await whilePending(s.id, testId, fn);
      if (result && typeof result.id === 'string' && typeof result.status === 'string') {
        ctx.navigate(`#/deployments/${result.id}`);
        return;
      }
      ctx.announce(`${s.name}: ${label} done`);
      if (!disposed()) await reload();
      // Drawn again without the pressed button: focus its counterpart (Resume after Suspend), or the
      // fallback when the service is gone.
      if (!disposed() && focusLost()) ((IN_PLACE_OF[testId] ? find(IN_PLACE_OF[testId]) : null) ?? fallback)?.focus();
    } catch (err) {
      // No answer is not a failure: the server may have started it (pressing again opens that one).
      const said = noAnswer(err) ? `${label}: ${err.message}` : `${label} failed: ${err.message}`;
      replace(flash, notice('error', said));
      // Gone from Render (deleted elsewhere, no event heard here): drawn again, the page says so.
      if (err.status === 404 && !disposed()) {
        await reload();
        // The notice went with the redraw (a dashboard card, gone or drawn anew): said, and focus on the
        // pressed button's counterpart, else the fallback, not <body>.
        if (!disposed() && !flash.isConnected) {
          ctx.announce(said);
          if (focusLost()) (find(testId) ?? fallback)?.focus();
        }
      }
    }
  };
  const button = (label, busyLabel, action, testId) => {
    const b = h('button', { type: 'button', class: 'btn btn--secondary btn--small', 'data-testid': testId }, label);
    b.addEventListener('click', () => busy(b, busyLabel, () => run(label, testId, () => ctx.api.serviceAction(s.id, action))));
    return holdIfPending(s.id, testId, busyLabel, b);
  };
  return {
    redeploy: () => button('Redeploy', 'Starting…', 'redeploy', 'service-redeploy'),
    /** Suspend, or Resume for a suspended service. */
    suspendOrResume: (suspended) => (suspended
      ? button('Resume', 'Resuming…', 'resume', 'service-resume')
      : button('Suspend', 'Suspending…', 'suspend', 'service-suspend')),
    delete: () => {
      const wrap = confirmButton({
        // The name from Render in a <bdi>: a right-to-left override in it (a teammate can rename a service) reversed the rest of the question.
        label: 'Delete', question: ['Delete ', h('bdi', null, s.name), ' on Render? This cannot be undone.'], confirmLabel: 'Delete service', danger: true, small: true,
        testId: 'service-delete', onConfirm: () => run('Delete', 'service-delete', () => ctx.api.deleteService(s.id)),
      });
      const start = wrap.querySelector('button');
      if (start) holdIfPending(s.id, 'service-delete', 'Deleting…', start);
      return wrap;
    },
  };
}
