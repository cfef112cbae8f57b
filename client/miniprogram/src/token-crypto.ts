/**
 * The shared token builder's `TokenCrypto` and `DeviceSigner` on the noble
 * primitives of the crypto chunk (crypto.ts). JWK encoding stays here, so the
 * chunk holds noble alone.
 */
import type { EcPublicJwk } from '../../../shared/jwk.js';
import type { DeviceSigner, TokenCrypto } from '../../core/token/build.js';
import { base64url, base64urlDecode, concatBytes } from '../../core/token/encoding.js';

export type CryptoChunk = typeof import('./crypto.js');

type Random = (length: number) => Uint8Array;

function publicJwk(chunk: CryptoChunk, secretKey: Uint8Array): EcPublicJwk {
  const point = chunk.publicPoint(secretKey);
  return { kty: 'EC', crv: 'P-256', x: base64url(point.subarray(1, 33)), y: base64url(point.subarray(33, 65)) };
}

export function nobleTokenCrypto(chunk: CryptoChunk, randomBytes: Random): TokenCrypto {
  return {
    async agree(peer) {
      const ephemeral = chunk.newSecretKey(randomBytes(chunk.SECRET_SEED_BYTES));
      const peerPoint = concatBytes(new Uint8Array([4]), base64urlDecode(peer.x), base64urlDecode(peer.y));
      return { sharedSecret: chunk.sharedX(ephemeral, peerPoint), ephemeralKey: publicJwk(chunk, ephemeral) };
    },
    async sha256(data) {
      return chunk.sha256Bytes(data);
    },
    async aesGcmEncrypt(key, iv, plaintext, aad) {
      return chunk.aesGcmEncrypt(key, iv, plaintext, aad);
    },
    randomBytes,
  };
}

export function nobleDeviceSigner(chunk: CryptoChunk, secretKey: Uint8Array, randomBytes: Random): DeviceSigner {
  return {
    publicKey: publicJwk(chunk, secretKey),
    async sign(data) {
      return chunk.signEs256(data, secretKey, randomBytes(32));
    },
  };
}
