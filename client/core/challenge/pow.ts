/**
 * Solves a slider puzzle's proof of work (ALTCHA PoW v2, SHA-256): find the
 * counter whose key SHA-256^cost(salt ‖ nonce ‖ uint32be(counter)) starts with
 * key_prefix. The caller gives the SHA-256 (pure JS: @noble/hashes; the web
 * challenge chunk bundles it, the mini-program takes it from its crypto chunk;
 * mini-programs have no WebCrypto). It works the search in slices and yields
 * between them, so a drag stays smooth while it runs.
 *
 * The server sets the work (about 5,000–20,000 hashes by default: ~10 ms on a
 * desktop browser). Start it when the puzzle is shown; the drag takes longer.
 */
import type { SliderPow } from '../../../shared/schemas.js';

/** SHA-256 of the bytes. */
export type Sha256 = (data: Uint8Array) => Uint8Array;

/** The `pow` of a slider puzzle, as the server sends it. */
export type PowView = SliderPow;

export interface PowSolution {
  counter: number;
  derived_key: string;
}

/** Counters tried between yields. */
const SLICE = 2000;
/** Beyond this the puzzle is not ours to solve (a server misconfiguration): give up, the answer fails. */
const MAX_COUNTER = 50_000_000;

function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

function toHex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += (bytes[i]! < 16 ? '0' : '') + bytes[i]!.toString(16);
  return out;
}

/**
 * Tries counters [from, to); the solution, or undefined. `input` is
 * salt ‖ nonce ‖ 4 counter bytes, reused.
 */
function search(sha256: Sha256, view: PowView, input: Uint8Array, prefix: Uint8Array, evenPrefix: boolean, from: number, to: number): PowSolution | undefined {
  const at = input.length - 4;
  const rounds = Math.max(1, view.cost);
  for (let counter = from; counter < to; counter++) {
    input[at] = counter >>> 24;
    input[at + 1] = (counter >>> 16) & 255;
    input[at + 2] = (counter >>> 8) & 255;
    input[at + 3] = counter & 255;
    let key = sha256(input);
    for (let i = 1; i < rounds; i++) key = sha256(key);
    let match = true;
    for (let i = 0; i < prefix.length && match; i++) match = key[i] === prefix[i];
    if (!match) continue;
    const hex = toHex(key.subarray(0, view.key_length));
    if (evenPrefix || hex.startsWith(view.key_prefix)) return { counter, derived_key: hex };
  }
  return undefined;
}

/**
 * Solves `view`, yielding to the event loop every SLICE counters through
 * `defer` (setTimeout by default). Resolves undefined for a puzzle it cannot
 * solve (unknown algorithm, malformed fields, no solution in range).
 */
export function solvePow(view: PowView | undefined, sha256: Sha256, defer: (next: () => void) => void = (next) => setTimeout(next, 0)): Promise<PowSolution | undefined> {
  if (!view || view.algorithm !== 'SHA-256' || !/^[0-9a-f]+$/i.test(view.key_prefix) || !/^([0-9a-f]{2})*$/i.test(view.nonce + view.salt)) return Promise.resolve(undefined);
  const salt = fromHex(view.salt);
  const nonce = fromHex(view.nonce);
  const input = new Uint8Array(salt.length + nonce.length + 4);
  input.set(salt, 0);
  input.set(nonce, salt.length);
  const prefixHex = view.key_prefix.toLowerCase();
  const evenPrefix = prefixHex.length % 2 === 0;
  // An odd prefix: compare the whole bytes first, the last half byte as hex.
  const prefix = fromHex(evenPrefix ? prefixHex : prefixHex.slice(0, -1));
  const normal = { ...view, key_prefix: prefixHex };
  return new Promise((resolve) => {
    let from = 0;
    const step = () => {
      const found = search(sha256, normal, input, prefix, evenPrefix, from, from + SLICE);
      if (found) return resolve(found);
      from += SLICE;
      if (from >= MAX_COUNTER) return resolve(undefined);
      defer(step);
    };
    step();
  });
}
