// Owns the key under which a client address is counted by the abuse limits:
// an IPv4 address as is (IPv4-mapped IPv6 unwrapped), an IPv6 address by its
// /64 prefix, since one host commonly holds a whole /64. Pure.

import { isIP } from 'node:net';

/** Every value that is not an address shares one key: a source of garbage is limited as one client. */
export const UNPARSEABLE_ADDRESS_KEY = 'unparseable';

export function clientKey(raw: string): string {
  const ip = bareAddress(raw);
  if (ip === undefined) return UNPARSEABLE_ADDRESS_KEY;
  if (!ip.includes(':')) return ip;
  const [head = '', tail = ''] = ip.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = ip.includes('::') ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => (g === '' ? '0' : g.toLowerCase().replace(/^0+(?=.)/, '')))
    .join(':')}::/64`;
}

/**
 * The address in a socket's remote address or an X-Forwarded-For entry, IPv4-mapped IPv6 (how dual-stack sockets
 * report IPv4 peers) unwrapped; undefined if there is none. Some proxies write the client's port too
 * (`203.0.113.7:40001`, `[2001:db8::1]:40001`): counted with it, every source port would be a new client.
 */
export function bareAddress(value: string): string | undefined {
  if (value.startsWith('::ffff:') && isIP(value.slice(7)) === 4) return value.slice(7);
  if (isIP(value) !== 0) return value;
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(value)?.[1];
  if (v4 !== undefined && isIP(v4) === 4) return v4;
  const v6 = /^\[([0-9a-fA-F:.]+)\](?::\d{1,5})?$/.exec(value)?.[1];
  if (v6 !== undefined && isIP(v6) === 6) return v6;
  return undefined;
}
