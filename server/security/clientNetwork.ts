import { isIP } from 'node:net';

/**
 * The client's network, as per-address limits and counts key it: an IPv4 address (an IPv4-mapped IPv6
 * one unwrapped), or the /64 an IPv6 address is in. One IPv6 client normally holds a whole /64 (a
 * home's or a VM's prefix), so keyed by the full address every address in it had an allowance of its
 * own. Anything else (not an IP: a test double, a proxy's odd entry) is its own key, as before.
 */
export function clientNetwork(ip: string): string {
  const bare = ip.split('%')[0]!; // a zone id (fe80::1%eth0) names an interface of ours, not the client
  if (isIP(bare) === 4) return bare;
  if (isIP(bare) !== 6) return ip;
  const groups = ipv6Groups(bare.toLowerCase());
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    return `${groups[6]! >> 8}.${groups[6]! & 255}.${groups[7]! >> 8}.${groups[7]! & 255}`;
  }
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
}

/** The key of a request's client network in per-address limits and counts (`ip:` kept from when it was the address). */
export const networkKey = (ctx: { ip: string }) => `ip:${clientNetwork(ctx.ip)}`;

/** The eight 16-bit groups of a valid IPv6 address (`isIP` checked it): `::` expanded, a dotted IPv4 tail as two groups. */
function ipv6Groups(addr: string): number[] {
  let text = addr;
  // A dotted IPv4 tail (::ffff:1.2.3.4) is the address's last group of text; found without a regex.
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) !== -1) {
    const [a, b, c, d] = text.slice(lastColon + 1).split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') as [string, string] : [text, null];
  const part = (s: string) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const front = part(head);
  const back = tail === null ? [] : part(tail);
  return [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
}
