/**
 * Decodes a v1 black_box on node:crypto's synchronous primitives.
 *
 * jose through WebCrypto spends ~400 µs per token, mostly importing the
 * ephemeral JWK and awaiting deriveBits; node:crypto's ECDH and ES256 verify
 * cost ~90 + ~65 µs. The format is narrow (one alg, one enc, one curve), so
 * this path checks exactly that and nothing else; test/unit/token.test.ts proves it
 * agrees with jose on valid tokens and refuses what jose refuses.
 *
 * Every failure is a value (a TokenFailure reason id), never a throw.
 */
import { createDecipheriv, createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import {
  BLACK_BOX_JWE_ALG,
  BLACK_BOX_JWE_ENC,
  BLACK_BOX_JWS_ALG,
  BLACK_BOX_MAX_LENGTH,
  type TokenFailure,
} from '../../../shared/constants.js';
import { BlackBoxPayload } from '../../../shared/schemas.js';
import { ecThumbprint, publicPoint, type TokenKeyRing } from './key-ring.js';

export interface OpenedBlackBox {
  payload: BlackBoxPayload;
  /** JWK thumbprint of the device key that signed the token. */
  deviceId: string;
}

export type OpenResult = ({ ok: true } & OpenedBlackBox) | { ok: false; failure: Exclude<TokenFailure, 'TOKEN_REPLAYED'> };

export type DecodeResult =
  | ({ ok: true; ageSeconds: number } & OpenedBlackBox)
  /** A replayed token was genuine, so its device and signals are still known. */
  | ({ ok: false; failure: 'TOKEN_REPLAYED'; ageSeconds: number } & OpenedBlackBox)
  | { ok: false; failure: Exclude<TokenFailure, 'TOKEN_REPLAYED'>; deviceId?: string };

export interface DecodeOptions {
  /** Opens the token (decrypt and verify): on this thread with `keys`, or by `open` (worker threads). */
  keys?: TokenKeyRing;
  open?: (token: string) => Promise<OpenResult>;
  /** The app key the caller authenticated as; the token must name it. */
  appKey: string;
  /** Seconds since the epoch. */
  now: number;
  maxAgeSeconds: number;
  clockSkewSeconds: number;
  /** Claims a jti atomically; resolves false when it was claimed before. */
  claimJti(jti: string, ttlMs: number): Promise<boolean>;
}

const B64U = /^[A-Za-z0-9_-]*$/;
const COORDINATE = /^[A-Za-z0-9_-]{43}$/;

// Devices send many tokens; parsing their public key once saves ~15 µs each.
const deviceKeyCache = new LRUCache<string, KeyObject>({ max: 10_000 });

function parseJsonSegment(segment: string): Record<string, unknown> | undefined {
  if (!B64U.test(segment)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function isP256Jwk(value: unknown): value is { kty: 'EC'; crv: 'P-256'; x: string; y: string } {
  if (value === null || typeof value !== 'object') return false;
  const jwk = value as Record<string, unknown>;
  return (
    jwk.kty === 'EC' &&
    jwk.crv === 'P-256' &&
    typeof jwk.x === 'string' &&
    typeof jwk.y === 'string' &&
    COORDINATE.test(jwk.x) &&
    COORDINATE.test(jwk.y) &&
    jwk.d === undefined
  );
}

/** Concat KDF (RFC 7518 §4.6.2) for ECDH-ES direct with A256GCM and empty apu/apv. */
const KDF_OTHER_INFO = Buffer.concat([
  Buffer.from([0, 0, 0, 7]),
  Buffer.from(BLACK_BOX_JWE_ENC),
  Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]),
]);
const KDF_COUNTER = Buffer.from([0, 0, 0, 1]);

/** Decrypts and verifies; no clock, app or replay checks. Synchronous and pure. */
export function openBlackBox(token: string, keys: TokenKeyRing): OpenResult {
  if (token.length > BLACK_BOX_MAX_LENGTH) return { ok: false, failure: 'TOKEN_TOO_LARGE' };
  const parts = token.split('.');
  if (parts.length !== 5 || parts[1] !== '') return { ok: false, failure: 'TOKEN_MALFORMED' };
  const [headerSegment, , ivSegment, ciphertextSegment, tagSegment] = parts as [string, string, string, string, string];
  if (!B64U.test(ivSegment) || !B64U.test(ciphertextSegment) || !B64U.test(tagSegment)) {
    return { ok: false, failure: 'TOKEN_MALFORMED' };
  }
  const header = parseJsonSegment(headerSegment);
  if (
    !header ||
    header.alg !== BLACK_BOX_JWE_ALG ||
    header.enc !== BLACK_BOX_JWE_ENC ||
    typeof header.kid !== 'string' ||
    header.zip !== undefined ||
    header.crit !== undefined ||
    header.apu !== undefined ||
    header.apv !== undefined ||
    !isP256Jwk(header.epk)
  ) {
    return { ok: false, failure: 'TOKEN_MALFORMED' };
  }
  const iv = Buffer.from(ivSegment, 'base64url');
  const tag = Buffer.from(tagSegment, 'base64url');
  if (iv.length !== 12 || tag.length !== 16) return { ok: false, failure: 'TOKEN_MALFORMED' };

  const ecdh = keys.decrypter(header.kid);
  if (!ecdh) return { ok: false, failure: 'TOKEN_UNKNOWN_KEY' };

  let jws: string;
  try {
    // computeSecret refuses points that are not on the curve (invalid-curve attacks).
    const sharedSecret = ecdh.computeSecret(publicPoint(header.epk));
    const contentKey = createHash('sha256').update(KDF_COUNTER).update(sharedSecret).update(KDF_OTHER_INFO).digest();
    const decipher = createDecipheriv('aes-256-gcm', contentKey, iv, { authTagLength: 16 });
    decipher.setAAD(Buffer.from(headerSegment, 'ascii'));
    decipher.setAuthTag(tag);
    jws = Buffer.concat([decipher.update(Buffer.from(ciphertextSegment, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    return { ok: false, failure: 'TOKEN_DECRYPT_FAILED' };
  }

  const jwsParts = jws.split('.');
  if (jwsParts.length !== 3) return { ok: false, failure: 'TOKEN_MALFORMED' };
  const [protectedSegment, payloadSegment, signatureSegment] = jwsParts as [string, string, string];
  const jwsHeader = parseJsonSegment(protectedSegment);
  // ES256 only: `none`, HS256 with the public key as secret and every other
  // algorithm are refused before any verification is attempted.
  if (!jwsHeader || jwsHeader.alg !== BLACK_BOX_JWS_ALG || jwsHeader.crit !== undefined || !isP256Jwk(jwsHeader.jwk)) {
    return { ok: false, failure: 'TOKEN_BAD_SIGNATURE' };
  }
  if (!B64U.test(signatureSegment)) return { ok: false, failure: 'TOKEN_BAD_SIGNATURE' };
  const signature = Buffer.from(signatureSegment, 'base64url');
  if (signature.length !== 64) return { ok: false, failure: 'TOKEN_BAD_SIGNATURE' };

  const deviceJwk = jwsHeader.jwk;
  const cacheKey = deviceJwk.x + deviceJwk.y;
  let deviceKey = deviceKeyCache.get(cacheKey);
  try {
    if (!deviceKey) {
      deviceKey = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: deviceJwk.x, y: deviceJwk.y }, format: 'jwk' });
      deviceKeyCache.set(cacheKey, deviceKey);
    }
    const signingInput = Buffer.from(`${protectedSegment}.${payloadSegment}`, 'ascii');
    if (!verify('sha256', signingInput, { key: deviceKey, dsaEncoding: 'ieee-p1363' }, signature)) {
      return { ok: false, failure: 'TOKEN_BAD_SIGNATURE' };
    }
  } catch {
    // Not a point on the curve, or an unusable key.
    return { ok: false, failure: 'TOKEN_BAD_SIGNATURE' };
  }

  const rawPayload = parseJsonSegment(payloadSegment);
  const parsed = rawPayload && BlackBoxPayload.safeParse(rawPayload);
  if (!parsed || !parsed.success) return { ok: false, failure: 'TOKEN_PAYLOAD_INVALID' };
  return { ok: true, payload: parsed.data, deviceId: ecThumbprint(deviceJwk) };
}

/** The whole check of DESIGN.md: open, app, age and clock skew, then claim the jti once. */
export async function decodeBlackBox(token: string, options: DecodeOptions): Promise<DecodeResult> {
  const opened = options.open ? await options.open(token) : openBlackBox(token, options.keys!);
  if (!opened.ok) return opened;
  const { payload, deviceId } = opened;
  if (payload.app !== options.appKey) return { ok: false, failure: 'TOKEN_APP_MISMATCH', deviceId };
  const ageSeconds = options.now - payload.iat;
  if (ageSeconds < -options.clockSkewSeconds) return { ok: false, failure: 'TOKEN_FROM_FUTURE', deviceId };
  if (ageSeconds > options.maxAgeSeconds) return { ok: false, failure: 'TOKEN_EXPIRED', deviceId };
  // The claim outlives the token: once it has expired, the age check refuses it anyway.
  const ttlMs = (options.maxAgeSeconds + options.clockSkewSeconds + 1) * 1000;
  const fresh = await options.claimJti(`${payload.app}:${payload.jti}`, ttlMs);
  if (!fresh) return { ok: false, failure: 'TOKEN_REPLAYED', payload, deviceId, ageSeconds };
  return { ok: true, payload, deviceId, ageSeconds };
}
