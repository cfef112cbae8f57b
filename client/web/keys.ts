/**
 * The web SDK's server key (see the core's cachedServerKey): kept for five
 * minutes in localStorage (or sessionStorage) so that page loads skip the
 * request, and fetched from `GET {endpoint}/v1/keys`.
 */
import type { ServerTokenKey } from '../../shared/jwk.js';
import { asServerKey, cachedServerKey, KEY_CACHE_TTL_MS } from '../core/keys.js';

const STORAGE_PREFIX = 'riskgate:key:';

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

/** The web SDK's key: localStorage (or sessionStorage) and fetch. */
export function loadServerKey(win: Win, endpoint: string, fetchTimeoutMs: number): Promise<ServerTokenKey> {
  return cachedServerKey(endpoint, {
    read: (now) => readCached(win, endpoint, now),
    write: (key, now) => writeCached(win, endpoint, key, now),
    fetch: () => (typeof win.fetch === 'function' ? fetchKey(win, endpoint, fetchTimeoutMs) : Promise.reject(new Error('fetch is not available'))),
  });
}
