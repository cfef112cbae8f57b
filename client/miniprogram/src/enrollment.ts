/**
 * Device enrollment in a mini-program: the shared flow (client/core/enrollment.ts)
 * over wx.request, the puzzle solved with the crypto chunk's PBKDF2
 * (@noble/hashes) one key derivation per macrotask, so the UI thread is never
 * held for more than one derivation (a few ms), and the certificate kept in wx
 * storage beside the device key (`riskgate:cert:{app_key}`, with the key's x
 * coordinate).
 */
import { startEnrollment, type EnrollmentState, type Puzzle } from '../../core/enrollment.js';
import type { DeviceSigner } from '../../core/token/build.js';
import type { CryptoChunk } from './token-crypto.js';
import { wxRequest } from './transport.js';
import type { Wx } from './wx.js';

/** One request's budget. */
const REQUEST_TIMEOUT_MS = 15_000;

const hexBytes = (hex: string) => new Uint8Array((hex.match(/../g) ?? []).map((h) => parseInt(h, 16)));
const toHex = (bytes: Uint8Array) => Array.from(bytes, (b) => (b + 256).toString(16).slice(1)).join('');
const nextTask = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** The ALTCHA v2 PBKDF2/SHA-256 solver in slices: one derivation, then a yield to the UI. */
export async function solveInSlices(chunk: Pick<CryptoChunk, 'pbkdf2Sha256'>, p: Puzzle): Promise<[number, string]> {
  const nonce = hexBytes(p.nonce);
  const salt = hexBytes(p.salt);
  const password = new Uint8Array(nonce.length + 4);
  password.set(nonce);
  const view = new DataView(password.buffer);
  for (let counter = 0; counter < 2 ** 32; counter++) {
    view.setUint32(nonce.length, counter);
    const hex = toHex(chunk.pbkdf2Sha256(password, salt, p.cost));
    if (hex.startsWith(p.key_prefix)) return [counter, hex];
    await nextTask();
  }
  throw new Error('no solution');
}

export function enrollMiniProgram(wx: Wx, endpoint: string, appKey: string, ready: Promise<{ chunk: CryptoChunk; signer: DeviceSigner }>): () => Promise<EnrollmentState> {
  const storageKey = `riskgate:cert:${appKey}`;
  const signer = ready.then((r) => r.signer);
  return startEnrollment(
    {
      post: async (path, body) => {
        const answer = await wxRequest<Record<string, unknown>>(wx, 'POST', endpoint + path, body, REQUEST_TIMEOUT_MS);
        if (answer.status === 0) throw new Error('network');
        return answer.body as { code?: number; error?: string };
      },
      solve: async (puzzle) => solveInSlices((await ready).chunk, puzzle),
      load: async () => {
        const { x } = (await signer).publicKey;
        const stored = wx.getStorageSync?.(storageKey) as { x?: string; cert?: string } | '' | undefined;
        return stored && typeof stored === 'object' && stored.x === x && typeof stored.cert === 'string' ? stored.cert : undefined;
      },
      save: async (cert) => {
        wx.setStorageSync?.(storageKey, { x: (await signer).publicKey.x, cert });
      },
    },
    appKey,
    signer,
  );
}
