/**
 * Crypto back-ends for the bench's token maker. Tokens always come out of the
 * client's own `buildBlackBox` (client/core/token/build.ts); only the
 * primitives differ:
 *
 * - `node` (default): synchronous node:crypto (P-256 ECDH, ES256, AES-GCM).
 *   About 2× faster than WebCrypto here, which matters for ~100k tokens.
 * - `webcrypto`: the SDK's WebCrypto primitives, as test/support/tokens.ts uses.
 *
 * The wire format is identical either way; the bench checks every decode-bench
 * token with openBlackBox and a sample with jose.
 */
import { createCipheriv, createECDH, createHash, createPrivateKey, randomBytes, sign, webcrypto, type KeyObject } from 'node:crypto';
import type { EcPrivateJwk, EcPublicJwk } from '../shared/jwk.js';
import type { DeviceSigner, TokenCrypto } from '../client/core/token/build.js';
import { generateDeviceKeyPair, webCryptoDeviceSigner, webCryptoTokenCrypto } from '../client/web/webcrypto.js';

export type CryptoMode = 'node' | 'webcrypto';

/**
 * A fresh P-256 key pair as a JWK (the pool of returning devices stores these), made with createECDH.
 *
 * Not generateKeyPairSync + KeyObject.export({ format: 'jwk' }): on Node
 * 20.20.2 that pair deadlocks now and then. ExportJWKEcKey holds the key's
 * mutex while it allocates; if that allocation triggers a GC which finalises
 * the KeyGenJob that made the key, ~KeyGenJob waits on the same mutex forever
 * (seen with gdb: futex wait in ~KeyGenJob under InvokeFirstPassWeakCallbacks
 * under ExportJWKEcKey). The process hangs in a futex, deaf to SIGTERM.
 */
export function generateDeviceJwk(): EcPrivateJwk {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const point = ecdh.getPublicKey();
  const d = ecdh.getPrivateKey();
  const scalar = d.length === 32 ? d : Buffer.concat([Buffer.alloc(32 - d.length), d]);
  return { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33, 65).toString('base64url'), d: scalar.toString('base64url') };
}

function publicPoint(jwk: { x: string; y: string }): Buffer {
  return Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
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
  importDevice(jwk: EcPrivateJwk): Promise<DeviceSigner>;
  /** A brand-new device. */
  newDevice(): Promise<DeviceSigner>;
}

function nodeTokenCrypto(): TokenCrypto {
  return {
    async agree(peer) {
      const ephemeral = createECDH('prime256v1');
      ephemeral.generateKeys();
      const sharedSecret = ephemeral.computeSecret(publicPoint(peer));
      const point = ephemeral.getPublicKey();
      return {
        sharedSecret,
        ephemeralKey: { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33, 65).toString('base64url') },
      };
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
      const jwk = generateDeviceJwk();
      return nodeSigner(createPrivateKey({ key: { ...jwk }, format: 'jwk' }), { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y });
    },
  };
}
