/**
 * Randomness for one token. `TokenCrypto.randomBytes` is synchronous but
 * `wx.getRandomValues` (base library 2.15.0+) answers through a callback, so
 * each token first fetches every byte it will need into a pool and then draws
 * from it. Where the API is missing, fails or does not answer in time, the
 * weak fallback of crypto.ts fills the pool and the token says so.
 */
import type { Wx } from './wx.js';

/** jti 16, IV 12, ephemeral key seed 48, signing entropy 32, a device key seed 48: 156, rounded up. */
export const TOKEN_ENTROPY_BYTES = 192;
/** A callback that never comes must not hold the token back for long. */
const RANDOM_TIMEOUT_MS = 300;

export type RandomSource = 'wx' | 'weak';

export class EntropyPool {
  private offset = 0;

  constructor(
    private readonly bytes: Uint8Array,
    readonly source: RandomSource,
  ) {}

  /** The next `length` bytes; each byte is handed out once. */
  take = (length: number): Uint8Array => {
    if (this.offset + length > this.bytes.length) throw new Error('RiskGate: entropy pool exhausted');
    const out = this.bytes.slice(this.offset, this.offset + length);
    this.offset += length;
    return out;
  };
}

export function wxRandomBytes(wx: Wx, length: number): Promise<Uint8Array | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), RANDOM_TIMEOUT_MS);
    const settle = (bytes: Uint8Array | undefined) => {
      clearTimeout(timer);
      resolve(bytes);
    };
    try {
      if (typeof wx.getRandomValues !== 'function') return settle(undefined);
      wx.getRandomValues({
        length,
        success: (result) => {
          // An ArrayBuffer from the client's bridge: check its shape, not its realm.
          const buffer = result?.randomValues;
          const bytes = buffer && typeof buffer.byteLength === 'number' ? new Uint8Array(buffer) : undefined;
          settle(bytes && bytes.length === length ? bytes : undefined);
        },
        fail: () => settle(undefined),
      });
    } catch {
      settle(undefined);
    }
  });
}

/** A pool of `length` bytes: from wx.getRandomValues when it works, else from `weak`. */
export async function entropyPool(wx: Wx, length: number, weak: (length: number) => Uint8Array): Promise<EntropyPool> {
  const bytes = await wxRandomBytes(wx, length);
  return bytes ? new EntropyPool(bytes, 'wx') : new EntropyPool(weak(length), 'weak');
}
