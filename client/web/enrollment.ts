/**
 * Device enrollment in browsers: the puzzle is solved by WebCrypto's PBKDF2
 * in a blob Worker (on the page when a Content Security Policy forbids blob
 * workers; PBKDF2 is asynchronous there too), and the certificate is kept in
 * IndexedDB beside the device key (database `riskgate`, store `device`,
 * record `cert:{app_key}`, with the key's x coordinate so that a new key
 * never takes an old certificate).
 */
import type { DeviceSigner } from '../core/token/build.js';
import { startEnrollment, type EnrollmentState, type Puzzle } from '../core/enrollment.js';

/** Runs in the Worker as its source text, and on the page as a fallback: it must close over nothing. */
async function solvePuzzle(p: Puzzle): Promise<[number, string]> {
  const subtle = crypto.subtle;
  const bytes = (hex: string) => new Uint8Array(hex.match(/../g)!.map((h) => parseInt(h, 16)));
  const nonce = bytes(p.nonce);
  const password = new Uint8Array(nonce.length + 4);
  password.set(nonce);
  const view = new DataView(password.buffer);
  const params = { name: 'PBKDF2', hash: 'SHA-256', salt: bytes(p.salt), iterations: p.cost };
  for (let counter = 0; counter < 2 ** 32; counter++) {
    view.setUint32(nonce.length, counter);
    const key = await subtle.importKey('raw', password, 'PBKDF2', false, ['deriveBits']);
    const hex = Array.from(new Uint8Array(await subtle.deriveBits(params, key, 256)), (b) => (b + 256).toString(16).slice(1)).join('');
    if (hex.startsWith(p.key_prefix)) return [counter, hex];
  }
  throw 0;
}

function inWorker(win: Window & typeof globalThis, puzzle: Puzzle): Promise<[number, string]> {
  const url = win.URL.createObjectURL(new win.Blob([`onmessage=e=>(${solvePuzzle})(e.data).then(postMessage)`], { type: 'text/javascript' }));
  const worker = new win.Worker(url);
  return new Promise<[number, string]>((resolve, reject) => {
    worker.onmessage = (e) => resolve(e.data as [number, string]);
    worker.onerror = reject;
    worker.postMessage(puzzle);
  }).finally(() => {
    worker.terminate();
    win.URL.revokeObjectURL(url);
  });
}

function idb<T>(win: Window & typeof globalThis, use: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    const open = win.indexedDB.open('riskgate', 1);
    open.onupgradeneeded = () => open.result.createObjectStore('device');
    open.onerror = reject;
    open.onsuccess = () => {
      const db = open.result;
      const req = use(db.transaction('device', 'readwrite').objectStore('device'));
      req.onsuccess = () => resolve(req.result);
      req.onerror = reject;
      db.close();
    };
  });
}

export function enrollWebDevice(win: Window & typeof globalThis, endpoint: string, appKey: string, signer: Promise<DeviceSigner>): () => Promise<EnrollmentState> {
  const record = `cert:${appKey}`;
  let x = '';
  return startEnrollment(
    {
      post: (path, body) =>
        win.fetch(endpoint + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json()),
      solve: (puzzle) => inWorker(win, puzzle).catch(() => solvePuzzle(puzzle)),
      load: async () => {
        x = (await signer).publicKey.x;
        // IndexedDB can hang (see device-key.ts): a token never waits for it long.
        const stored = (await Promise.race([idb(win, (s) => s.get(record)), new Promise((_, reject) => win.setTimeout(reject, 300))])) as
          | { x?: string; cert?: string }
          | undefined;
        return stored?.x === x ? stored.cert : undefined;
      },
      save: (cert) => idb(win, (s) => s.put({ x, cert }, record)).then(() => {}),
    },
    appKey,
    signer,
  );
}
