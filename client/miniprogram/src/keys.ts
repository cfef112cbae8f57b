/**
 * The server key tokens are encrypted to: given in `init`, or the first key of
 * `GET {endpoint}/v1/keys` through wx.request, cached in memory and for five
 * minutes in wx storage (`riskgate:key:{endpoint}`), as the web SDK does with
 * localStorage. Two attempts; a failure is not cached.
 */
import { RiskGateError } from '../../src/errors.js';
import { asServerKey, KEY_CACHE_TTL_MS } from '../../src/keys.js';
import type { ServerTokenKey } from '../../src/token/build.js';
import { wxRequest } from './transport.js';
import type { Wx } from './wx.js';

const STORAGE_PREFIX = 'riskgate:key:';

interface MemoryEntry {
  at: number;
  key: Promise<ServerTokenKey>;
}

// Per endpoint, shared by every client; created on first use.
let memory: Map<string, MemoryEntry> | undefined;

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

/** Memory, then storage, then the network (one retry). Rejects with RiskGateError `key_unavailable`. */
export function loadServerKey(wx: Wx, endpoint: string, fetchTimeoutMs: number): Promise<ServerTokenKey> {
  memory ??= new Map();
  const now = Date.now();
  const cached = memory.get(endpoint);
  if (cached && now - cached.at < KEY_CACHE_TTL_MS) return cached.key;

  const stored = readCached(wx, endpoint, now);
  if (stored) {
    const entry = { at: now, key: Promise.resolve(stored) };
    memory.set(endpoint, entry);
    return entry.key;
  }

  const entry: MemoryEntry = {
    at: now,
    key: (async () => {
      let firstError: unknown;
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          const key = await fetchKey(wx, endpoint, fetchTimeoutMs);
          writeCached(wx, endpoint, key, Date.now());
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
