/**
 * Live deployment updates: Server-Sent Events from GET /api/events, and polling when EventSource is
 * missing or keeps failing. Views see the same {id, status, updatedAt} events either way. A view can
 * follow one deployment's logs (`follow(id)`): the stream is reopened with ?logs=<id> and its `logs`
 * events go to onLogs (while polling, the log panel reads pages itself).
 */

const POLL_MS = 3000;
const SSE_RETRY_MS = 30_000;
const MAX_SSE_ERRORS = 3;

/**
 * @param {{ api: object, onEvent: (e: {id: string, status: string, updatedAt: string}) => void,
 *           onResync: () => void, onMode: (mode: 'connecting'|'live'|'polling') => void }} opts
 */
export function createLive({ api, onEvent, onResync, onMode, onLogs = () => {}, onSentinel = () => {} }) {
  let source = null;
  let pollTimer = null;
  let retryTimer = null;
  let errors = 0;
  let stopped = true;
  let mode = 'connecting';
  let following = null;
  /** Last seen status per deployment, for turning polled lists into change events. */
  const seen = new Map();

  const setMode = (m) => {
    if (m === mode) return;
    mode = m;
    onMode(m);
  };

  function connect() {
    if (stopped) return;
    if (typeof EventSource === 'undefined') { startPolling(); return; }
    errors = 0;
    setMode('connecting');
    source = new EventSource(following ? `/api/events?logs=${encodeURIComponent(following)}` : '/api/events');
    source.addEventListener('open', () => {
      errors = 0;
      stopPolling();
      setMode('live');
      // Every open follows a gap — the page loading its data before the stream subscribed, a reconnect,
      // polling, the stream reopened to follow logs — and an update published while no stream was
      // subscribed is never sent again (a deploy that failed while its page reopened the stream stayed
      // "queued" there). So the view catches up on each open: one fetch of what it shows.
      onResync();
    });
    source.addEventListener('deployment', (e) => {
      let data;
      try { data = JSON.parse(e.data); } catch { return; }
      if (data && typeof data.id === 'string' && typeof data.status === 'string') {
        seen.set(data.id, data.status);
        onEvent(data);
      }
    });
    source.addEventListener('sentinel', (e) => {
      let data;
      try { data = JSON.parse(e.data); } catch { return; }
      if (data && typeof data.id === 'string') onSentinel(data);
    });
    source.addEventListener('logs', (e) => {
      let data;
      try { data = JSON.parse(e.data); } catch { return; }
      if (data && typeof data.deploymentId === 'string' && Array.isArray(data.lines)) onLogs(data);
    });
    source.addEventListener('error', () => {
      errors += 1;
      // CLOSED: the server refused the stream (e.g. not an event stream). Repeated errors: a proxy
      // that keeps cutting it. Either way poll, and try the stream again later.
      if (source.readyState === EventSource.CLOSED || errors >= MAX_SSE_ERRORS) {
        source.close();
        source = null;
        startPolling();
        clearTimeout(retryTimer);
        retryTimer = setTimeout(connect, SSE_RETRY_MS);
      }
    });
  }

  function startPolling() {
    if (pollTimer !== null || stopped) return;
    setMode('polling');
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
    /** Follow one deployment's log lines (null: none). Reopens the stream when it changes. */
    follow(deploymentId) {
      if (deploymentId === following) return;
      following = deploymentId;
      if (stopped || !source) return;
      source.close();
      source = null;
      connect();
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
      stopPolling();
      clearTimeout(retryTimer);
      seen.clear();
    },
  };
}
