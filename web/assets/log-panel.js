/**
 * A deployment's log panel: the newest page of its own lines (build and deploy, then runtime once it
 * went live), "Load earlier lines" for older pages, new lines pushed over the live stream
 * (GET /api/events?logs=<id>: one poller per deployment on the server, however many tabs), and a
 * download of the whole log as text. Render's rate limit slows it down; it never shows as an error.
 */
import { ApiError } from './api.js';
import { focusLost, h, replace } from './dom.js';
import { formatClock, timeSortKey } from './format.js';

const PAGE = 100;
/** Without the live stream (polling mode), the newest page is re-read this often. */
const FALLBACK_POLL_MS = 10_000;
const FINAL_READ_MS = 1_500;
/**
 * Older pages a catch-up reads back at most (2,000 lines): each is one of the key's log reads, which Render
 * limits to a few dozen a minute for all its clients. Past that, "Load earlier lines" goes on on demand.
 */
const MAX_CATCH_UP_PAGES = 20;
const PHASE_ORDER = { build: 0, runtime: 1 };
const PHASE_TITLE = { build: 'Build and deploy', runtime: 'Runtime · after the deploy went live' };

export function createLogPanel(ctx, id) {
  const byId = new Map();
  let sorted = [];
  let nextCursor = null;
  let loadedOnce = false;
  let finished = false;
  let disposed = false;
  let pollTimer = null;
  /** Retries after a 429, one per kind of read: a paced "Load earlier" does not cancel the catch-up's. */
  const retryTimers = { newest: null, earlier: null };
  let loadingNewest = false;
  let loadingEarlier = false;
  let sawRunning = false;
  let finalRead = false;
  let finalTimer = null;
  /** Set when the server's tail learned that Render no longer has the deploy (its service was deleted). */
  let goneNote = null;
  /**
   * The deploy is in a workspace the connected key does not see (the key was replaced by another
   * account's), and Render answered 404: that says nothing of a deletion, and reading again cannot help.
   */
  let otherKey = false;
  let missing = false;
  /** Render answered 404 for the logs before any line was read, and not for another key: the service was deleted. */
  let deletedUnread = false;
  const DELETED_UNREAD = 'No logs: the service was deleted on Render, and its logs with it.';
  const OTHER_KEY = 'No logs: this deploy was made with another Render key, and the key connected now cannot see its service. Connect that key (Settings) to read them.';
  const keyNote = () => (otherKey && missing ? OTHER_KEY : null);

  const status = h('p', { class: 'muted logs__status', role: 'status', 'data-testid': 'logs-status' }, 'Loading logs…');
  const download = h('a', {
    class: 'btn btn--secondary btn--small', href: `/api/render/deployments/${encodeURIComponent(id)}/logs.txt`,
    download: `deployment-${id}.log.txt`, 'data-testid': 'logs-download',
  }, 'Download .txt');
  const earlier = h('button', { type: 'button', class: 'btn btn--ghost btn--small logs__earlier', 'data-testid': 'logs-earlier', hidden: true }, 'Load earlier lines');
  const box = h('div', { class: 'logs', role: 'log', 'aria-live': 'off', 'aria-label': 'Deployment logs', tabindex: '0', 'data-testid': 'logs' });
  const el = h('section', { class: 'card', 'aria-labelledby': 'logs-heading' },
    h('div', { class: 'card__head' }, h('h2', { id: 'logs-heading' }, 'Logs'), h('div', { class: 'logs__tools' }, status, download)),
    earlier,
    box);

  earlier.addEventListener('click', () => void loadEarlier());

  const key = (l) => `${PHASE_ORDER[l.phase] ?? 0}|${timeSortKey(l.timestamp)}|${l.id}`;
  /** The sort key of each line held (by id), worked out once: a sort compared 2,000 lines' keys ~44,000 times. */
  const keys = new Map();
  const byKey = (a, b) => (keys.get(a.id) < keys.get(b.id) ? -1 : keys.get(a.id) > keys.get(b.id) ? 1 : 0);
  /** The phases among the lines drawn (a heading per phase once there are two). */
  let phasesDrawn = new Set();

  /**
   * Adds lines (deduplicated by id) and draws them, keeping the reader's place. Lines after the last one
   * shown, of phases already shown (the live stream's, nearly always), are appended; anything else draws
   * the panel again. Drawn again on every event, a 2,000-line build's live lines made the browser build
   * all the lines shown for each batch that came.
   */
  function merge(lines, { prepend = false } = {}) {
    const fresh = [];
    for (const l of lines) {
      if (!l || typeof l.id !== 'string' || byId.has(l.id)) continue;
      byId.set(l.id, l);
      keys.set(l.id, key(l));
      fresh.push(l);
    }
    if (!fresh.length) return;
    fresh.sort(byKey);
    const last = sorted.at(-1);
    const appended = last !== undefined && keys.get(fresh[0].id) > keys.get(last.id) && fresh.every((l) => phasesDrawn.has(l.phase));
    const fromBottom = box.scrollHeight - box.scrollTop;
    const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    if (appended) {
      box.append(linesFragment(fresh, last.phase));
      sorted.push(...fresh);
      drawStatus();
    } else {
      sorted = mergeSorted(sorted, fresh);
      draw();
    }
    if (prepend) box.scrollTop = box.scrollHeight - fromBottom;
    else if (nearBottom) box.scrollTop = box.scrollHeight;
  }

  /** Two lists in key order as one. */
  function mergeSorted(a, b) {
    const out = [];
    let i = 0;
    let j = 0;
    while (i < a.length && j < b.length) out.push(byKey(a[i], b[j]) <= 0 ? a[i++] : b[j++]);
    while (i < a.length) out.push(a[i++]);
    while (j < b.length) out.push(b[j++]);
    return out;
  }

  function draw() {
    phasesDrawn = new Set(sorted.map((l) => l.phase));
    box.replaceChildren(linesFragment(sorted, null));
    drawStatus();
  }

  /** `lines` as elements, after a line of phase `phase` (null: at the top). */
  function linesFragment(lines, phase) {
    const frag = document.createDocumentFragment();
    for (const l of lines) {
      // A heading where the phase changes, and on top when runtime lines are all there is so far.
      if (l.phase !== phase && (phasesDrawn.size > 1 || l.phase === 'runtime')) {
        frag.append(h('div', { class: `log-phase log-phase--${l.phase}`, 'data-testid': 'log-phase' }, PHASE_TITLE[l.phase] ?? l.phase));
      }
      phase = l.phase;
      const level = l.level === 'error' ? 'error' : l.level === 'warning' || l.level === 'warn' ? 'warn' : 'info';
      frag.append(h('div', { class: `log-line log-line--${level}`, 'data-testid': 'log-line', dataset: { phase: l.phase } },
        h('time', { class: 'log-line__time', datetime: l.timestamp }, formatClock(l.timestamp)),
        level === 'info' ? null : h('span', { class: 'log-line__level' }, level === 'error' ? 'ERROR' : 'WARN'),
        h('span', { class: 'log-line__msg' }, l.message)));
    }
    return frag;
  }

  function drawStatus(note = null) {
    const n = sorted.length;
    // The download is read from Render too: once it has lost the service (deleted), or the connected key
    // cannot see it, that read is a 404, so none is offered (a link that answered "Not found").
    download.hidden = Boolean(keyNote() || goneNote || deletedUnread);
    earlier.hidden = !nextCursor;
    if (keyNote()) { status.textContent = keyNote(); return; }
    // Standing notes, drawn again by every later redraw (the record's arrival, the stream's "gone"): said
    // once, the deletion found before any line was read was overwritten by "No logs were recorded for this
    // deploy." or by the stream's "no more lines will come". With no line ever read, it is the one said.
    const standing = deletedUnread ? DELETED_UNREAD : goneNote;
    if (note || standing) { status.textContent = note ?? standing; return; }
    if (!loadedOnce) { status.textContent = 'Loading logs…'; return; }
    const count = `${n.toLocaleString('en-US')} line${n === 1 ? '' : 's'}${nextCursor ? ' shown' : ''}`;
    if (finished) status.textContent = n ? count : 'No logs were recorded for this deploy.';
    else status.textContent = n ? `${count} · following new lines` : 'Waiting for logs…';
  }

  const paced = (err) => err instanceof ApiError && err.status === 429;
  /** A 429 (Render's limit or our share of it) is a reason to wait, not an error: for as long as it says. */
  function pacedFor(err) {
    const seconds = Math.min(60, Math.max(2, Number(err.retryAfter) || 5));
    drawStatus(`Render is pacing log reads; continuing in ${seconds} s…`);
    return seconds * 1000;
  }

  function failed(err, retry, slot) {
    if (disposed) return;
    if (paced(err)) {
      clearTimeout(retryTimers[slot]);
      retryTimers[slot] = setTimeout(() => { retryTimers[slot] = null; if (!disposed) void retry(); }, pacedFor(err));
      return;
    }
    if (err instanceof ApiError && err.code === 'render_key_missing') { drawStatus('Connect your Render key to read the logs.'); return; }
    // Render answers 404 for a deleted service's logs: say why instead of "Resource not found". With lines
    // already shown (read before the deletion), it is what the stream's "gone" says, which this panel may not
    // have heard (polling, or reconnecting when it went out once): the lines stay, and reading stops.
    if (err instanceof ApiError && err.status === 404) {
      missing = true;
      if (otherKey) { drawStatus(); return; }
      if (sorted.length === 0) { deletedUnread = true; drawStatus(); return; }
      serviceGone();
      return;
    }
    drawStatus(`Could not read the logs: ${err.message}`);
  }

  const newestKey = () => (sorted.length ? keys.get(sorted[sorted.length - 1].id) : null);

  /**
   * Lines after this key may be missing (the stream was away, or the server's tail began at its newest
   * page): the next read of the newest page reads back to it. A catch-up takes it when it starts; one
   * noted meanwhile is after the newest line shown then, so the next catch-up reads back only to that
   * (back to the first hole, it read every page again, and its let-go moved "Load earlier lines" back
   * under a click). A catch-up cut short (an error) gives its hole back, so the next goes on from it, not
   * from the newest line it had drawn.
   */
  let holeAfter = null;
  /** Asked for again while a read was running: the running one may have read before what it was asked for. */
  let readAgain = false;

  function noteHole() {
    const known = newestKey();
    if (known === null) return; // nothing shown: the newest page is read as on open
    holeAfter = older(holeAfter, known);
  }

  const older = (a, b) => (a === null || (b !== null && b < a) ? b : a);

  /**
   * The newest page: on open, after the live stream reconnects, and while polling without it. When
   * lines were already shown, older pages are read back until they meet the newest of them (or the
   * hole noted), so a burst while the stream was away (or before the server's tail started) leaves none.
   */
  async function loadNewest() {
    if (loadingNewest) { readAgain = true; return; }
    loadingNewest = true;
    let known = null;
    try {
      do {
        readAgain = false;
        known = loadedOnce ? (holeAfter ?? newestKey()) : null;
        holeAfter = null;
        const meets = (p) => (p.logs ?? []).some((l) => key(l) <= known);
        let page = await ctx.api.deploymentLogs(id, { limit: PAGE });
        if (disposed) return;
        if (!known) nextCursor = page.nextCursor ?? null;
        loadedOnce = true;
        merge(page.logs ?? []);
        const top = (page.logs ?? []).reduce((max, l) => (max === null || key(l) > max ? key(l) : max), null);
        for (let i = 0; known && page.nextCursor && i < MAX_CATCH_UP_PAGES && !meets(page); i++) {
          page = await olderPage(page.nextCursor);
          if (disposed) return;
          merge(page.logs ?? []);
        }
        // A hole wider than a catch-up reads: the lines below it go, and "Load earlier lines" reads on from here.
        if (known && page.nextCursor && !meets(page)) dropThrough(known, page.nextCursor);
        // A hole noted before this pass's newest page came (the stream dropped again at once) lies below its
        // newest line: this pass read back from there, so only lines after it may be missing.
        if (holeAfter !== null && top !== null && holeAfter < top) holeAfter = top;
        known = null;
      } while (readAgain);
      drawStatus();
    } catch (err) {
      holeAfter = older(holeAfter, known);
      failed(err, loadNewest, 'newest');
    } finally {
      loadingNewest = false;
    }
  }

  /**
   * One older page of a catch-up. A 429 waits as long as it says and asks for the same page again: the
   * pages read stay read (starting over from the newest, each wait spent the key's log reads anew).
   */
  async function olderPage(cursor) {
    for (;;) {
      try {
        return await ctx.api.deploymentLogs(id, { limit: PAGE, cursor });
      } catch (err) {
        if (!paced(err) || disposed) throw err;
        const ms = pacedFor(err);
        await new Promise((resolve) => setTimeout(resolve, ms));
        if (disposed) return { logs: [] };
      }
    }
  }

  /** Lets go of the lines up to `known` (older than a hole too wide to read back): the log shown is whole from `cursor` on. */
  function dropThrough(known, cursor) {
    for (const [lineId] of byId) {
      if (keys.get(lineId) <= known) { byId.delete(lineId); keys.delete(lineId); }
    }
    sorted = sorted.filter((l) => byId.has(l.id));
    nextCursor = cursor;
    draw();
  }

  async function loadEarlier() {
    if (!nextCursor || loadingEarlier) return;
    loadingEarlier = true;
    const hadFocus = document.activeElement === earlier;
    earlier.disabled = true;
    try {
      let from;
      let page;
      // A catch-up let go of the lines it was older than meanwhile (dropThrough): this page is below its
      // hole, so it is read again from where the catch-up left "Load earlier lines" (the click still shows lines).
      do {
        from = nextCursor;
        page = await ctx.api.deploymentLogs(id, { limit: PAGE, cursor: from });
        if (disposed) return;
      } while (nextCursor !== from && nextCursor);
      if (nextCursor !== from) return;
      nextCursor = page.nextCursor ?? null;
      merge(page.logs ?? [], { prepend: true });
      drawStatus();
    } catch (err) {
      failed(err, loadEarlier, 'earlier');
    } finally {
      loadingEarlier = false;
      earlier.disabled = false;
      // Disabling (or, after the oldest page, hiding) the button dropped focus to <body>: back to the
      // button for the next page, or to the log itself once it is all there.
      if (hadFocus && !disposed && focusLost()) (earlier.hidden ? box : earlier).focus();
    }
  }

  /** Render no longer has the service (deleted): no line will come, so nothing is read again. */
  function serviceGone() {
    finished = true;
    goneNote = 'The service was deleted on Render: no more lines will come.';
    schedulePoll();
    drawStatus();
  }

  function schedulePoll() {
    clearTimeout(pollTimer);
    pollTimer = null;
    if (disposed || finished || keyNote() || ctx.liveMode === 'live') return;
    pollTimer = setTimeout(async () => { await loadNewest(); schedulePoll(); }, FALLBACK_POLL_MS);
  }

  // The first page is read once the stream follows this log: lines published after it reach us live.
  void Promise.resolve(ctx.followLogs?.(id)).then(() => { if (!disposed) void loadNewest(); });

  return {
    el,
    /**
     * The deployment record changed (finished deploys get no more build lines). `otherKey`: the connected
     * key's workspaces do not hold it, so a 404 for its logs means that key, not a deleted service.
     */
    onRecord(rec, { otherKey: elsewhere = false } = {}) {
      const was = finished;
      const wasNote = keyNote();
      otherKey = elsewhere;
      // A 404 heard before the record said whose it is was taken for a deletion: not so.
      if (keyNote()) { goneNote = null; deletedUnread = false; }
      finished = goneNote !== null || (Boolean(rec.finished) && rec.status !== 'live');
      if (was !== finished || wasNote !== keyNote()) drawStatus();
      // Render's log pipeline lags its statuses: when the deploy ends while watched, read the newest lines once more.
      if (!rec.finished) sawRunning = true;
      if (rec.finished && sawRunning && !finalRead) {
        finalRead = true;
        clearTimeout(finalTimer);
        finalTimer = setTimeout(() => { if (!disposed) void loadNewest(); }, FINAL_READ_MS);
      }
      schedulePoll();
    },
    /** Lines pushed over the live stream. */
    onLogs(e) {
      if (e.deploymentId !== id || !Array.isArray(e.lines)) return;
      if (e.ended === 'gone') serviceGone();
      // The server's tail began at its newest page: lines between ours and those may be missing.
      const known = newestKey();
      const gap = e.partial && loadedOnce && (!known || e.lines.every((l) => key(l) > known));
      if (gap) noteHole();
      merge(e.lines);
      if (gap) void loadNewest();
    },
    /** The live stream came back after a gap: catch up. */
    onResync() { noteHole(); void loadNewest(); },
    dispose() {
      disposed = true;
      clearTimeout(pollTimer);
      clearTimeout(retryTimers.newest);
      clearTimeout(retryTimers.earlier);
      clearTimeout(finalTimer);
      ctx.followLogs?.(null);
    },
  };
}
