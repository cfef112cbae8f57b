/**
 * Crypto back-ends for the bench's token maker. Tokens always come out of the
 * client's own `buildBlackBox` (client/src/token/build.ts); only the
 * primitives differ:
 *
 * - `node` (default): synchronous node:crypto (P-256 ECDH, ES256, AES-GCM).
 *   About 2× faster than WebCrypto here, which matters for ~100k tokens.
 * - `webcrypto`: the SDK's WebCrypto primitives, as test/support/tokens.ts uses.
 *
 * The wire format is identical either way; the bench checks every decode-bench
 * token with openBlackBox and a sample with jose.
 */
import {
  createCipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  randomBytes,
  sign,
  webcrypto,
  type KeyObject,
} from 'node:crypto';
import type { DeviceSigner, EcPublicJwk, TokenCrypto } from '../client/src/token/build.js';
import { generateDeviceKeyPair, webCryptoDeviceSigner, webCryptoTokenCrypto } from '../client/src/token/webcrypto.js';

export type CryptoMode = 'node' | 'webcrypto';

/** A P-256 private JWK with its public part, as stored for the pool of returning devices. */
export interface PrivateDeviceJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  d: string;
}

export function generateDeviceJwk(): PrivateDeviceJwk {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' });
  return { kty: 'EC', crv: 'P-256', x: jwk.x!, y: jwk.y!, d: jwk.d! };
}

const subtle = webcrypto.subtle as unknown as SubtleCrypto;
const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;

function nodeSigner(privateKey: KeyObject, publicKey: EcPublicJwk): DeviceSigner {
  return {
    publicKey,
    async sign(data) {
      return sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
    },
  };
}

export interface TokenBackend {
  crypto: TokenCrypto;
  /** A signer for a stored device key. */
  importDevice(jwk: PrivateDeviceJwk): Promise<DeviceSigner>;
  /** A brand-new device. */
  newDevice(): Promise<DeviceSigner>;
}

function nodeTokenCrypto(): TokenCrypto {
  const peers = new Map<string, KeyObject>();
  return {
    async agree(peer) {
      let peerKey = peers.get(peer.x + peer.y);
      if (!peerKey) {
        peerKey = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: peer.x, y: peer.y }, format: 'jwk' });
        peers.set(peer.x + peer.y, peerKey);
      }
      const ephemeral = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const sharedSecret = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: peerKey });
      const jwk = ephemeral.publicKey.export({ format: 'jwk' });
      return { sharedSecret, ephemeralKey: { kty: 'EC', crv: 'P-256', x: jwk.x!, y: jwk.y! } };
    },
    async sha256(data) {
      return createHash('sha256').update(data).digest();
    },
    async aesGcmEncrypt(key, iv, plaintext, aad) {
      const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
      cipher.setAAD(aad);
      return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    },
    randomBytes(length) {
      return randomBytes(length);
    },
  };
}

export function tokenBackend(mode: CryptoMode): TokenBackend {
  if (mode === 'webcrypto') {
    return {
      crypto: webCryptoTokenCrypto(subtle, webcrypto as unknown as Crypto),
      async importDevice(jwk) {
        const privateKey = await subtle.importKey('jwk', jwk, ECDSA_P256, false, ['sign']);
        const publicKey = await subtle.importKey('jwk', { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }, ECDSA_P256, true, ['verify']);
        return webCryptoDeviceSigner(subtle, { privateKey, publicKey });
      },
      async newDevice() {
        return webCryptoDeviceSigner(subtle, await generateDeviceKeyPair(subtle));
      },
    };
  }
  return {
    crypto: nodeTokenCrypto(),
    async importDevice(jwk) {
      return nodeSigner(createPrivateKey({ key: { ...jwk }, format: 'jwk' }), { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y });
    },
    async newDevice() {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const jwk = publicKey.export({ format: 'jwk' });
      return nodeSigner(privateKey, { kty: 'EC', crv: 'P-256', x: jwk.x!, y: jwk.y! });
    },
  };
}
