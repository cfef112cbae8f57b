/**
 * The device key: a P-256 secret key kept in the mini-program's storage under
 * `riskgate:device`, created once and re-used by every later token, so the
 * server's device id (the public key's JWK thumbprint) is stable for this
 * WeChat user on this device until the storage is cleared.
 *
 * Unlike the web SDK's non-extractable IndexedDB key, this one is plain data:
 * anyone who controls the WeChat client can read it. It names a device; it
 * does not prove one. Where storage fails, a key kept in memory serves this run
 * of the mini-program and tokens say `device_key_store: "memory"`.
 */
import { base64url, base64urlDecode } from '../../core/token/encoding.js';
import type { Wx } from './wx.js';

export const DEVICE_KEY_STORAGE = 'riskgate:device';

export type DeviceKeyStore = 'wx_storage' | 'memory';

export interface DeviceKey {
  secretKey: Uint8Array;
  store: DeviceKeyStore;
}

/** What the key needs from the crypto chunk. */
export interface KeyCrypto {
  newSecretKey(seed: Uint8Array): Uint8Array;
  isValidSecretKey(secretKey: Uint8Array): boolean;
}

interface StoredKey {
  v: 1;
  /** The 32-byte secret key, base64url. */
  d: string;
}

// Created on first use: the key of this run when storage fails.
let memoryKey: Uint8Array | undefined;

function readStored(wx: Wx, crypto: KeyCrypto): Uint8Array | undefined {
  const stored = wx.getStorageSync?.(DEVICE_KEY_STORAGE) as Partial<StoredKey> | '' | undefined;
  if (!stored || typeof stored !== 'object' || stored.v !== 1 || typeof stored.d !== 'string') return undefined;
  try {
    const secretKey = base64urlDecode(stored.d);
    return crypto.isValidSecretKey(secretKey) ? secretKey : undefined;
  } catch {
    return undefined;
  }
}

/** The stored key, or a new one (stored now); `seed` gives the random bytes a new key needs. */
export function loadDeviceKey(wx: Wx, crypto: KeyCrypto, seed: () => Uint8Array): DeviceKey {
  let readable = true;
  try {
    const stored = readStored(wx, crypto);
    if (stored) return { secretKey: stored, store: 'wx_storage' };
  } catch {
    readable = false;
  }
  const secretKey = memoryKey ?? crypto.newSecretKey(seed());
  if (readable) {
    try {
      if (typeof wx.setStorageSync !== 'function') throw new Error('no wx.setStorageSync');
      wx.setStorageSync(DEVICE_KEY_STORAGE, { v: 1, d: base64url(secretKey) } satisfies StoredKey);
      memoryKey = undefined;
      return { secretKey, store: 'wx_storage' };
    } catch {
      // Full or failing storage: keep the key for this run.
    }
  }
  memoryKey = secretKey;
  return { secretKey, store: 'memory' };
}
