/**
 * Live deployment updates: Server-Sent Events from GET /api/events, and polling when EventSource is
 * missing or keeps failing. Views see the same {id, status, updatedAt} events either way. A view can
 * follow one deployment's logs (`follow(id)`): the stream is reopened with ?logs=<id> and its `logs`
 * events go to onLogs (while polling, the log panel reads pages itself).
 *
 * An update published while no stream is subscribed is never sent again, so what a view shows must be
 * read after its stream subscribed, or read again once it has (`onResync`). Reads are made once: the
 * app routes to the first view once the stream is open (`opened()`), a stream reopened to follow logs
 * replaces the open one only once it is open itself (deployment updates never stop), and `follow`
 * resolves then, for the log panel to read its first page.
 */

const POLL_MS = 3000;
const SSE_RETRY_MS = 30_000;
const MAX_SSE_ERRORS = 3;
/** How long a read waits for its stream to open (a proxy may hold it); one made sooner is caught up on at the open. */
const OPEN_WAIT_MS = 2000;

/**
 * @param {{ api: object, onEvent: (e: {id: string, status: string, updatedAt: string}) => void,
 *           onResync: () => void, onMode: (mode: 'connecting'|'live'|'polling') => void }} opts
 */
export function createLive({ api, onEvent, onResync, onMode, onLogs = () => {}, onSentinel = () => {} }) {
  let source = null;
  /** The open stream a reopened one replaces: still delivering until that one is open. */
  let previous = null;
  let pollTimer = null;
  let retryTimer = null;
  let errors = 0;
  let stopped = true;
  let mode = 'connecting';
  let following = null;
  /** Reads waiting for the stream to open, and whether some gave up waiting (the open must catch up). */
  let waiters = [];
  let waitTimer = null;
  let readEarly = false;
  /** Last seen status per deployment, for turning polled lists into change events. */
  const seen = new Map();

  const setMode = (m) => {
    if (m === mode) return;
    mode = m;
    onMode(m);
  };

  function release() {
    clearTimeout(waitTimer);
    waitTimer = null;
    const w = waiters;
    waiters = [];
    for (const resolve of w) resolve();
  }

  function waitForOpen() {
    return new Promise((resolve) => {
      waiters.push(resolve);
      waitTimer ??= setTimeout(() => { waitTimer = null; readEarly = true; release(); }, OPEN_WAIT_MS);
    });
  }

  function dropPrevious() {
    previous?.close();
    previous = null;
  }

  function connect() {
    if (stopped) return;
    if (typeof EventSource === 'undefined') { startPolling(); return; }
    errors = 0;
    if (!previous) setMode('connecting');
    const es = new EventSource(following ? `/api/events?logs=${encodeURIComponent(following)}` : '/api/events');
    source = es;
    const listening = () => es === source || es === previous;
    es.addEventListener('open', () => {
      if (es !== source) return;
      errors = 0;
      stopPolling();
      setMode('live');
      // Every other open follows a gap — a reconnect, polling, a stream that never opened — and the view
      // catches up: one fetch of what it shows (a deploy that failed while its page reopened the stream
      // stayed "queued" there). A replaced stream that was open until now left none.
      const gap = previous?.readyState !== EventSource.OPEN || readEarly;
      readEarly = false;
      dropPrevious();
      release();
      if (gap) onResync();
    });
    es.addEventListener('deployment', (e) => {
      if (!listening()) return;
      let data;
      try { data = JSON.parse(e.data); } catch { return; }
      if (data && typeof data.id === 'string' && typeof data.status === 'string') {
        seen.set(data.id, data.status);
        onEvent(data);
      }
    });
    es.addEventListener('sentinel', (e) => {
      if (!listening()) return;
      let data;
      try { data = JSON.parse(e.data); } catch { return; }
      if (data && typeof data.id === 'string') onSentinel(data);
    });
    es.addEventListener('logs', (e) => {
      if (!listening()) return;
      let data;
      try { data = JSON.parse(e.data); } catch { return; }
      if (data && typeof data.deploymentId === 'string' && Array.isArray(data.lines)) onLogs(data);
    });
    es.addEventListener('error', () => {
      if (es !== source) {
        if (es === previous && es.readyState === EventSource.CLOSED) previous = null;
        return;
      }
      errors += 1;
      // CLOSED: the server refused the stream (e.g. not an event stream). Repeated errors: a proxy
      // that keeps cutting it. Either way poll, and try the stream again later.
      if (es.readyState === EventSource.CLOSED || errors >= MAX_SSE_ERRORS) {
        es.close();
        source = null;
        dropPrevious();
        startPolling();
        clearTimeout(retryTimer);
        retryTimer = setTimeout(connect, SSE_RETRY_MS);
      }
    });
  }

  function startPolling() {
    if (pollTimer !== null || stopped) return;
    setMode('polling');
    readEarly = false;
    release();
    onResync();
    pollTimer = setInterval(poll, POLL_MS);
  }

  function stopPolling() {
    clearInterval(pollTimer);
    pollTimer = null;
  }

  async function poll() {
    let page;
    try { page = await api.myDeployments({ limit: 20 }); } catch { return; }
    for (const d of page.deployments ?? []) {
      if (seen.get(d.id) === d.status) continue;
      seen.set(d.id, d.status);
      onEvent({ type: 'deployment', id: d.id, status: d.status, updatedAt: d.updatedAt });
    }
  }

  return {
    get mode() { return mode; },
    /**
     * Follow one deployment's log lines (null: none): the stream is reopened. Resolves once the new
     * stream is open (or polling, or after a wait): read the log's first page then, not before.
     */
    follow(deploymentId) {
      if (deploymentId === following) return Promise.resolve();
      following = deploymentId;
      if (stopped || !source) return Promise.resolve();
      const opened = waitForOpen();
      if (source.readyState === EventSource.OPEN) { dropPrevious(); previous = source; } else source.close();
      source = null;
      connect();
      return opened;
    },
    /** Resolves once the stream is open (or polling, or after a wait): the first view reads its data then. */
    opened() {
      if (stopped || mode === 'polling' || (source?.readyState === EventSource.OPEN && !previous)) return Promise.resolve();
      return waitForOpen();
    },
    start() {
      if (!stopped) return;
      stopped = false;
      connect();
    },
    stop() {
      stopped = true;
      source?.close();
      source = null;
      dropPrevious();
      release();
      stopPolling();
      clearTimeout(retryTimer);
      seen.clear();
    },
  };
}
