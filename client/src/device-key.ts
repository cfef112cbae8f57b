/**
 * The device key: a non-extractable ECDSA P-256 key pair that signs every
 * token; the server's device id is its JWK thumbprint. It lives in IndexedDB
 * (database `riskgate`, store `device`), so it survives reloads but not a
 * cleared profile. Where IndexedDB is missing, fails or hangs (some private
 * modes), an in-memory key serves the page and tokens say `memory`.
 *
 * Loaded or created once per page, whatever the number of `init` calls.
 */
import type { DeviceSigner } from './token/build.js';
import { generateDeviceKeyPair, webCryptoDeviceSigner } from './token/webcrypto.js';

export type DeviceKeyStore = 'indexeddb' | 'memory';

export interface DeviceKey {
  signer: DeviceSigner;
  store: DeviceKeyStore;
}

const DB_NAME = 'riskgate';
const STORE = 'device';
const RECORD = 'key';
/** IndexedDB can hang without an error (old Firefox private windows): give up after this. */
export const IDB_TIMEOUT_MS = 800;

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
  });
}

function openDb(factory: IDBFactory): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const open = factory.open(DB_NAME, 1);
    open.onupgradeneeded = () => {
      if (!open.result.objectStoreNames.contains(STORE)) open.result.createObjectStore(STORE);
    };
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error ?? new Error('IndexedDB open failed'));
    open.onblocked = () => reject(new Error('IndexedDB open blocked'));
  });
}

const isKeyPair = (value: unknown): value is CryptoKeyPair =>
  value !== null &&
  typeof value === 'object' &&
  typeof (value as CryptoKeyPair).privateKey === 'object' &&
  typeof (value as CryptoKeyPair).publicKey === 'object' &&
  (value as CryptoKeyPair).privateKey !== null &&
  (value as CryptoKeyPair).publicKey !== null;

async function loadOrCreateStored(factory: IDBFactory, subtle: SubtleCrypto): Promise<CryptoKeyPair> {
  const db = await openDb(factory);
  try {
    const existing: unknown = await request(db.transaction(STORE, 'readonly').objectStore(STORE).get(RECORD));
    if (isKeyPair(existing)) return existing;
    const created = await generateDeviceKeyPair(subtle);
    // Another tab may have stored a key meanwhile: keep the first one written.
    const tx = db.transaction(STORE, 'readwrite');
    const store = tx.objectStore(STORE);
    const raced: unknown = await request(store.get(RECORD));
    if (isKeyPair(raced)) return raced;
    store.put(created, RECORD);
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB write failed'));
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB write aborted'));
    });
    return created;
  } finally {
    db.close();
  }
}

let deviceKey: Promise<DeviceKey> | undefined;

/** The page's device key; the first call decides where it lives. */
export function loadDeviceKey(win: Window & typeof globalThis, subtle: SubtleCrypto): Promise<DeviceKey> {
  deviceKey ??= (async (): Promise<DeviceKey> => {
    let factory: IDBFactory | undefined;
    try {
      factory = win.indexedDB ?? undefined;
    } catch {
      // SecurityError in sandboxed or opaque-origin frames.
    }
    if (factory) {
      let timer: number | undefined;
      try {
        const pair = await Promise.race([
          loadOrCreateStored(factory, subtle),
          new Promise<never>((_, reject) => {
            timer = win.setTimeout(() => reject(new Error('IndexedDB timed out')), IDB_TIMEOUT_MS);
          }),
        ]);
        return { signer: await webCryptoDeviceSigner(subtle, pair), store: 'indexeddb' };
      } catch {
        // Fall through to a key for this page only.
      } finally {
        if (timer !== undefined) win.clearTimeout(timer);
      }
    }
    return { signer: await webCryptoDeviceSigner(subtle, await generateDeviceKeyPair(subtle)), store: 'memory' };
  })();
  deviceKey.catch(() => {
    deviceKey = undefined; // WebCrypto itself failed: let a later call try again
  });
  return deviceKey;
}
