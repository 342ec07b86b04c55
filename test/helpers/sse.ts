import type { Agent } from './agent.js';

/** A raw SSE client over fetch, as a browser tab's EventSource would hold it. */
export interface SseClient {
  status: number;
  headers: Headers;
  text(): string;
  /** Resolves with the whole text once `until(text)` holds; rejects after `ms` or when the stream ends first (a broken stream fails the test). */
  waitFor(until: (text: string) => boolean, ms?: number): Promise<string>;
  close(): void;
}

/** Opens `path` with the agent's cookies and headers (sessions are bound to the user agent). */
export function openSseAs(agent: Agent, path: string): Promise<SseClient> {
  return openSseStream(agent.baseUrl + path, { ...agent.defaults, cookie: agent.cookieHeader() });
}

/** Opens an event stream at `url`; `waitFor` gives up after `defaultWaitMs` unless told otherwise. */
export async function openSseStream(url: string, headers: Record<string, string> = {}, defaultWaitMs = 10_000): Promise<SseClient> {
  const abort = new AbortController();
  const res = await fetch(url, { headers, signal: abort.signal });
  let buf = '';
  let ended = false;
  const waiters = new Set<() => void>();
  const wake = () => { for (const w of [...waiters]) w(); };
  if (res.body) {
    void (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) { buf += decoder.decode(chunk, { stream: true }); wake(); }
      } catch { /* aborted */ }
      ended = true;
      wake();
    })();
  }
  return {
    status: res.status, headers: res.headers,
    text: () => buf,
    waitFor(until, ms = defaultWaitMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (until(buf)) { done(); resolve(buf); } else if (ended) { done(); reject(new Error(`stream ended: ${buf.slice(0, 500)}`)); }
        };
        const timer = setTimeout(() => { done(); reject(new Error(`condition not met; got: ${JSON.stringify(buf.slice(-500))}`)); }, ms);
        const done = () => { clearTimeout(timer); waiters.delete(check); };
        waiters.add(check);
        check();
      });
    },
    close: () => abort.abort(),
  };
}

interface SseLogLine { id: string; timestamp: string; message: string; phase: string; level: string | null }

/** The lines of every `event: logs` message in a stream's text, in arrival order. */
export function sseLogLines(text: string): SseLogLine[] {
  return text.split('\n\n').filter((b) => b.startsWith('event: logs\n')).flatMap((b) => (JSON.parse(b.split('\ndata: ')[1]!) as { lines: SseLogLine[] }).lines);
}
