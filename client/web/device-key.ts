/**
 * The device key: a non-extractable ECDSA P-256 key pair that signs every
 * token; the server's device id is its JWK thumbprint. It lives in IndexedDB
 * (database `riskgate`, store `device`), so it survives reloads but not a
 * cleared profile. Where IndexedDB is missing, fails or hangs (some private
 * modes), an in-memory key serves the page and tokens say `memory`.
 *
 * Loaded or created once per page, whatever the number of `init` calls.
 */
import type { DeviceSigner } from '../core/token/build.js';
import { generateDeviceKeyPair, webCryptoDeviceSigner } from './webcrypto.js';

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

const isKeyPair = (value: unknown): value is CryptoKeyPair =>
  value !== null &&
  typeof value === 'object' &&
  typeof (value as CryptoKeyPair).privateKey === 'object' &&
  typeof (value as CryptoKeyPair).publicKey === 'object' &&
  (value as CryptoKeyPair).privateKey !== null &&
  (value as CryptoKeyPair).publicKey !== null;

/**
 * The stored key, or else a new one stored.
 * - A new key is made while the database opens, not after it: on a first visit
 *   the open is slow (50–200 ms, the browser creates the database), and on a
 *   later one an unused key costs about a millisecond of WebCrypto.
 * - When the open creates the database, no key can be stored in it yet: the key
 *   made meanwhile is stored by the upgrade itself and used at once, without
 *   waiting for that write to commit (should it fail, the next page makes
 *   another key). Only one connection upgrades a database, so two tabs of a
 *   first visit do not both store a key.
 * - Otherwise one read-write transaction reads the key, or stores the new one
 *   if there is none.
 */
function loadOrCreateStored(factory: IDBFactory, subtle: SubtleCrypto): Promise<CryptoKeyPair> {
  let made: CryptoKeyPair | undefined;
  const candidate = generateDeviceKeyPair(subtle).then((pair) => (made = pair));
  candidate.catch(() => {}); // awaited below when needed; not an unhandled rejection meanwhile
  return new Promise((resolve, reject) => {
    const open = factory.open(DB_NAME, 1);
    open.onupgradeneeded = () => {
      const db = open.result;
      const store = db.objectStoreNames.contains(STORE) ? open.transaction!.objectStore(STORE) : db.createObjectStore(STORE);
      if (made) {
        store.put(made, RECORD);
        resolve(made);
      }
    };
    open.onsuccess = () => {
      const db = open.result;
      readOrStore(db, candidate).then(resolve, reject).finally(() => db.close()); // closes once its transaction commits
    };
    open.onerror = () => reject(open.error ?? new Error('IndexedDB open failed'));
    open.onblocked = () => reject(new Error('IndexedDB open blocked'));
  });
}

async function readOrStore(db: IDBDatabase, candidate: Promise<CryptoKeyPair>): Promise<CryptoKeyPair> {
  const created = await candidate;
  const store = db.transaction(STORE, 'readwrite').objectStore(STORE);
  const existing: unknown = await request(store.get(RECORD));
  if (isKeyPair(existing)) return existing;
  await request(store.put(created, RECORD));
  return created;
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
