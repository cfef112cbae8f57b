/**
 * The server key tokens are encrypted to: given in `init`, or the first key of
 * `GET {endpoint}/v1/keys`, cached in memory and for five minutes in
 * localStorage (or sessionStorage) so that page loads skip the request. The
 * mini-program SDK keeps it the same way in wx storage (cachedServerKey).
 */
import type { ServerTokenKey } from '../../shared/jwk.js';
import { RiskGateError } from './errors.js';

export const KEY_CACHE_TTL_MS = 5 * 60_000;
const STORAGE_PREFIX = 'riskgate:key:';
const COORDINATE = /^[A-Za-z0-9_-]{43}$/;

/** A P-256 public key with a `kid`, or undefined; extra JWK members are dropped. */
export function asServerKey(value: unknown): ServerTokenKey | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const jwk = value as Record<string, unknown>;
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.kid !== 'string' || jwk.kid === '') return undefined;
  if (typeof jwk.x !== 'string' || typeof jwk.y !== 'string' || !COORDINATE.test(jwk.x) || !COORDINATE.test(jwk.y)) return undefined;
  return { kid: jwk.kid, kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y };
}

type Win = Window & typeof globalThis;

/** Storage can be missing, disabled, or throw on access (sandboxed frames, blocked cookies). */
function storages(win: Win): Storage[] {
  const found: Storage[] = [];
  for (const name of ['localStorage', 'sessionStorage'] as const) {
    try {
      const storage = win[name];
      if (storage) found.push(storage);
    } catch {
      // Access denied: skip it.
    }
  }
  return found;
}

function readCached(win: Win, endpoint: string, now: number): ServerTokenKey | undefined {
  for (const storage of storages(win)) {
    try {
      const raw = storage.getItem(STORAGE_PREFIX + endpoint);
      if (!raw) continue;
      const entry = JSON.parse(raw) as { at?: unknown; key?: unknown };
      const key = asServerKey(entry.key);
      if (key && typeof entry.at === 'number' && now - entry.at >= 0 && now - entry.at < KEY_CACHE_TTL_MS) return key;
    } catch {
      // Unreadable entry: ignore it, a fetch will replace it.
    }
  }
  return undefined;
}

function writeCached(win: Win, endpoint: string, key: ServerTokenKey, now: number): void {
  const [storage] = storages(win);
  try {
    storage?.setItem(STORAGE_PREFIX + endpoint, JSON.stringify({ at: now, key }));
  } catch {
    // Full or read-only storage: the memory cache still holds the key.
  }
}

async function fetchKey(win: Win, endpoint: string, timeoutMs: number): Promise<ServerTokenKey> {
  const controller = typeof win.AbortController === 'function' ? new win.AbortController() : undefined;
  const timer = win.setTimeout(() => controller?.abort(), timeoutMs);
  try {
    const response = await win.fetch(`${endpoint}/v1/keys`, {
      credentials: 'omit',
      headers: { accept: 'application/json' },
      signal: controller?.signal,
    });
    if (!response.ok) throw new Error(`GET /v1/keys answered ${response.status}`);
    const body = (await response.json()) as { keys?: unknown };
    const key = Array.isArray(body.keys) ? asServerKey(body.keys[0]) : undefined;
    if (!key) throw new Error('GET /v1/keys has no P-256 key');
    return key;
  } finally {
    win.clearTimeout(timer);
  }
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

/** The web SDK's key: localStorage (or sessionStorage) and fetch. */
export function loadServerKey(win: Win, endpoint: string, fetchTimeoutMs: number): Promise<ServerTokenKey> {
  return cachedServerKey(endpoint, {
    read: (now) => readCached(win, endpoint, now),
    write: (key, now) => writeCached(win, endpoint, key, now),
    fetch: () => (typeof win.fetch === 'function' ? fetchKey(win, endpoint, fetchTimeoutMs) : Promise.reject(new Error('fetch is not available'))),
  });
}
