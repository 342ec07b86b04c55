import test from 'ava';
import Koa from 'koa';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { setImmediate as turn } from 'node:timers/promises';
import { openSse } from '../../server/events/sse.js';

// An SSE client that never reads: what the stream writes piles up in the process (the PassThrough and
// the response hold every unread event) until the stream gives it up.

test('the SSE writer ends a stream whose client never reads, instead of holding its unread events', async (t) => {
  let stream: ReturnType<typeof openSse> | undefined;
  let opened!: () => void;
  const ready = new Promise<void>((r) => { opened = r; });
  let serverSocket: Socket | undefined;
  const app = new Koa();
  app.silent = true; // the dropped connection's premature close, as the app's own
  app.use(async (ctx) => {
    stream = openSse(ctx, { keepAliveMs: 60_000 });
    serverSocket = ctx.req.socket;
    opened();
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  t.teardown(() => { server.closeAllConnections(); server.close(); });

  // A raw client: sends the request, then never reads a byte.
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  client.pause();
  client.on('error', () => {});
  t.teardown(() => client.destroy());
  client.write('GET / HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n');
  await ready;

  // 1 KiB events, the socket given turns to flush what the kernel takes, until 64 MiB were sent or the stream ended.
  const data = JSON.stringify({ type: 'deployment', id: 'x'.repeat(1000) });
  let sent = 0;
  while (!stream!.closed && sent < 64 * 1024 * 1024) {
    stream!.send('deployment', data);
    sent += data.length;
    if (sent % (64 * 1024) < data.length) await turn();
  }
  t.true(stream!.closed, `stream still open with ${sent} bytes sent to a client that reads nothing`);
  t.true(sent < 48 * 1024 * 1024, `ended only after ${sent} bytes`);
  await turn();
  t.true(serverSocket!.destroyed, 'the connection (and what it buffered) is let go');
});
