/**
 * `TokenCrypto` and `DeviceSigner` on WebCrypto, which browsers and Node 20
 * both have. Nothing here runs at import time.
 */
import type { EcPublicJwk } from '../../shared/jwk.js';
import type { DeviceSigner, TokenCrypto } from '../core/token/build.js';

const P256 = { name: 'ECDH', namedCurve: 'P-256' } as const;
const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;

const toPublicJwk = (jwk: JsonWebKey): EcPublicJwk => ({ kty: 'EC', crv: 'P-256', x: jwk.x!, y: jwk.y! });

// WebCrypto's typings want ArrayBuffer-backed views; ours always are.
const buf = (bytes: Uint8Array) => bytes as Uint8Array<ArrayBuffer>;

export function webCryptoTokenCrypto(subtle: SubtleCrypto, random: Pick<Crypto, 'getRandomValues'>): TokenCrypto {
  return {
    async agree(peer) {
      const peerKey = await subtle.importKey('jwk', { kty: 'EC', crv: 'P-256', x: peer.x, y: peer.y }, P256, false, []);
      const ephemeral = (await subtle.generateKey(P256, true, ['deriveBits'])) as CryptoKeyPair;
      const bits = await subtle.deriveBits({ name: 'ECDH', public: peerKey }, ephemeral.privateKey, 256);
      const jwk = await subtle.exportKey('jwk', ephemeral.publicKey);
      return { sharedSecret: new Uint8Array(bits), ephemeralKey: toPublicJwk(jwk) };
    },
    async sha256(data) {
      return new Uint8Array(await subtle.digest('SHA-256', buf(data)));
    },
    async aesGcmEncrypt(key, iv, plaintext, aad) {
      const aesKey = await subtle.importKey('raw', buf(key), 'AES-GCM', false, ['encrypt']);
      return new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv: buf(iv), additionalData: buf(aad) }, aesKey, buf(plaintext)));
    },
    randomBytes(length) {
      return random.getRandomValues(new Uint8Array(length));
    },
  };
}

/** A new device key pair; the private half cannot be exported (it lives in IndexedDB in browsers). */
export async function generateDeviceKeyPair(subtle: SubtleCrypto): Promise<CryptoKeyPair> {
  return (await subtle.generateKey(ECDSA_P256, false, ['sign', 'verify'])) as CryptoKeyPair;
}

export async function webCryptoDeviceSigner(subtle: SubtleCrypto, keyPair: CryptoKeyPair): Promise<DeviceSigner> {
  const publicKey = toPublicJwk(await subtle.exportKey('jwk', keyPair.publicKey));
  return {
    publicKey,
    async sign(data) {
      // WebCrypto's ECDSA output is already r ‖ s, the form JWS uses.
      return new Uint8Array(await subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, keyPair.privateKey, buf(data)));
    },
  };
}
