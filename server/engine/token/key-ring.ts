/**
 * The server's token encryption keys (P-256, each named by a `kid`).
 *
 * Several keys live at once so keys can rotate: the newest live key is the one
 * SDKs encrypt to (first in the JWKS); older live keys are still advertised
 * and decrypt; retired keys only decrypt, for tokens already in flight.
 *
 * Pure: the key file is adapters/keys/key-file.ts, and the key book
 * (adapters/keys/key-book.ts) keeps the ring in force.
 */
import { createECDH, createHash, generateKeyPairSync, type ECDH } from 'node:crypto';
import { z } from 'zod';
import type { PublicTokenJwk } from '../../../shared/jwk.js';

export type { PublicTokenJwk };

const b64u = z.string().regex(/^[A-Za-z0-9_-]{43}$/);

export const StoredTokenKey = z.object({
  kid: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/),
  created_at: z.string(),
  retired_at: z.string().optional(),
  jwk: z.object({ kty: z.literal('EC'), crv: z.literal('P-256'), x: b64u, y: b64u, d: b64u }),
});
export type StoredTokenKey = z.infer<typeof StoredTokenKey>;
export const StoredTokenKeys = z.array(StoredTokenKey).min(1);

/** RFC 7638 thumbprint of a P-256 public key, base64url. */
export function ecThumbprint(jwk: { x: string; y: string }): string {
  return createHash('sha256').update(`{"crv":"P-256","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`).digest('base64url');
}

export function generateTokenKey(now = new Date()): StoredTokenKey {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' });
  const key = { x: jwk.x!, y: jwk.y!, d: jwk.d! };
  return {
    kid: `${now.toISOString().slice(0, 10)}-${ecThumbprint(key).slice(0, 8)}`,
    created_at: now.toISOString(),
    jwk: { kty: 'EC', crv: 'P-256', ...key },
  };
}

export class TokenKeyRing {
  private readonly decrypters = new Map<string, ECDH>();
  readonly jwks: { keys: PublicTokenJwk[] };

  constructor(readonly keys: readonly StoredTokenKey[]) {
    if (keys.length === 0) throw new TypeError('at least one token key is required');
    for (const key of keys) {
      if (this.decrypters.has(key.kid)) throw new TypeError(`duplicate token key id "${key.kid}"`);
      const ecdh = createECDH('prime256v1');
      ecdh.setPrivateKey(Buffer.from(key.jwk.d, 'base64url'));
      // A private scalar that does not produce the stated public key means a corrupt key file.
      if (ecdh.getPublicKey('base64url', 'uncompressed') !== publicPoint(key.jwk).toString('base64url')) {
        throw new TypeError(`token key "${key.kid}": private and public parts do not match`);
      }
      this.decrypters.set(key.kid, ecdh);
    }
    const live = keys
      .filter((k) => !k.retired_at)
      .sort((a, b) => b.created_at.localeCompare(a.created_at));
    if (live.length === 0) throw new TypeError('every token key is retired: at least one must be live');
    this.jwks = {
      keys: live.map((k) => ({ kty: 'EC', crv: 'P-256', x: k.jwk.x, y: k.jwk.y, kid: k.kid, use: 'enc', alg: 'ECDH-ES' })),
    };
  }

  /** The key SDKs should encrypt to. */
  get primary(): PublicTokenJwk {
    return this.jwks.keys[0]!;
  }

  /** The ECDH object for a kid, live or retired. */
  decrypter(kid: string): ECDH | undefined {
    return this.decrypters.get(kid);
  }
}

export function publicPoint(jwk: { x: string; y: string }): Buffer {
  return Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
}
