import { isIP } from 'node:net';

/**
 * Why an entry is not a plain IP address or `address/prefix` CIDR, or
 * undefined when it is. Only standard spellings count (`127.1` is refused):
 * a list of networks should read as what it matches.
 */
export function networkProblem(entry: string): string | undefined {
  const slash = entry.indexOf('/');
  const address = slash === -1 ? entry : entry.slice(0, slash);
  const family = isIP(address);
  if (family === 0) return `"${entry}" is not an IP address or CIDR`;
  if (slash === -1) return undefined;
  const bits = entry.slice(slash + 1);
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128) ? undefined : `"${entry}" has an invalid prefix length`;
}
