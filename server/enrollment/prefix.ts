/**
 * The network a client is in, as enrollment counts and binds it: an IPv4
 * address's /24, an IPv6 address's /64 (one subscriber usually holds a whole
 * /64). IPv4-mapped IPv6 is the IPv4 address. "" for anything that is not an
 * address.
 */
import ipaddr from 'ipaddr.js';

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
