import { connect, type Socket } from 'node:net';

/**
 * Redis' MONITOR on a socket of the test's own: every command Redis runs (Lua's included), as its
 * arguments. Not ioredis' `monitor()`: under load its connection took a command's echo that came in the
 * same read as MONITOR's "+OK" for an answer to nothing ("Command queue state error"), rejected, and
 * left a connection that reconnected for ever after the test's Redis stopped, so the test file never
 * exited (a CI rehearsal waited on it for 20 minutes).
 */
export interface RedisMonitor {
  /** Called with each command's arguments, in the order Redis ran them. */
  on(listener: (args: string[]) => void): void;
  /** Closes the socket: nothing reconnects. */
  stop(): void;
}

export function startMonitor(redisUrl: string): Promise<RedisMonitor> {
  const url = new URL(redisUrl);
  const listeners: Array<(args: string[]) => void> = [];
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(Number(url.port || 6379), url.hostname || '127.0.0.1');
    let buffered = '';
    let ready = false;
    const monitor: RedisMonitor = { on: (listener) => { listeners.push(listener); }, stop: () => { socket.destroy(); } };
    socket.setEncoding('latin1');
    socket.once('error', (err) => { if (!ready) reject(err); });
    socket.on('connect', () => {
      const auth = url.password ? [url.username ? `AUTH ${url.username} ${decodeURIComponent(url.password)}` : `AUTH ${decodeURIComponent(url.password)}`] : [];
      const db = url.pathname.length > 1 ? [`SELECT ${url.pathname.slice(1)}`] : [];
      socket.write([...auth, ...db, 'MONITOR'].map((c) => `${c}\r\n`).join(''));
    });
    let replies = (url.password ? 1 : 0) + (url.pathname.length > 1 ? 1 : 0);
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let end: number;
      while ((end = buffered.indexOf('\r\n')) >= 0) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        if (line.startsWith('-')) { if (!ready) reject(new Error(line.slice(1))); continue; }
        if (!ready) {
          if (replies > 0) { replies -= 1; continue; } // AUTH's and SELECT's "+OK"
          ready = true; // MONITOR's "+OK": every line after it is a command
          resolve(monitor);
          continue;
        }
        const args = parseMonitorLine(line);
        if (args) for (const listener of listeners) listener(args);
      }
    });
  });
}

/** `+1796523514.784863 [0 127.0.0.1:54418] "evalsha" "d60b…" …` → the quoted arguments, unescaped. */
export function parseMonitorLine(line: string): string[] | null {
  const start = line.indexOf('] ');
  if (!line.startsWith('+') || start < 0) return null;
  const args: string[] = [];
  let i = start + 2;
  while (i < line.length) {
    if (line[i] !== '"') { i += 1; continue; }
    let arg = '';
    i += 1;
    while (i < line.length && line[i] !== '"') {
      if (line[i] === '\\' && i + 1 < line.length) {
        const next = line[i + 1]!;
        if (next === 'x') { arg += String.fromCharCode(parseInt(line.slice(i + 2, i + 4), 16)); i += 4; continue; }
        arg += ({ n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b' } as Record<string, string>)[next] ?? next;
        i += 2;
        continue;
      }
      arg += line[i];
      i += 1;
    }
    args.push(arg);
    i += 1;
  }
  return args;
}
