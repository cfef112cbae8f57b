/**
 * The units clients are counted under: an address (rate limits), a network
 * prefix (enrollment, slider tries). One subscriber usually holds a whole IPv6
 * /64; IPv4-mapped IPv6 is the IPv4 address.
 */
import ipaddr from 'ipaddr.js';

/**
 * The network a client is in, as enrollment counts and binds it: an IPv4
 * address's /24, an IPv6 address's /64. "" for anything that is not an
 * address.
 */
export function ipPrefix(ip: string | undefined): string {
  if (!ip) return '';
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    const bare = ip.trim().split('%')[0]!;
    if (!ipaddr.IPv4.isValidFourPartDecimal(bare) && !ipaddr.IPv6.isValid(bare)) return '';
    addr = ipaddr.process(bare);
  } catch {
    return '';
  }
  if (addr.kind() === 'ipv4') return `${(addr as ipaddr.IPv4).octets.slice(0, 3).join('.')}.0/24`;
  const parts = (addr as ipaddr.IPv6).parts;
  return `${parts.slice(0, 4).map((p) => p.toString(16)).join(':')}::/64`;
}

/**
 * The key rate limits and pumping checks count a client under: an IPv4
 * address as it is, an IPv6 client by its /64 (one subscriber usually holds a
 * whole /64). IPv4-mapped IPv6 (`::ffff:203.0.113.5`, what a dual-stack
 * listener reports for IPv4 clients) is the IPv4 address: keyed on its /64,
 * every IPv4 client would share one bucket.
 */
export function rateLimitIp(ip: string): string {
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = ipaddr.process(ip.split('%')[0]!);
  } catch {
    return ip;
  }
  if (addr.kind() === 'ipv4') return addr.toString();
  const parts = (addr as ipaddr.IPv6).parts;
  return `${parts.slice(0, 4).map((p) => p.toString(16)).join(':')}::/64`;
}

/**
 * The network a client's tries are counted under: an IPv4 address's /24, an
 * IPv6 address's /64 (IPv4-mapped IPv6 is IPv4). Fresh addresses in one
 * subscriber's or one host's range then share a budget.
 */
export function networkPrefix(ip: string): string {
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = ipaddr.process(ip.split('%')[0]!);
  } catch {
    return ip;
  }
  if (addr.kind() === 'ipv4') return `${(addr as ipaddr.IPv4).octets.slice(0, 3).join('.')}.0/24`;
  return rateLimitIp(addr.toString());
}
