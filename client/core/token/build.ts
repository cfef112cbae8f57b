/**
 * Builds a v1 black_box: a compact JWS (ES256, signed by the device key, its
 * public JWK in the header) nested in a compact JWE (ECDH-ES, A256GCM, P-256)
 * for the server key named by `kid`. See DESIGN.md, "The black_box token".
 *
 * The primitives come in through `TokenCrypto` and `DeviceSigner`, so the web
 * SDK (WebCrypto), Node (WebCrypto) and mini-programs (pure JS) share this code.
 */
import {
  BLACK_BOX_JWE_ALG,
  BLACK_BOX_JWE_ENC,
  BLACK_BOX_JWS_ALG,
} from '../../../shared/constants.js';
import type { EcPublicJwk, ServerTokenKey } from '../../../shared/jwk.js';
import type { BlackBoxPayloadInput } from '../../../shared/schemas.js';
import { base64url, concatBytes, uint32be, utf8 } from './encoding.js';

export interface TokenCrypto {
  /** An ephemeral P-256 key agreement with `peer`: the shared secret Z and the ephemeral public key. */
  agree(peer: EcPublicJwk): Promise<{ sharedSecret: Uint8Array; ephemeralKey: EcPublicJwk }>;
  sha256(data: Uint8Array): Promise<Uint8Array>;
  /** AES-256-GCM; returns the ciphertext followed by the 16-byte tag. */
  aesGcmEncrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
  randomBytes(length: number): Uint8Array;
}

export interface DeviceSigner {
  readonly publicKey: EcPublicJwk;
  /** ES256 signature of `data` in JOSE form (r ‖ s, 64 bytes). */
  sign(data: Uint8Array): Promise<Uint8Array>;
}

export interface BuildBlackBoxOptions {
  serverKey: ServerTokenKey;
  signer: DeviceSigner;
  crypto: TokenCrypto;
  /** Everything but `jti` and `iat`, which are filled in here. */
  payload: Omit<BlackBoxPayloadInput, 'jti' | 'iat'>;
  /** Seconds since the epoch; defaults to now. */
  issuedAt?: number;
}

const encodeJson = (value: unknown): string => base64url(utf8(JSON.stringify(value)));

/** Concat KDF of RFC 7518 §4.6.2 for ECDH-ES direct key agreement with A256GCM. */
export async function deriveContentKey(crypto: TokenCrypto, sharedSecret: Uint8Array): Promise<Uint8Array> {
  const algorithmId = utf8(BLACK_BOX_JWE_ENC);
  const otherInfo = concatBytes(
    uint32be(algorithmId.length),
    algorithmId,
    uint32be(0), // PartyUInfo (apu): empty
    uint32be(0), // PartyVInfo (apv): empty
    uint32be(256), // key length in bits
  );
  // One round of SHA-256 yields exactly the 256 bits A256GCM needs.
  return crypto.sha256(concatBytes(uint32be(1), sharedSecret, otherInfo));
}

/** Makes a fresh, single-use black_box. */
export async function buildBlackBox(options: BuildBlackBoxOptions): Promise<string> {
  const { serverKey, signer, crypto } = options;
  const payload: BlackBoxPayloadInput = {
    ...options.payload,
    jti: base64url(crypto.randomBytes(16)),
    iat: options.issuedAt ?? Math.floor(Date.now() / 1000),
  };
  const { kty, crv, x, y } = signer.publicKey;
  const signingInput = `${encodeJson({ alg: BLACK_BOX_JWS_ALG, jwk: { kty, crv, x, y } })}.${encodeJson(payload)}`;
  const signature = await signer.sign(utf8(signingInput));
  const jws = `${signingInput}.${base64url(signature)}`;

  const { sharedSecret, ephemeralKey } = await crypto.agree(serverKey);
  const contentKey = await deriveContentKey(crypto, sharedSecret);
  const header = encodeJson({
    alg: BLACK_BOX_JWE_ALG,
    enc: BLACK_BOX_JWE_ENC,
    kid: serverKey.kid,
    cty: 'JWT',
    epk: ephemeralKey,
  });
  const iv = crypto.randomBytes(12);
  const sealed = await crypto.aesGcmEncrypt(contentKey, iv, utf8(jws), utf8(header));
  const ciphertext = sealed.subarray(0, sealed.length - 16);
  const tag = sealed.subarray(sealed.length - 16);
  return `${header}..${base64url(iv)}.${base64url(ciphertext)}.${base64url(tag)}`;
}
