/**
 * What the web and mini-program clients share: `init`'s options and their
 * check. Each platform's client.ts adds its sources, keys, crypto and
 * challenge UI.
 */
import type { ServerTokenKey } from '../../shared/jwk.js';
import { asServerKey } from './keys.js';

/** A server token key as `GET /v1/keys` lists it (extra JWK members are ignored). */
export type RiskGatePublicKey = ServerTokenKey;

export interface RiskGateOptions {
  /** The app's public key (`app_key`), named in every token. */
  appKey: string;
  /**
   * RiskGate's base URL, e.g. `https://risk.example.com`; keys come from
   * `{endpoint}/v1/keys`. In a mini-program, an absolute URL on one of its
   * request domains.
   */
  endpoint: string;
  /** The server key to encrypt to, instead of fetching `{endpoint}/v1/keys`. */
  publicKey?: RiskGatePublicKey;
  /** Time budget of one `getBlackBox()` call in milliseconds. Default 1000. */
  timeoutMs?: number;
}

export const DEFAULT_TIMEOUT_MS = 1000;

/** A caller's mistake in `init`: a TypeError, as in jose. */
export function invalid(problem: string): never {
  throw new TypeError(`RiskGate.init: ${problem}`);
}

export interface CheckedOptions {
  appKey: string;
  /** Without trailing slashes. */
  endpoint: string;
  serverKey?: ServerTokenKey;
  timeoutMs: number;
}

/**
 * `init`'s options, checked once; throws a TypeError naming the first bad one.
 * A page may name a path on its own origin as `endpoint`; a platform that
 * cannot resolve a relative URL (wx.request) asks for an `absoluteEndpoint`.
 */
export function checkOptions(options: RiskGateOptions, absoluteEndpoint?: boolean): CheckedOptions {
  if (options === null || typeof options !== 'object') invalid('options must be an object');
  const { appKey, endpoint, publicKey, timeoutMs = DEFAULT_TIMEOUT_MS } = options;
  if (typeof appKey !== 'string' || appKey.length === 0 || appKey.length > 128) invalid('appKey must be a string of 1 to 128 characters');
  if (typeof endpoint !== 'string' || !(absoluteEndpoint ? /^https?:\/\/[^/]/.test(endpoint) : endpoint.length > 0)) {
    invalid(`endpoint must be the RiskGate base URL${absoluteEndpoint ? ' (https://…)' : ''}`);
  }
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0) || !Number.isFinite(timeoutMs)) invalid('timeoutMs must be a positive number');
  const serverKey = publicKey === undefined ? undefined : (asServerKey(publicKey) ?? invalid('publicKey must be a P-256 JWK with kid, x and y'));
  return { serverKey, timeoutMs, endpoint: endpoint.replace(/\/+$/, ''), appKey };
}
