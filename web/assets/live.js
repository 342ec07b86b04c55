/**
 * Live deployment updates: Server-Sent Events from GET /api/events, and polling when EventSource is
 * missing or keeps failing. Views see the same {id, status, updatedAt} events either way (a polled one
 * also names its serviceId, which the list has: the stream's do not, and a view that needs it reads the
 * deployment, as the service settings page does to follow its service's deploys). A change made
 * to one of the user's services (here or in another tab) comes as {id, action} to onService, over the
 * stream only: a page that is polling is told every few polls (onServicePoll) to read again what such
 * changes would have made it read (what is cheap to read: not the values Render audit-logs; and Sentinel's
 * findings and settings, whose `sentinel` events are the stream's only too), and reads
 * everything again when the stream is back (its resync at the open). A view can
 * follow one deployment's logs (`follow(id)`): the stream is reopened with ?logs=<id> and its `logs`
 * events go to onLogs (while polling, the log panel reads pages itself).
 *
 * An update published while no stream is subscribed is never sent again, so what a view shows must be
 * read after its stream subscribed, or read again once it has (`onResync`). Reads are made once: the
 * app routes to the first view once the stream is open (`opened()`), and `follow` resolves once the
 * reopened stream is open, for the log panel to read its first page.
 *
 * A stream's open comes after the server subscribed it (it answers only then), but updates published
 * just before may still be on their way over the stream it replaces (a proxy, a busy web process). So
 * the replaced stream keeps delivering until it has delivered the new one's marker (server/events/
 * handover.ts: published once the new one is subscribed, so everything before it came first); the new
 * one's updates are held until then, and those before its own marker dropped (the old one had them).
 * A replaced stream that fails or takes too long is let go with a catch-up read instead.
 *
 * A stream can also stop arriving without closing (a proxy holding it, a half-open connection): no error
 * ever comes. The server sends a `ping` every keepalive interval (its data: the interval), and a stream
 * that delivers nothing (not a ping, not an update, not its open) for SILENT_INTERVALS of them is closed
 * and opened again, as after an error (the view catches up at the open); the mode says "connecting"
 * meanwhile. Streams that keep going silent leave the page polling, as ones that keep failing do.
 */

const POLL_MS = 3000;
/** While polling, service changes (which only the stream carries) are read for every this many polls: 15 s. */
const SERVICE_POLLS = 5;
const SSE_RETRY_MS = 30_000;
const MAX_SSE_ERRORS = 3;
/** How long a read waits for its stream to open (a proxy may hold it); one made sooner is caught up on at the open. */
const OPEN_WAIT_MS = 2000;
/** How long a replaced stream may take to deliver the new one's marker before the view catches up instead. */
const HANDOVER_WAIT_MS = 3000;
/** Markers of other tabs' streams a replaced stream may deliver before the new one names its own. */
const MAX_PASSED = 50;
/** The server's keepalive interval until a `ping` says what it is (server/events/sse.ts's default). */
const KEEPALIVE_MS = 15_000;
/** What a `ping` may say the interval is: outside this, the page keeps what it had. */
const MIN_KEEPALIVE_MS = 1000;
const MAX_KEEPALIVE_MS = 10 * 60_000;
/** Keepalive intervals a stream may go without delivering anything before it is taken as stalled. */
const SILENT_INTERVALS = 2.5;

/**
 * @param {{ api: object, onEvent: (e: {id: string, status: string, updatedAt: string, serviceId?: string|null}) => void,
 *           onResync: () => void, onMode: (mode: 'connecting'|'live'|'polling') => void,
 *           onService?: (e: {id: string, action: string}) => void, onServicePoll?: () => void,
 *           onSessionEnded?: (reason: string) => void }} opts
 */
export function createLive({ api, onEvent, onResync, onMode, onLogs = () => {}, onSentinel = () => {}, onService = () => {}, onServicePoll = () => {}, onSessionEnded = () => {} }) {
  let source = null;
  /** The open stream a reopened one replaces: it delivers the updates until it has delivered the new one's marker. */
  let previous = null;
  /** The handover: the new stream's marker, whether it has delivered it, and its updates held meanwhile. */
  let marker = null;
  let markerSeen = false;
  let early = [];
  let later = [];
  /** Markers the replaced stream delivered before the new one named its own. */
  const passed = new Set();
  let handoverTimer = null;
  let pollTimer = null;
  let polls = 0;
  let retryTimer = null;
  let errors = 0;
  /** The keepalive interval the server's pings name. */
  let keepAliveMs = KEEPALIVE_MS;
  /** Streams in a row that went silent (reset by a stream that delivered something). */
  let stalls = 0;
  let stopped = true;
  let mode = 'connecting';
  let following = null;
  /**
   * The deployment whose `?logs=` stream was refused before it opened, sending this page to polling: most
   * likely a 404 (not, or no longer, the user's deployment, as on the "not found" page, which then stops
   * following it). A stream without those lines is tried at once then, not after SSE_RETRY_MS.
   */
  let refusedFollowing = null;
  /** Reads waiting for the stream to open, and whether some gave up waiting (the open must catch up). */
  let waiters = [];
  let waitTimer = null;
  let readEarly = false;
  /** A replacing stream refused while the one it replaces was open has been asked again alone (once per open). */
  let askedAlone = false;
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

  /** A new stream (or a new attempt of it) starts its handover afresh. */
  function resetHandover() {
    clearTimeout(handoverTimer);
    handoverTimer = null;
    marker = null;
    markerSeen = false;
    early = [];
    later = [];
    passed.clear();
  }

  /**
   * Lets the replaced stream go. After its delivery of the new one's marker, the new one's updates after
   * that marker follow; otherwise (it failed, or took too long) it may have left some undelivered: all of
   * the new one's go, and the view catches up (here if the new one is open, else at its open).
   */
  function handOver(missed) {
    const queued = missed ? [...early, ...later] : later;
    const open = source?.readyState === EventSource.OPEN;
    previous?.close();
    previous = null;
    clearTimeout(handoverTimer);
    handoverTimer = null;
    early = [];
    later = [];
    passed.clear();
    for (const deliver of queued) deliver();
    if (missed && open) onResync();
  }

  function dropPrevious() {
    previous?.close();
    previous = null;
    resetHandover();
  }

  /** An update from `es`: from the stream that delivers them now, or held by the handover. */
  function update(es, deliver) {
    if (es === previous || (es === source && !previous)) deliver();
    else if (es === source) (markerSeen ? later : early).push(deliver);
  }

  function markerOf(e) {
    try {
      const data = JSON.parse(e.data);
      return data && typeof data.marker === 'string' ? data.marker : null;
    } catch { return null; }
  }

  function connect() {
    if (stopped) return;
    if (typeof EventSource === 'undefined') { startPolling(); return; }
    errors = 0;
    if (!previous) setMode('connecting');
    // opened=address: the id is the deployment page's (see api.js OPENED_FROM_ADDRESS).
    const es = new EventSource(following ? `/api/events?logs=${encodeURIComponent(following)}&opened=address` : '/api/events');
    source = es;
    resetHandover();
    const listening = () => es === source || es === previous;
    let wasOpen = false;
    // The watchdog: armed now (a stream held before its open), again at the open and at every event.
    let silentTimer = null;
    const stalled = () => {
      silentTimer = null;
      // A replaced stream gone silent is let go, as one that failed (the view catches up at the new one's open).
      if (es === previous) {
        handOver(true);
        if (source?.readyState !== EventSource.OPEN) setMode('connecting');
        return;
      }
      if (es !== source) { es.close(); return; }
      es.close();
      source = null;
      stalls += 1;
      if (stalls >= MAX_SSE_ERRORS) {
        // Every stream goes silent (a proxy that buffers them): poll, and try the stream again later.
        dropPrevious();
        startPolling();
        clearTimeout(retryTimer);
        retryTimer = setTimeout(connect, SSE_RETRY_MS);
        return;
      }
      // As after an error; not "live" meanwhile (connect() says "connecting" unless a replaced stream still delivers).
      connect();
    };
    const heard = () => {
      clearTimeout(silentTimer);
      silentTimer = es.readyState === EventSource.CLOSED ? null : setTimeout(stalled, keepAliveMs * SILENT_INTERVALS);
    };
    /** Something arrived over the stream: it flows. */
    const delivered = () => { stalls = 0; heard(); };
    heard();
    for (const type of ['stream', 'subscribed', 'deployment', 'service', 'sentinel', 'session', 'logs']) {
      es.addEventListener(type, delivered);
    }
    // The server's keepalive: nothing for the views, only the stream's pulse (and its interval).
    es.addEventListener('ping', (e) => {
      const ms = Number(e.data);
      if (Number.isFinite(ms) && ms >= MIN_KEEPALIVE_MS && ms <= MAX_KEEPALIVE_MS) keepAliveMs = ms;
      delivered();
    });
    es.addEventListener('open', () => {
      heard();
      if (es !== source) return;
      wasOpen = true;
      errors = 0;
      askedAlone = false;
      stopPolling();
      setMode('live');
      // Every other open follows a gap — a reconnect, polling, a stream that never opened — and the view
      // catches up: one fetch of what it shows (a deploy that failed while its page reopened the stream
      // stayed "queued" there). A replaced stream still open leaves none: it hands over.
      const switching = previous?.readyState === EventSource.OPEN;
      const gap = !switching || readEarly;
      readEarly = false;
      if (switching) handoverTimer = setTimeout(() => handOver(true), HANDOVER_WAIT_MS);
      else dropPrevious();
      release();
      if (gap) onResync();
    });
    es.addEventListener('stream', (e) => {
      if (es !== source) return;
      marker = markerOf(e);
      if (previous && passed.has(marker)) handOver(false);
    });
    es.addEventListener('subscribed', (e) => {
      const m = markerOf(e);
      if (es === source && m !== null && m === marker) markerSeen = true;
      else if (es === previous && m !== null && m === marker) handOver(false);
      else if (es === previous && m !== null && passed.size < MAX_PASSED) passed.add(m);
    });
    es.addEventListener('deployment', (e) => {
      let data;
      try { data = JSON.parse(e.data); } catch { return; }
      if (data && typeof data.id === 'string' && typeof data.status === 'string') {
        update(es, () => {
          seen.set(data.id, data.status);
          onEvent(data);
        });
      }
    });
    // A change to one of the user's services (here or in another tab): ids and the action, for the view to read it again.
    es.addEventListener('service', (e) => {
      let data;
      try { data = JSON.parse(e.data); } catch { return; }
      if (data && typeof data.id === 'string' && typeof data.action === 'string') update(es, () => onService(data));
    });
    es.addEventListener('sentinel', (e) => {
      let data;
      try { data = JSON.parse(e.data); } catch { return; }
      // A finding, or the user's settings changed (in another tab): `{ type: 'sentinel_settings' }`.
      if (data && (typeof data.id === 'string' || data.type === 'sentinel_settings')) update(es, () => onSentinel(data));
    });
    // The session ended or lost its key (perhaps in another tab): the stream's last event says so.
    es.addEventListener('session', (e) => {
      if (!listening()) return;
      let data;
      try { data = JSON.parse(e.data); } catch { return; }
      onSessionEnded(typeof data?.reason === 'string' ? data.reason : 'ended');
    });
    es.addEventListener('logs', (e) => {
      if (!listening()) return;
      let data;
      try { data = JSON.parse(e.data); } catch { return; }
      if (data && typeof data.deploymentId === 'string' && Array.isArray(data.lines)) onLogs(data);
    });
    es.addEventListener('error', () => {
      // A replaced stream that lost its connection may have lost updates on their way.
      if (es === previous) { handOver(true); return; }
      if (es !== source) return;
      // Refused before it opened while the stream it replaces still held its place: the server's cap on a user's
      // streams counts both (ten tabs, one opening a deployment page, fell back to polling for 30 s). The old one
      // goes, and the new one is asked for again alone, once; its open catches the view up.
      if (!wasOpen && es.readyState === EventSource.CLOSED && previous?.readyState === EventSource.OPEN && !askedAlone) {
        askedAlone = true;
        es.close();
        clearTimeout(silentTimer);
        source = null;
        dropPrevious();
        connect();
        return;
      }
      // Its next attempt names a marker of its own; the replaced stream delivers meanwhile.
      if (previous) resetHandover();
      errors += 1;
      // CLOSED: the server refused the stream (e.g. not an event stream). Repeated errors: a proxy
      // that keeps cutting it. Either way poll, and try the stream again later.
      if (es.readyState === EventSource.CLOSED || errors >= MAX_SSE_ERRORS) {
        es.close();
        clearTimeout(silentTimer);
        source = null;
        refusedFollowing = following !== null && !wasOpen ? following : null;
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
    polls = 0;
    pollTimer = setInterval(poll, POLL_MS);
  }

  function stopPolling() {
    clearInterval(pollTimer);
    pollTimer = null;
  }

  async function poll() {
    polls += 1;
    if (polls % SERVICE_POLLS === 0) onServicePoll();
    let page;
    try { page = await api.myDeployments({ limit: 20 }); } catch { return; }
    for (const d of page.deployments ?? []) {
      if (seen.get(d.id) === d.status) continue;
      seen.set(d.id, d.status);
      onEvent({ type: 'deployment', id: d.id, status: d.status, updatedAt: d.updatedAt, serviceId: d.serviceId ?? null });
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
      const leavingRefused = refusedFollowing !== null && refusedFollowing === following;
      following = deploymentId;
      refusedFollowing = null;
      if (!stopped && !source && leavingRefused) {
        clearTimeout(retryTimer);
        connect();
        return Promise.resolve();
      }
      if (stopped || !source) return Promise.resolve();
      const opened = waitForOpen();
      // A stream still handing over goes on delivering; the one that was to replace it goes instead.
      if (!previous && source.readyState === EventSource.OPEN) previous = source; else source.close();
      source = null;
      connect();
      return opened;
    },
    /** Resolves once the stream is open (or polling, or after a wait): the first view reads its data then. */
    opened() {
      if (stopped || mode === 'polling' || source?.readyState === EventSource.OPEN) return Promise.resolve();
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
