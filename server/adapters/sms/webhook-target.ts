/**
 * Where the SMS webhook may connect. RiskGate POSTs codes to a URL from its
 * configuration; a wrong or tampered URL, or a DNS answer that changes after
 * start-up (DNS rebinding), must not make it a client of the host's own
 * services: loopback, cloud metadata (169.254.169.254), the private network.
 *
 * Only public addresses are allowed, plus the networks the configuration
 * names (`allowed_networks`, addresses or CIDRs: a gateway on the private
 * network). Names are not accepted there, because a name's answer can change.
 * The URL's host is checked at start-up when it is an IP literal, and every
 * DNS answer for a name is checked when the connection is made, on the
 * address actually connected to.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { networkProblem } from '../../config/networks.js';
import { ipKind } from '../../engine/features/identity.js';

/** A connection the policy refused: the target is not public and not in the allowed networks. */
export class BlockedTargetError extends Error {
  override readonly name = 'BlockedTargetError';
  constructor(readonly address: string) {
    super(`${address} is not a public address and not in allowed_networks`);
  }
}

type Network = [ipaddr.IPv4 | ipaddr.IPv6, number];

function parseNetwork(entry: string): Network {
  const problem = networkProblem(entry);
  if (problem) throw new TypeError(`allowed_networks: ${problem} (names are not accepted: their answer can change)`);
  if (entry.includes('/')) return ipaddr.parseCIDR(entry);
  const address = ipaddr.process(entry);
  return [address, address.kind() === 'ipv4' ? 32 : 128];
}

/** Decides which addresses the webhook may connect to. */
export class WebhookTargetPolicy {
  readonly #allowed: readonly Network[];

  /** Throws a TypeError naming an entry that is not an address or CIDR. */
  constructor(allowedNetworks: readonly string[] = []) {
    this.#allowed = allowedNetworks.map(parseNetwork);
  }

  /** Public addresses, and those in an allowed network. IPv4-mapped IPv6 counts as its IPv4 address. */
  permits(address: string): boolean {
    if (ipKind(address) === 'public') return true;
    if (isIP(address) === 0) return false;
    const parsed = ipaddr.process(address);
    return this.#allowed.some(([network, bits]) => network.kind() === parsed.kind() && parsed.match(network, bits));
  }

  /**
   * Why the URL's host is refused before any connection, or undefined. Hosts
   * that are IP literals (the URL parser has already turned `2130706433` and
   * `0x7f.1` into `127.0.0.1`) are checked here, since no DNS look-up happens
   * for them; `localhost` names are loopback by definition (RFC 6761).
   */
  hostProblem(url: URL): string | undefined {
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '').toLowerCase();
    if (isIP(host) !== 0) return this.permits(host) ? undefined : `${host} is not a public address; list it in allowed_networks to allow it`;
    if (host === 'localhost' || host.endsWith('.localhost')) {
      return this.permits('127.0.0.1') && this.permits('::1') ? undefined : `${host} is loopback; list 127.0.0.1 and ::1 in allowed_networks to allow it`;
    }
    return undefined;
  }

  /**
   * A `lookup` for node:http that resolves as usual and refuses the whole
   * answer when any address in it is not permitted (the connection would try
   * them in turn). `resolve` is injectable for tests.
   */
  lookup(resolve: typeof dnsLookup = dnsLookup): LookupFunction {
    return (hostname, options, callback) => {
      const all: LookupAllOptions = { ...options, all: true };
      resolve(hostname, all, (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => {
        if (error) return callback(error, '');
        const refused = addresses.find(({ address }) => !this.permits(address));
        if (refused) return callback(new BlockedTargetError(refused.address), '');
        if (options.all) return callback(null, addresses);
        const [first] = addresses;
        if (!first) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), '');
        callback(null, first.address, first.family);
      });
    };
  }
}

/**
 * Why a webhook URL is refused at start-up, or undefined: not http(s), plain
 * http without `allowInsecureHttp`, or a non-public IP literal host.
 */
export function webhookUrlProblem(url: string, options: { allowInsecureHttp: boolean; policy: WebhookTargetPolicy }): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'is not a valid URL';
  }
  if (parsed.protocol === 'http:' && !options.allowInsecureHttp) return 'must be https: (plain http: only with allow_insecure_http: true, for development)';
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return 'must be an https: URL';
  return options.policy.hostProblem(parsed);
}
