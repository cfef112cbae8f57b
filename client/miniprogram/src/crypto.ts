/**
 * The pure-JS primitives tokens need: P-256 ECDH and ECDSA from @noble/curves,
 * AES-256-GCM from @noble/ciphers, SHA-256 from @noble/hashes (audited, MIT).
 * Mini-programs have no WebCrypto. token-crypto.ts turns these into the shared
 * builder's `TokenCrypto` and `DeviceSigner`.
 *
 * This module is its own chunk (riskgate-crypto.js, noble and nothing else),
 * required on first use: noble builds its curve tables when evaluated and
 * needs BigInt (iOS 14+). Where BigInt is missing the require fails and
 * getBlackBox rejects with `crypto_unavailable`, instead of the whole package
 * failing to load.
 *
 * Randomness always comes in as bytes (random.ts): noble's own CSPRNG reads
 * `crypto.getRandomValues`, which mini-programs lack.
 */
import { gcm } from '@noble/ciphers/aes.js';
import { p256 } from '@noble/curves/nist.js';
import { pbkdf2 } from '@noble/hashes/pbkdf2.js';
import { sha256 } from '@noble/hashes/sha2.js';

/** Random bytes a P-256 secret key is derived from (noble reduces 48 bytes mod n, without bias). */
export const SECRET_SEED_BYTES = 48;

/** A P-256 secret key from SECRET_SEED_BYTES random bytes. */
export function newSecretKey(seed: Uint8Array): Uint8Array {
  return p256.utils.randomSecretKey(seed);
}

export function isValidSecretKey(secretKey: Uint8Array): boolean {
  try {
    return secretKey.length === 32 && p256.utils.isValidSecretKey(secretKey);
  } catch {
    return false;
  }
}

/** The uncompressed public point: 0x04 ‖ x ‖ y (65 bytes). */
export function publicPoint(secretKey: Uint8Array): Uint8Array {
  return p256.getPublicKey(secretKey, false);
}

/** ECDH: the x coordinate of secretKey × peer (32 bytes). Refuses points off the curve. */
export function sharedX(secretKey: Uint8Array, peerPoint: Uint8Array): Uint8Array {
  return p256.getSharedSecret(secretKey, peerPoint, true).subarray(1, 33);
}

/** ES256: SHA-256 prehash, hedged (RFC 6979 plus `entropy`), r ‖ s (64 bytes). */
export function signEs256(data: Uint8Array, secretKey: Uint8Array, entropy: Uint8Array): Uint8Array {
  return p256.sign(data, secretKey, { prehash: true, extraEntropy: entropy });
}

export function sha256Bytes(data: Uint8Array): Uint8Array {
  return sha256(data);
}

/** PBKDF2-HMAC-SHA-256, 32 bytes (device enrollment puzzles). */
export function pbkdf2Sha256(password: Uint8Array, salt: Uint8Array, iterations: number): Uint8Array {
  return pbkdf2(sha256, password, salt, { c: iterations, dkLen: 32 });
}

/** AES-256-GCM: ciphertext ‖ 16-byte tag. */
export function aesGcmEncrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  return gcm(key, iv, aad).encrypt(plaintext);
}

let weakCounter = 0;

/**
 * The documented fallback when `wx.getRandomValues` is missing (base library
 * < 2.15.0) or fails: SHA-256 over Math.random output, the clock and a
 * counter. Math.random is not a CSPRNG, so these bytes can be guessed by
 * someone who can observe the engine's state; tokens made with them say
 * `signals.wechat.random: "weak"`.
 */
export function weakRandomBytes(length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let offset = 0; offset < length; offset += 32) {
    const input = new Uint8Array(48);
    for (let i = 0; i < 40; i++) input[i] = Math.floor(Math.random() * 256);
    new DataView(input.buffer).setFloat64(40, Date.now() + weakCounter++ / 1e6);
    out.set(sha256(input).subarray(0, Math.min(32, length - offset)), offset);
  }
  return out;
}
