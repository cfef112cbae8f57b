/**
 * The server key tokens are encrypted to: given in `init`, or the first key of
 * `GET {endpoint}/v1/keys` through wx.request, cached in memory and for five
 * minutes in wx storage (`riskgate:key:{endpoint}`), as the web SDK does with
 * localStorage. Two attempts; a failure is not cached.
 */
import { asServerKey, cachedServerKey, KEY_CACHE_TTL_MS } from '../../core/keys.js';
import type { ServerTokenKey } from '../../../shared/jwk.js';
import { wxRequest } from './transport.js';
import type { Wx } from './wx.js';

const STORAGE_PREFIX = 'riskgate:key:';

function readCached(wx: Wx, endpoint: string, now: number): ServerTokenKey | undefined {
  try {
    const entry = wx.getStorageSync?.(STORAGE_PREFIX + endpoint) as { at?: unknown; key?: unknown } | '' | undefined;
    if (!entry || typeof entry !== 'object' || typeof entry.at !== 'number') return undefined;
    const age = now - entry.at;
    return age >= 0 && age < KEY_CACHE_TTL_MS ? asServerKey(entry.key) : undefined;
  } catch {
    return undefined;
  }
}

function writeCached(wx: Wx, endpoint: string, key: ServerTokenKey, now: number): void {
  try {
    wx.setStorageSync?.(STORAGE_PREFIX + endpoint, { at: now, key });
  } catch {
    // Full storage: the memory cache still holds the key.
  }
}

async function fetchKey(wx: Wx, endpoint: string, timeoutMs: number): Promise<ServerTokenKey> {
  const { status, body } = await wxRequest<{ keys: unknown[] }>(wx, 'GET', `${endpoint}/v1/keys`, undefined, timeoutMs);
  if (status !== 200) throw new Error(status === 0 ? String(body.message) : `GET /v1/keys answered ${status}`);
  const key = Array.isArray(body.keys) ? asServerKey(body.keys[0]) : undefined;
  if (!key) throw new Error('GET /v1/keys has no P-256 key');
  return key;
}

/** Memory, then wx storage, then wx.request (one retry). Rejects with RiskGateError `key_unavailable`. */
export function loadServerKey(wx: Wx, endpoint: string, fetchTimeoutMs: number): Promise<ServerTokenKey> {
  return cachedServerKey(endpoint, {
    read: (now) => readCached(wx, endpoint, now),
    write: (key, now) => writeCached(wx, endpoint, key, now),
    fetch: () => fetchKey(wx, endpoint, fetchTimeoutMs),
  });
}
