/**
 * The server key tokens are encrypted to: given in `init`, or the first key of
 * `GET {endpoint}/v1/keys`, cached in memory and for five minutes in the
 * platform's storage so that page loads skip the request (localStorage on the
 * web, wx storage in a mini-program: each platform's KeySource).
 */
import type { ServerTokenKey } from '../../shared/jwk.js';
import { RiskGateError } from './errors.js';

export const KEY_CACHE_TTL_MS = 5 * 60_000;
const COORDINATE = /^[A-Za-z0-9_-]{43}$/;

/** A P-256 public key with a `kid`, or undefined; extra JWK members are dropped. */
export function asServerKey(value: unknown): ServerTokenKey | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const jwk = value as Record<string, unknown>;
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.kid !== 'string' || jwk.kid === '') return undefined;
  if (typeof jwk.x !== 'string' || typeof jwk.y !== 'string' || !COORDINATE.test(jwk.x) || !COORDINATE.test(jwk.y)) return undefined;
  return { kid: jwk.kid, kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y };
}

/** How one platform keeps and fetches the key; see cachedServerKey. */
export interface KeySource {
  /** The stored key if fresh at `now`; never throws. */
  read(now: number): ServerTokenKey | undefined;
  /** Stores the key; never throws (a full storage leaves the memory cache). */
  write(key: ServerTokenKey, now: number): void;
  fetch(): Promise<ServerTokenKey>;
}

interface MemoryEntry {
  at: number;
  key: Promise<ServerTokenKey>;
}

// Per endpoint, shared by every client of the page or mini-program; created on first use.
let memory: Map<string, MemoryEntry> | undefined;

/**
 * Resolves the server key for `endpoint`: memory, then storage, then the
 * network (one retry). A failure is not cached, so a later token tries again.
 * Rejects with RiskGateError `key_unavailable`.
 */
export function cachedServerKey(endpoint: string, source: KeySource): Promise<ServerTokenKey> {
  memory ??= new Map();
  const now = Date.now();
  const cached = memory.get(endpoint);
  if (cached && now - cached.at < KEY_CACHE_TTL_MS) return cached.key;

  const stored = source.read(now);
  const entry: MemoryEntry = {
    at: now,
    key: stored
      ? Promise.resolve(stored)
      : (async () => {
          let firstError: unknown;
          for (let attempt = 0; attempt < 2; attempt++) {
            try {
              const key = await source.fetch();
              source.write(key, Date.now());
              return key;
            } catch (error) {
              firstError ??= error;
            }
          }
          throw new RiskGateError('key_unavailable', `RiskGate: cannot load the server key from ${endpoint}/v1/keys`, { cause: firstError });
        })(),
  };
  memory.set(endpoint, entry);
  entry.key.catch(() => {
    if (memory?.get(endpoint) === entry) memory.delete(endpoint);
  });
  return entry.key;
}
