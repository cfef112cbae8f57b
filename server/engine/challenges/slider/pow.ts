/**
 * A proof of work for every slider puzzle (ALTCHA PoW v2, altcha-lib): the
 * puzzle carries a small key-derivation search, and its answer must carry the
 * solution. It makes each try cost the client CPU (about 10 ms in a desktop
 * browser, more on a phone), so a farm answering many fresh challenges pays
 * per try; it proves nothing about humanity.
 *
 * Deterministic mode: the server picks the counter (uniform in
 * [max/4, max]), derives the key once, and signs it (keySignature), so
 * verifying an answer is two HMACs and never a search. The whole challenge
 * stays server-side in the challenge record; the client gets only what it
 * needs to search (`PowView`), and answers `{counter, derived_key}`.
 *
 * SHA-256 with cost 1 (one hash per counter): the solver in the SDK (pure JS,
 * @noble/hashes) runs the same in a browser and a mini-program, which has no
 * WebCrypto.
 */
import { createHmac, randomInt } from 'node:crypto';
import { createChallenge, verifySolution, type Challenge } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/sha';
import type { SliderPow } from '../../../../shared/schemas.js';

export const POW_ALGORITHM = 'SHA-256';

/** What the client needs to search: the `pow` of a slider puzzle (shared/schemas.ts). */
export type PowView = SliderPow;

export interface PowSolution {
  counter: number;
  derived_key: string;
}

export interface IssuedPow {
  view: PowView;
  /** The signed challenge; keep it server-side. */
  challenge: Challenge;
}

export class PowIssuer {
  readonly #signatureSecret: string;
  readonly #keySecret: string;

  /** `secret`: the challenge service's secret (≥ 32 bytes); the HMAC keys are derived from it. */
  constructor(
    secret: Buffer,
    private readonly counterMax: number,
  ) {
    this.#signatureSecret = createHmac('sha256', secret).update('slider-pow:signature').digest('hex');
    this.#keySecret = createHmac('sha256', secret).update('slider-pow:key').digest('hex');
  }

  async issue(expiresAtMs: number): Promise<IssuedPow> {
    const max = Math.max(1, this.counterMax);
    const challenge = await createChallenge({
      algorithm: POW_ALGORITHM,
      cost: 1,
      counter: randomInt(Math.floor(max / 4), max + 1),
      deriveKey,
      expiresAt: Math.ceil(expiresAtMs / 1000),
      hmacSignatureSecret: this.#signatureSecret,
      hmacKeySignatureSecret: this.#keySecret,
    });
    const { nonce, salt, cost, keyLength, keyPrefix } = challenge.parameters;
    return { view: { algorithm: POW_ALGORITHM, nonce, salt, cost, key_length: keyLength, key_prefix: keyPrefix }, challenge };
  }

  /** True only for a well-formed solution of this challenge, before it expires. Never throws. */
  async check(challenge: Challenge, solution: unknown): Promise<boolean> {
    if (typeof solution !== 'object' || solution === null) return false;
    const { counter, derived_key: derivedKey } = solution as Partial<PowSolution>;
    if (typeof counter !== 'number' || typeof derivedKey !== 'string') return false;
    try {
      const result = await verifySolution({
        challenge,
        solution: { counter, derivedKey },
        deriveKey,
        hmacSignatureSecret: this.#signatureSecret,
        hmacKeySignatureSecret: this.#keySecret,
      });
      return result.verified;
    } catch {
      return false;
    }
  }
}
