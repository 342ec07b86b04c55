import { Agent } from '../../helpers/agent.js';
import type { OpsEnv } from './cluster.js';

/**
 * One browser talking to several web processes (as behind a load balancer): one cookie jar and CSRF
 * token shared by an agent per process, used in turn.
 */
export class Roamer {
  readonly agents: Agent[];
  private turn = 0;

  constructor(urls: string[]) {
    const first = new Agent(urls[0]!);
    this.agents = [first, ...urls.slice(1).map((u) => Object.assign(new Agent(u), { jar: first.jar }))];
  }

  set csrfToken(token: string | null) { for (const a of this.agents) a.csrfToken = token; }

  /** The next process in turn. */
  next(): Agent { return this.agents[this.turn++ % this.agents.length]!; }

  at(i: number): Agent { return this.agents[i % this.agents.length]!; }
}

let nextUserId = 5000 + Math.floor(Math.random() * 1000);

/** Sign-in that starts on the first web process and finishes on the second (the OAuth state lives in Redis). */
export async function signInAcross(env: OpsEnv, roamer: Roamer, login: string): Promise<void> {
  env.github.addUser({ id: nextUserId++, login, name: `${login} name` });
  const start = await roamer.at(0).get('/api/auth/github/login');
  if (start.status !== 302 || !start.location) throw new Error(`login start: ${start.status}`);
  const authorize = await fetch(`${start.location}&login=${encodeURIComponent(login)}`, { redirect: 'manual' });
  const callback = authorize.headers.get('location');
  if (!callback) throw new Error(`authorize: ${authorize.status}`);
  const done = await roamer.at(1).get(callback.replace(env.config.baseUrl, ''));
  if (done.status !== 302 || done.location !== '/') throw new Error(`callback: ${done.status} ${done.location}`);
  const session = await roamer.at(1).get('/api/session');
  if (session.status !== 200) throw new Error(`session: ${session.status}`);
  roamer.csrfToken = session.json.csrfToken;
}

/** A Render account for `login` and its key connected through the given agent. */
export async function connectRenderKey(env: OpsEnv, agent: Agent, login: string): Promise<{ apiKey: string; accountId: string }> {
  const apiKey = `rnd_${login.replace(/[^A-Za-z0-9]/g, '')}${'k'.repeat(24)}`;
  const account = env.render.addAccount({ apiKey, workspaces: [{ name: `${login} workspace` }] });
  const res = await agent.post('/api/render/setup', { api_key: apiKey });
  if (res.status !== 200) throw new Error(`key setup: ${res.status} ${res.text}`);
  return { apiKey, accountId: account.id };
}

/** A Node app repository on `main` in the GitHub simulator. */
export function addNodeRepo(env: OpsEnv, owner: string, name: string): void {
  env.github.addRepo({
    owner, name,
    branches: { main: { 'package.json': JSON.stringify({ name, scripts: { start: 'node index.js' } }), 'package-lock.json': '{}', 'index.js': '' } },
  });
}

/** Services named `name` in the caller's Render account (exactly one means nothing was duplicated). */
export async function servicesNamed(env: OpsEnv, apiKey: string, name: string): Promise<number> {
  const res = await fetch(`${env.render.url}/services?name=${encodeURIComponent(name)}&limit=100`, { headers: { authorization: `Bearer ${apiKey}` } });
  const list = (await res.json()) as Array<{ service: { name: string } }>;
  return list.filter((e) => e.service.name === name).length;
}

interface SseEvent { event: string; data: string }

export interface SseClient {
  status: number;
  events: SseEvent[];
  /** Resolves when the server ended the stream (or the connection broke). */
  ended: Promise<void>;
  close(): void;
}

/** GET /api/events with the given cookie, parsing frames as they arrive. */
export async function openEvents(baseUrl: string, cookie: string): Promise<SseClient> {
  const abort = new AbortController();
  const res = await fetch(`${baseUrl}/api/events`, { headers: { cookie, accept: 'text/event-stream' }, signal: abort.signal });
  const events: SseEvent[] = [];
  const ended = (async () => {
    if (!res.body) return;
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const event = /^event: (.*)$/m.exec(frame)?.[1];
          const data = /^data: (.*)$/m.exec(frame)?.[1];
          if (event && data !== undefined) events.push({ event, data });
        }
      }
    } catch { /* aborted or reset */ }
  })();
  return { status: res.status, events, ended, close: () => abort.abort() };
}
