/**
 * DOM building without HTML strings: every piece of data becomes a text node or a property,
 * so a repo, branch or variable name can never turn into markup.
 */

/**
 * h('button', { class: 'btn', onclick: fn, 'aria-label': 'x' }, 'text', child)
 * Props: class, text, dataset, on<event> (functions), value/checked/selected (properties), anything else
 * as an attribute (true → empty attribute; null/false/undefined → left out).
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  const late = {};
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = String(value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'value' || key === 'checked' || key === 'selected') late[key] = value;
    else if (key === 'href' || key === 'src') {
      const safe = safeUrl(value);
      if (safe) el.setAttribute(key, safe);
    } else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  // After children, so a <select>'s options exist when its value is set.
  for (const [key, value] of Object.entries(late)) el[key] = value;
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replace an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/**
 * Only http(s) and same-origin paths/hashes may become links or image sources: a URL from an API
 * response (a service URL, a dashboard link) can never be javascript: or data:.
 */
export function safeUrl(value) {
  const s = String(value);
  if (s.startsWith('#') || (s.startsWith('/') && !s.startsWith('//'))) return s;
  try {
    const u = new URL(s);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : null;
  } catch {
    return null;
  }
}

let idCounter = 0;
/** A unique id for label/aria wiring. */
export function uid(prefix = 'id') {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

let announceTimer = null;
/** Screen reader announcement through the page's polite live region. */
export function announce(message) {
  const region = document.getElementById('announcer');
  if (!region) return;
  // Clear first so repeating the same text is still announced.
  region.textContent = '';
  clearTimeout(announceTimer);
  announceTimer = setTimeout(() => { region.textContent = message; }, 30);
}

/** Empties the live region, and drops an announcement on its way (a sign-out: it was the previous user's). */
export function clearAnnouncement() {
  clearTimeout(announceTimer);
  announceTimer = null;
  const region = document.getElementById('announcer');
  if (region) region.textContent = '';
}

/** A labelled form field: label, control (+ addon button), optional hint and error slot, wired with aria-describedby. */
export function field({ label, control, hint, addon = null, id = uid('field') }) {
  control.id = id;
  const hintEl = hint ? h('p', { class: 'field__hint', id: `${id}-hint` }, hint) : null;
  const errorEl = h('p', { class: 'field__error', id: `${id}-error`, hidden: true });
  const describedBy = [hintEl ? hintEl.id : null, errorEl.id].filter(Boolean).join(' ');
  control.setAttribute('aria-describedby', describedBy);
  const body = addon ? h('div', { class: 'input-group' }, control, addon) : control;
  const wrap = h('div', { class: 'field' }, h('label', { class: 'field__label', for: id }, label), body, hintEl, errorEl);
  return {
    el: wrap,
    control,
    setError(message) {
      if (message) {
        errorEl.textContent = message;
        errorEl.hidden = false;
        control.setAttribute('aria-invalid', 'true');
      } else {
        errorEl.textContent = '';
        errorEl.hidden = true;
        control.removeAttribute('aria-invalid');
      }
    },
  };
}

/** An alert box (role=alert so it is read out when it appears). */
export function notice(kind, ...children) {
  return h('div', { class: `notice notice--${kind}`, role: kind === 'error' ? 'alert' : 'status' }, ...children);
}

/**
 * A button that asks for confirmation inline (no window.confirm): the first press shows
 * "Confirm" and "Keep" buttons; "Confirm" runs the action. An open question is kept when its list is
 * drawn again (keepOpen).
 */
/** `question`: text, or nodes with names from elsewhere each in a <bdi> (so a name's direction marks stay in it). */
export function confirmButton({ label, name = null, question, confirmLabel = label, danger = false, small = false, onConfirm, testId }) {
  const size = small ? ' btn--small' : '';
  const wrap = h('span', { class: 'confirm' });
  // `name`: the accessible name, when `label` alone does not say what it acts on (one per row of a list).
  const start = h('button', { type: 'button', class: `btn ${danger ? 'btn--danger-outline' : 'btn--secondary'}${size}`, 'aria-label': name, 'data-testid': testId }, label);
  const showStart = () => { setOpen(wrap, null); replace(wrap, start); start.focus(); };
  const ask = (focus) => {
    const yes = h('button', { type: 'button', class: `btn ${danger ? 'btn--danger' : 'btn--primary'}${size}`, 'data-testid': testId ? `${testId}-confirm` : null }, confirmLabel);
    const no = h('button', { type: 'button', class: `btn btn--ghost${size}`, 'data-testid': testId ? `${testId}-keep` : null }, 'Keep');
    yes.addEventListener('click', async () => {
      // Answered: a redraw meanwhile does not ask again.
      setOpen(wrap, null);
      yes.disabled = true;
      no.disabled = true;
      try { await onConfirm(); } finally { if (wrap.isConnected) showStart(); }
    });
    no.addEventListener('click', showStart);
    replace(wrap, h('span', { class: 'confirm__question' }, question), yes, no);
    setOpen(wrap, {});
    // A destructive question starts on Keep: with the focus on its confirm button, Enter pressed twice
    // (or held) on Delete deleted the service on Render without a look at the question.
    if (focus) (danger ? no : yes).focus();
  };
  // Escape answers Keep, as it closes any question.
  wrap.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape' || !wrap.hasAttribute('data-open')) return;
    e.preventDefault();
    showStart();
  });
  start.addEventListener('click', () => ask(true));
  wrap.append(start);
  // Asked again without moving focus: keepFocus, around the redraw, puts it back where it was.
  return openable(wrap, testId ?? label, () => ask(false));
}

/** How to open each openable control again (keepOpen), and the state of those open now. */
const openers = new WeakMap();
const openStates = new WeakMap();

/**
 * Marks `el`, a control of a list's item, as one the user opens (a confirmation, a value shown), under
 * `name` (unique in its item): `open(state)` opens it with the state its predecessor had (setOpen).
 */
export function openable(el, name, open) {
  el.dataset.openable = name;
  openers.set(el, open);
  return el;
}

/** Says an openable control is open (with what its counterpart needs to open the same way), or closed (null). */
export function setOpen(el, state) {
  if (state === null) { openStates.delete(el); el.removeAttribute('data-open'); return; }
  openStates.set(el, state);
  el.dataset.open = '';
}

/**
 * Draws a list again (read again for a change, perhaps made in another tab) keeping what the user opened
 * in it: each open control's counterpart in the same item (`keyOf` an element, found again by `itemOf`),
 * if the item is still there, is opened again. `redraw` is synchronous, so nothing the user does falls
 * between what is seen open and what is drawn.
 */
export function keepOpen({ area, keyOf, itemOf }, redraw) {
  const held = [...area.querySelectorAll('[data-open]')].map((el) => ({ key: keyOf(el), name: el.dataset.openable, state: openStates.get(el) }));
  const result = redraw();
  for (const { key, name, state } of held) {
    const twin = key != null ? itemOf(key)?.querySelector(`[data-openable="${CSS.escape(name)}"]`) : null;
    if (twin && !twin.hasAttribute('data-open')) openers.get(twin)?.(state);
  }
  return result;
}

/** Whether focus fell to <body> (its element was removed or disabled): the caller puts it back somewhere useful. */
export const focusLost = () => document.activeElement === document.body || !document.activeElement;

/**
 * Overlapping reads of one thing (a list read again after each change, here or in another tab): only the
 * latest one's answer is drawn, as two can answer in either order and the one started last has every change
 * made before it. `read(current)` draws only while `current()` after its await; a call it overtook resolves
 * with the latest call's result.
 */
export function latestOnly(read) {
  let reads = 0;
  let latest = null;
  return () => {
    const n = ++reads;
    const current = () => n === reads;
    latest = read(current).then((result) => (current() ? result : latest));
    return latest;
  };
}

/**
 * A list read again reads as far as it was paged and a page more, but at most 100 rows (the API's page):
 * rows "Load older…" brought past them would be dropped. The rows listed after the reloaded page's last
 * one (`key`: the rows' data-* id) stay, after it; empty when that row was not listed (more than a page
 * is new) or nothing follows it. The caller keeps its old next-page cursor when this returns any.
 */
export function rowsPast(list, rows, key) {
  const lastId = rows.at(-1)?.dataset[key];
  if (lastId === undefined) return [];
  const reloaded = new Set(rows.map((row) => row.dataset[key]));
  const last = [...list.children].find((row) => row.dataset[key] === lastId);
  const tail = [];
  for (let row = last?.nextElementSibling; row; row = row.nextElementSibling) if (!reloaded.has(row.dataset[key])) tail.push(row);
  return tail;
}

/**
 * After a "Load older…" page that hid its focused button (the last page; busy() had dropped focus to
 * <body> while it loaded): focus the first row that page brought — its link or button, else the row
 * itself — so a keyboard user goes on reading from there, not from the top of the page.
 */
export function focusFirstRow(row) {
  if (!row || !focusLost()) return;
  const target = row.querySelector('a[href], button:not([disabled])') ?? row;
  if (target === row && !row.hasAttribute('tabindex')) row.tabIndex = -1;
  target.focus();
}

/**
 * Redraws part of a page for a change made elsewhere (another tab), without moving focus that is not in
 * it. Focus that was in `area` and fell to <body> with the redraw goes back to the same control (its
 * data-testid; for a confirmation the redraw closed, the button that opened it; else `alternatives[testid]`, the
 * control that took its place, as Resume after Suspend) of the same item (`keyOf` the focused element,
 * found again by `itemOf`), else the item's first control, else `fallback`.
 */
export async function keepFocus({ area, fallback, keyOf, itemOf, alternatives = {} }, redraw) {
  const active = document.activeElement;
  const held = active && active !== document.body && area.contains(active) ? { key: keyOf(active), testId: active.dataset?.testid ?? null } : null;
  const result = await redraw();
  if (held && focusLost()) {
    const item = held.key != null ? itemOf(held.key) : null;
    const find = (testId) => (item && testId ? item.querySelector(`[data-testid="${CSS.escape(testId)}"]`) : null);
    const control = find(held.testId) ?? find(held.testId?.replace(/-(confirm|keep)$/, '')) ?? find(alternatives[held.testId]);
    (control ?? item?.querySelector('button, a[href], input, select') ?? fallback)?.focus();
  }
  return result;
}

/** Runs an async action from a button: disables it meanwhile and shows a busy label. */
export async function busy(button, busyLabel, action) {
  const label = button.textContent;
  const hadFocus = document.activeElement === button;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.textContent = busyLabel;
  try {
    return await action();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    button.textContent = label;
    // Disabling the pressed button dropped focus to <body>: a keyboard user would start again from the
    // top of the page. Give it back, unless the action moved focus on purpose (a field with an error).
    if (hadFocus && button.isConnected && focusLost()) button.focus();
  }
}

/**
 * A Show/Hide button for a masked field (secret values stay masked until asked for): a password input, or
 * a secret value's textarea (secret-value.js), masked by its class.
 */
export function revealToggle(input, label = 'Show value') {
  const btn = h('button', { type: 'button', class: 'btn btn--ghost btn--small reveal', 'aria-pressed': 'false', 'aria-label': label }, 'Show');
  btn.addEventListener('click', () => {
    const textarea = input.tagName === 'TEXTAREA';
    const show = textarea ? input.classList.contains('input--masked') : input.type === 'password';
    if (textarea) input.classList.toggle('input--masked', !show);
    else input.type = show ? 'text' : 'password';
    btn.setAttribute('aria-pressed', String(show));
    btn.textContent = show ? 'Hide' : 'Show';
  });
  return btn;
}
