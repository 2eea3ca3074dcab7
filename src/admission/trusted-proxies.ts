// Owns the question "is this TCP peer one of the proxies TRUST_PROXY names?",
// for the per-address socket cap: a proxy's sockets carry many clients, so
// only the total cap applies to them, while any other peer keeps its own
// per-address cap. Pure.

import { BlockList, isIP } from 'node:net';
import { bareAddress } from './client-key.js';

/**
 * `false`/0: no proxy. A hop count: every peer is taken for the proxy (the bridge cannot tell which one it is, so
 * its port must be reachable only through the proxy). A list: the addresses and CIDRs given.
 */
export function trustedProxyPeer(trust: boolean | number | readonly string[]): (address: string) => boolean {
  if (trust === false || trust === 0) return () => false;
  if (trust === true || typeof trust === 'number') return () => true;
  const list = new BlockList();
  for (const entry of trust) {
    const [address = '', prefix] = entry.split('/');
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(prefix), family);
  }
  return (address) => {
    const bare = bareAddress(address);
    return bare !== undefined && list.check(bare, isIP(bare) === 6 ? 'ipv6' : 'ipv4');
  };
}
