/**
 * Searchable repository picker: a search box over GET /api/github/repos (server-side `q`), results as
 * a list of toggle buttons (plain tab order, no custom keyboard model to get wrong), "Load more" pages.
 */
import { busy, focusLost, h, replace, uid } from './dom.js';
import { timeEl } from './format.js';

const PER_PAGE = 30;

export function createRepoPicker({ api, onSelect }) {
  const searchId = uid('repo-search');
  const listId = uid('repo-list');
  const search = h('input', {
    id: searchId, type: 'search', class: 'input', placeholder: 'Filter by name', autocomplete: 'off', spellcheck: 'false',
    'aria-controls': listId, 'aria-describedby': `${searchId}-status`, 'data-testid': 'repo-search',
  });
  const status = h('p', { id: `${searchId}-status`, class: 'field__hint', role: 'status' }, 'Loading your repositories…');
  const list = h('ul', { id: listId, class: 'repo-list', 'aria-label': 'Repositories' });
  const more = h('button', { type: 'button', class: 'btn btn--secondary btn--small', hidden: true }, 'Load more repositories');
  const selectedBox = h('div', { class: 'repo-selected', hidden: true, 'data-testid': 'repo-selected' });
  const chooser = h('div', { class: 'repo-chooser' },
    h('label', { class: 'field__label', for: searchId }, 'Search your repositories'), search, status, list, more);
  const el = h('div', { class: 'repo-picker' }, selectedBox, chooser);

  let selected = null;
  let page = 1;
  let query = '';
  let seq = 0;
  let debounce = null;
  let count = 0;

  /** The search being answered now: Enter waits for it, so it lands on those results. */
  let loading = Promise.resolve();
  function load(opts) {
    loading = fetchPage(opts);
    return loading;
  }

  async function fetchPage({ append = false } = {}) {
    const mine = ++seq;
    // The page after the last one listed; counted as listed only once it is (a failed read is asked for again).
    const wanted = append ? page + 1 : 1;
    if (!append) { page = 1; count = 0; }
    status.textContent = 'Loading…';
    try {
      const res = await api.repos({ page: wanted, perPage: PER_PAGE, q: query });
      if (mine !== seq) return; // an older search answered late
      if (!append) {
        await pressReleased();
        if (mine !== seq) return;
      }
      page = wanted;
      const repos = res.repos ?? [];
      const items = append ? repos.map(option) : showOnly(repos);
      if (append) list.append(...items);
      count += repos.length;
      more.hidden = !res.hasMore;
      // The last page hid the focused "Load more": focus the first repository it brought, not <body>.
      if (append && more.hidden && focusLost()) items[0]?.querySelector('button')?.focus();
      status.textContent = count === 0
        ? (query ? `No repository matches “${query}”.` : 'No repositories found on your GitHub account.')
        : `${count} ${count === 1 ? 'repository' : 'repositories'}${res.hasMore ? ' (more available)' : ''}${query ? ` matching “${query}”` : ''}.`;
      // More was typed while this search was on its way: its search follows; meanwhile only what matches shows.
      if (search.value.trim() !== query) narrowToTyped();
    } catch (err) {
      if (mine !== seq) return;
      status.textContent = `Could not load repositories: ${err.message}`;
    }
  }

  /**
   * A press on the list (a primary pointer down on it) holds a search's answer until the press has ended,
   * after its click: a new answer may put other rows first, or draw the pressed one anew (pushed since), and
   * a press and release that land on different rows (or on a row removed and put back between them) make no
   * click, so a result pressed just then was not chosen, and nothing said so. `showOnly` keeps the rows it
   * can in place; this covers the rest. Pages appended by "Load more" go below and wait for nothing.
   */
  let pressed = null; // the answers waiting for the press to end
  let endPress = () => {};
  list.addEventListener('pointerdown', (down) => {
    // Not a right button's: its release goes to the context menu (Linux, macOS) and never comes here.
    if (pressed || !down.isPrimary || down.button !== 0) return;
    const waiting = [];
    let fallback = null;
    const end = () => {
      for (const [type, listener] of endings) window.removeEventListener(type, listener, true);
      window.removeEventListener('click', afterClick, true);
      clearTimeout(fallback);
      if (pressed !== waiting) return;
      pressed = null;
      endPress = () => {};
      for (const resume of waiting) resume();
    };
    const afterClick = () => setTimeout(end);
    // A mouse's click is dispatched in its release's own task; a tap's comes as an input event of its own
    // (in a probe, a timer set at the release ran before it 7–9 times in 20), or not at all.
    const released = (up) => {
      if (up.pointerId !== down.pointerId) return;
      window.addEventListener('click', afterClick, { capture: true, once: true });
      fallback = setTimeout(end, up.pointerType === 'mouse' ? 0 : 500);
    };
    // And presses that end without a release here: a touch taken for a scroll, a drag, the window left.
    const endings = [['pointerup', released], ['pointercancel', end], ['contextmenu', end], ['dragstart', end],
      ['blur', (e) => { if (e.target === window) end(); }]];
    for (const [type, listener] of endings) window.addEventListener(type, listener, true);
    pressed = waiting;
    endPress = end;
  });
  const pressReleased = () => (pressed ? new Promise((resolve) => pressed.push(resolve)) : Promise.resolve());

  /**
   * The list becomes `repos`, each row already shown kept in its place: a row removed from the page between
   * a press and its release loses the click (Chromium drops it), and a search answered in that moment drew
   * every row anew, so a result pressed just then was not chosen, and nothing said so.
   */
  function showOnly(repos) {
    const shown = new Map([...list.children].map((li) => [li.dataset.row, li]));
    const rows = repos.map((r) => shown.get(rowKey(r)) ?? option(r));
    const wanted = new Set(rows);
    for (const li of [...list.children]) if (!wanted.has(li)) li.remove();
    let at = list.firstElementChild;
    for (const li of rows) {
      li.hidden = false;
      if (li === at) at = at.nextElementSibling;
      else list.insertBefore(li, at); // a new row (or one out of order) goes in its place
    }
    return rows;
  }

  /** What a row shows of a repository, and what choosing it hands on: a row is kept only for the same. */
  const rowKey = (repo) => JSON.stringify([repo.fullName, Boolean(repo.private), repo.pushedAt ?? null, repo.defaultBranch ?? null]);

  function option(repo) {
    const isSelected = selected?.fullName === repo.fullName;
    const btn = h('button', { type: 'button', class: 'repo-option', 'aria-pressed': String(isSelected), dataset: { repo: repo.fullName }, 'data-testid': 'repo-option' },
      h('span', { class: 'repo-option__name mono' }, repo.fullName),
      h('span', { class: 'repo-option__meta' },
        repo.private ? h('span', { class: 'tag' }, 'private') : null,
        // A <time> the page keeps current (app.js): a row kept in place by a search still reads right.
        repo.pushedAt ? h('span', null, 'pushed ', timeEl(h, repo.pushedAt)) : null));
    btn.addEventListener('click', () => choose(repo));
    return h('li', { dataset: { row: rowKey(repo) } }, btn);
  }

  function choose(repo) {
    // Hiding the list drops focus to <body> when the chosen button had it (Enter or a click): keep it in the form.
    const hadFocus = chooser.contains(document.activeElement);
    selected = repo;
    const change = h('button', { type: 'button', class: 'btn btn--ghost btn--small', 'aria-label': `Change the repository (${repo.fullName} is chosen)`, 'data-testid': 'repo-change' }, 'Change');
    const keep = h('button', { type: 'button', class: 'btn btn--ghost btn--small', 'aria-label': `Keep ${repo.fullName}`, 'data-testid': 'repo-keep' }, 'Keep');
    // The chosen repository stays in view while another is searched for: the form below is still its
    // own, and Deploy deploys it until another is chosen.
    change.addEventListener('click', () => {
      chooser.hidden = false;
      change.replaceWith(keep);
      search.focus();
    });
    keep.addEventListener('click', () => {
      chooser.hidden = true;
      keep.replaceWith(change);
      change.focus();
    });
    replace(selectedBox,
      h('span', { class: 'repo-selected__label' }, 'Repository'),
      h('strong', { class: 'mono repo-selected__name' }, repo.fullName),
      repo.private ? h('span', { class: 'tag' }, 'private') : null,
      change);
    selectedBox.hidden = false;
    chooser.hidden = true;
    for (const b of list.querySelectorAll('.repo-option')) b.setAttribute('aria-pressed', String(b.dataset.repo === repo.fullName));
    if (hadFocus) change.focus();
    onSelect(repo);
  }

  /**
   * The list always matches the filter shown: while the typed text waits for its search (the debounce, the
   * answer), the results already listed that do not contain it are hidden at once, as the server's own
   * match would drop them (a case-insensitive substring of owner/name). Otherwise a result clicked in that
   * window, then "Change", showed every repository under the new filter until the search answered.
   */
  function narrowToTyped() {
    const needle = search.value.trim().toLowerCase();
    if (needle === query.toLowerCase()) {
      for (const li of list.children) li.hidden = false;
      return;
    }
    let shown = 0;
    for (const li of list.children) {
      li.hidden = !li.querySelector('.repo-option')?.dataset.repo.toLowerCase().includes(needle);
      if (!li.hidden) shown += 1;
    }
    // "Load more" pages the previous search's results, not this one's.
    more.hidden = true;
    status.textContent = `Searching for “${search.value.trim()}”…${shown ? '' : ' No repository listed so far matches.'}`;
  }

  search.addEventListener('input', () => {
    narrowToTyped();
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      query = search.value.trim();
      load();
    }, 250);
  });
  // Enter in the search box must not submit the deploy form: it moves to the first result of what was typed
  // (a search still waiting for its debounce runs now; otherwise its answer would replace the focused button).
  search.addEventListener('keydown', async (e) => {
    if (e.key !== 'Enter') return;
    e.preventDefault();
    if (search.value.trim() !== query) {
      clearTimeout(debounce);
      query = search.value.trim();
      load();
    }
    await loading;
    list.querySelector('.repo-option')?.focus();
  });
  // Held while its page is on its way: a second press asked for the page after it, whose answer was
  // listed while this one's was dropped as overtaken (a page of repositories never shown).
  more.addEventListener('click', () => busy(more, 'Loading…', () => load({ append: true })));

  load();
  return {
    el,
    get value() { return selected; },
    focus() { (chooser.hidden ? selectedBox.querySelector('button') : search)?.focus(); },
    dispose() { clearTimeout(debounce); seq += 1; endPress(); },
  };
}
