import { createServer } from 'node:net';

// Below Linux's ephemeral range (ip_local_port_range, 32768–60999 by default), from which the kernel
// takes the local port of every outgoing connection on the machine: a port found free there could be
// taken by any client socket (tests make thousands) before the server meant for it listens. That lost a
// whole test file in CI (EADDRINUSE in a before hook, at load 17). Here only another test process's own
// pick can collide, which the check below mostly catches and a random start makes rare.
const LOW = 20_000;
const HIGH = 32_000;

/** A TCP port on 127.0.0.1 that is free now, for a server started shortly after (which must know its port first). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port between ${LOW} and ${HIGH} after 50 tries`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}
