import { BlockList, isIP } from 'node:net';
import { lookup as dnsLookup } from 'node:dns/promises';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest, type RequestOptions } from 'node:http';
import type { LookupFunction } from 'node:net';

/**
 * SSRF guard for outbound webhooks. Only https to the default port; the hostname is resolved once,
 * every address it resolves to must be public, and the connection is pinned to the checked address
 * (a custom `lookup`), so a DNS answer that changes between check and connect (rebinding) cannot
 * redirect the request. Redirects are never followed.
 */

const blocked = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) blocked.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128], ['::1', 128], ['100::', 64], ['2001:db8::', 32], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
  // Local-use NAT64 (RFC 8215: translated by the operator's own network, to any IPv4 address it chooses)
  // and Teredo (a tunnel to an IPv4 address hidden in the rest): neither is a public host of its own.
  ['64:ff9b:1::', 48], ['2001::', 32],
] as const) blocked.addSubnet(net, bits, 'ipv6');

/** IPv6 forms that carry an IPv4 address: mapped (::ffff:a.b.c.d), compatible (::a.b.c.d), SIIT (::ffff:0:a.b.c.d), NAT64, 6to4. */
function embeddedIpv4(ip: string): string | null {
  const groups = expandIpv6(ip);
  if (!groups) return null;
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  const zero = (from: number, to: number) => groups.slice(from, to).every((g) => g === 0);
  if (zero(0, 5) && (groups[5] === 0xffff || groups[5] === 0)) return v4(groups[6]!, groups[7]!);
  if (zero(0, 4) && groups[4] === 0xffff && groups[5] === 0) return v4(groups[6]!, groups[7]!);
  if (groups[0] === 0x64 && groups[1] === 0xff9b && zero(2, 6)) return v4(groups[6]!, groups[7]!);
  if (groups[0] === 0x2002) return v4(groups[1]!, groups[2]!);
  return null;
}

/** Eight 16-bit groups of an IPv6 address (with an optional dotted IPv4 tail), or null. */
function expandIpv6(ip: string): number[] | null {
  // Drop a zone id (fe80::1%eth0), then read a dotted IPv4 tail after the last colon; no unanchored regex.
  const zone = ip.indexOf('%');
  let text = (zone === -1 ? ip : ip.slice(0, zone)).toLowerCase();
  const tail = text.slice(text.lastIndexOf(':') + 1);
  if (/^\d+\.\d+\.\d+\.\d+$/.test(tail)) {
    const parts = tail.split('.').map(Number);
    text = text.slice(0, -tail.length) + `${((parts[0]! << 8) | parts[1]!).toString(16)}:${((parts[2]! << 8) | parts[3]!).toString(16)}`;
  }
  const [left, right] = text.split('::') as [string, string | undefined];
  const l = left ? left.split(':') : [];
  const r = right !== undefined && right ? right.split(':') : [];
  const fill = text.includes('::') ? 8 - l.length - r.length : 0;
  const all = [...l, ...Array<string>(Math.max(0, fill)).fill('0'), ...r];
  if (all.length !== 8) return null;
  const nums = all.map((g) => parseInt(g, 16));
  return nums.every((n) => Number.isInteger(n) && n >= 0 && n <= 0xffff) ? nums : null;
}

/** True for any address a webhook must never reach: loopback, private, link-local, CGNAT, multicast… */
export function isBlockedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family === 6) {
    const v4 = embeddedIpv4(address);
    if (v4 !== null) return blocked.check(v4, 'ipv4') || blocked.check(address, 'ipv6');
    return blocked.check(address, 'ipv6');
  }
  return true; // not an address at all
}

export class UnsafeUrlError extends Error {
  constructor(reason: string) { super(`refused webhook URL: ${reason}`); this.name = 'UnsafeUrlError'; }
}

interface ResolvedAddress { address: string; family: 4 | 6 }
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export interface UrlGuardOptions {
  /** DNS resolution (tests inject hostile answers). Default: dns.lookup with all addresses. */
  resolve?: Resolver;
  /**
   * Test seam: exact `host:port` values allowed over plain http and to private addresses (a local
   * receiver in tests). Production never sets it.
   */
  allowHosts?: string[];
}

const systemResolve: Resolver = async (hostname) =>
  (await dnsLookup(hostname, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));

/**
 * Validate a webhook URL and pick the address to connect to. Numeric host tricks (decimal, octal or
 * hex IPv4 such as https://2130706433 or https://0x7f.1) are normalised by the WHATWG URL parser to
 * dotted form first, so they are checked as the address they really are.
 */
export async function checkWebhookUrl(raw: string, opts: UrlGuardOptions = {}): Promise<{ url: URL; pinned: ResolvedAddress }> {
  let url: URL;
  try { url = new URL(raw); } catch { throw new UnsafeUrlError('not a URL'); }
  const allowed = opts.allowHosts?.includes(url.host) ?? false;
  if (url.protocol !== 'https:' && !(allowed && url.protocol === 'http:')) throw new UnsafeUrlError('https only');
  if (url.username || url.password) throw new UnsafeUrlError('credentials in the URL');
  if (url.port && !allowed) throw new UnsafeUrlError('only the default https port');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!host) throw new UnsafeUrlError('no host');
  const literal = isIP(host);
  const addresses: ResolvedAddress[] = literal
    ? [{ address: host, family: literal === 6 ? 6 : 4 }]
    : await (opts.resolve ?? systemResolve)(host).catch(() => { throw new UnsafeUrlError('host does not resolve'); });
  if (addresses.length === 0) throw new UnsafeUrlError('host does not resolve');
  // Every answer must be safe: otherwise a round-robin record could mix a public and a private address.
  if (!allowed && addresses.some((a) => isBlockedAddress(a.address))) throw new UnsafeUrlError('host is or resolves to a non-public address');
  return { url, pinned: addresses[0]! };
}

export interface PostResult {
  status: number;
  /** A 429's Retry-After in seconds, when it gave a number (Slack's webhooks do). */
  retryAfterSec?: number;
}

/**
 * POST a JSON body to a checked URL, connecting only to the pinned address. No redirects (a 3xx is
 * just a failed status), a hard timeout, and the response body is read and dropped.
 */
export async function guardedPostJson(raw: string, body: string, opts: UrlGuardOptions & { timeoutMs?: number } = {}): Promise<PostResult> {
  // One deadline for all of it (the name's resolution, connecting, the answer to its last byte): the
  // socket's own timeout is an idle one, which each trickled byte restarts, and a web request (the
  // Sentinel test message) waits on this. Past it, nothing more is sent.
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const stop = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => { stop.abort(); reject(new Error('webhook timed out')); }, timeoutMs);
  });
  try {
    return await Promise.race([deadline, postChecked(raw, body, opts, timeoutMs, stop.signal)]);
  } finally {
    clearTimeout(timer);
  }
}

async function postChecked(raw: string, body: string, opts: UrlGuardOptions, timeoutMs: number, signal: AbortSignal): Promise<PostResult> {
  const { url, pinned } = await checkWebhookUrl(raw, opts);
  signal.throwIfAborted(); // resolved after the deadline: not sent
  const lookup: LookupFunction = (_hostname, options, callback) => {
    if ((options as { all?: boolean }).all) (callback as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [pinned]);
    else callback(null, pinned.address, pinned.family);
  };
  const requestOptions: RequestOptions & { servername?: string } = {
    method: 'POST',
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port || (url.protocol === 'https:' ? 443 : 80),
    path: `${url.pathname}${url.search}`,
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    lookup,
    agent: false,
    timeout: timeoutMs,
    signal,
  };
  if (url.protocol === 'https:' && !isIP(requestOptions.host as string)) requestOptions.servername = requestOptions.host as string;
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<PostResult>((resolve, reject) => {
    const req = send(requestOptions, (res) => {
      res.resume();
      const retryAfter = res.statusCode === 429 && /^\d{1,6}$/.test(String(res.headers['retry-after'] ?? '')) ? Number(res.headers['retry-after']) : undefined;
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ...(retryAfter === undefined ? {} : { retryAfterSec: retryAfter }) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('webhook timed out')));
    req.on('error', reject);
    req.end(body);
  });
}
