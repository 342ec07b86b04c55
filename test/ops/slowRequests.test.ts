import test from 'ava';
import net from 'node:net';
import { createLogger } from '../../server/logger.js';
import { startWeb, type WebProcess } from '../../server/web.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { freePort } from '../helpers/ports.js';

// A client that sends its request slowly (a byte every few seconds, slowloris) is cut off once the request has
// taken its time: answered 408 and closed. Node's own bounds, 60 s for the headers and 5 minutes for all of it,
// let one anonymous client hold a socket and a body's buffers for five minutes (found by a probe of the HTTP
// layer). Shrunk here (the same code, a second instead of 20 and 30): what is checked is that the bound holds.
let stack: Stack;
let web: WebProcess;
test.before(async () => {
  stack = await startStack();
  web = await startWeb({
    config: { ...stack.config, port: await freePort() }, logger: createLogger({ level: 'silent' }), host: '127.0.0.1',
    requestTimeouts: { headersMs: 1_000, requestMs: 1_500, checkMs: 200 },
  });
});
test.after.always(async () => { await web?.close(2_000); await stack?.close(); });

/** Sends `head`, then one byte of `trickle` every 300 ms; everything the server wrote once it closed the socket (10 s at most). */
function slowClient(head: string, trickle: string): Promise<{ answer: string; closedByServer: boolean }> {
  const { port } = new URL(web.url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), '127.0.0.1');
    let answer = '';
    let i = 0;
    const ticker = setInterval(() => { if (i < trickle.length) socket.write(trickle[i++]!); }, 300);
    const bound = setTimeout(() => { clearInterval(ticker); socket.destroy(); resolve({ answer, closedByServer: false }); }, 10_000);
    socket.on('data', (d) => { answer += d.toString('latin1'); });
    socket.on('error', () => {});
    socket.on('close', () => { clearInterval(ticker); clearTimeout(bound); resolve({ answer, closedByServer: true }); });
    socket.write(head);
  });
}

test('a request body trickled in is cut off with 408 once the request has taken its time', async (t) => {
  const body = JSON.stringify({ api_key: 'x'.repeat(60) });
  const { answer, closedByServer } = await slowClient(`POST /api/render/setup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`, body);
  t.true(closedByServer, 'the server closed the connection');
  t.regex(answer, /^HTTP\/1\.1 408 /);
});

test('headers trickled in are cut off with 408', async (t) => {
  const { answer, closedByServer } = await slowClient('GET /api/session HTTP/1.1\r\n', `Host: x\r\nX-Padding: ${'p'.repeat(60)}\r\n\r\n`);
  t.true(closedByServer, 'the server closed the connection');
  t.regex(answer, /^HTTP\/1\.1 408 /);
});

test('the web process still answers afterwards', async (t) => {
  t.is((await fetch(`${web.url}/healthz`)).status, 200);
});

test('a keep-alive connection idle between two requests is not cut off by the request bounds', async (t) => {
  // Render's proxy reuses its connections: only a request in progress is bounded, not the wait before the next one.
  const { port } = new URL(web.url);
  const socket = net.connect(Number(port), '127.0.0.1');
  t.teardown(() => socket.destroy());
  let answer = '';
  socket.on('data', (d) => { answer += d.toString('latin1'); });
  const request = 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n';
  const answers = async (n: number) => {
    for (let i = 0; i < 200 && (answer.match(/HTTP\/1\.1 /g) ?? []).length < n; i++) await new Promise((r) => setTimeout(r, 25));
  };
  socket.write(request);
  await answers(1);
  // Idle past both bounds and more than one check (1.5 s, checked every 0.2 s).
  await new Promise((r) => setTimeout(r, 2_500));
  t.false(socket.destroyed);
  socket.write(request);
  await answers(2);
  t.deepEqual([...answer.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]), ['200', '200']);
});
