import { Socket } from 'node:net';

/**
 * Bench-only: socket writes (each a write syscall, which on loopback carries the kernel's work for both
 * ends) and new connections of this process, by the peer they go to. Counts `_writeGeneric`, the one
 * path from a Socket's `_write` and `_writev` to the handle, so a corked or pipelined batch counts once.
 * `peers` names ports ("redis" → 6379); anything else counts as "other".
 */
export interface SocketProbe {
  counts(): Record<string, number>;
  /** Count this socket's writes as `name` (e.g. one Redis connection among several to the same port). */
  label(socket: Socket, name: string): void;
}

export function probeSockets(peers: Record<string, number>): SocketProbe {
  const byPort = new Map(Object.entries(peers).map(([name, port]) => [port, name]));
  const labels = new WeakMap<Socket, string>();
  const counts: Record<string, number> = {};
  const kind = (s: Socket) => labels.get(s) ?? byPort.get(s.remotePort ?? -1) ?? 'other';
  const add = (key: string) => { counts[key] = (counts[key] ?? 0) + 1; };
  const proto = Socket.prototype as unknown as { _writeGeneric: (...args: unknown[]) => unknown; connect: (...args: unknown[]) => unknown };
  const write = proto._writeGeneric;
  proto._writeGeneric = function (this: Socket, ...args: unknown[]) {
    // A write before the connection is up is held and passed here again once it is: counted then.
    if (!this.connecting) add(`writes.${kind(this)}`);
    return write.apply(this, args);
  };
  const connect = proto.connect;
  proto.connect = function (this: Socket, ...args: unknown[]) {
    this.once('connect', () => add(`connects.${kind(this)}`));
    return connect.apply(this, args);
  };
  return { counts: () => ({ ...counts }), label: (socket, name) => labels.set(socket, name) };
}

/** The port of a URL (its scheme's default when it names none). */
export function portOf(url: string): number {
  const u = new URL(url);
  return Number(u.port || (u.protocol === 'https:' ? 443 : u.protocol === 'rediss:' ? 6380 : u.protocol === 'redis:' ? 6379 : 80));
}
