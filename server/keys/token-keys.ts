/**
 * The server's token encryption keys (P-256, each named by a `kid`).
 *
 * Several keys live at once so keys can rotate: the newest live key is the one
 * SDKs encrypt to (first in the JWKS); older live keys are still advertised
 * and decrypt; retired keys only decrypt, for tokens already in flight.
 */
import { createECDH, createHash, generateKeyPairSync, type ECDH } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import type { PublicTokenJwk } from '../../shared/jwk.js';

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

/** Reads a key file, or creates one with a fresh key (mode 0600) when there is none. */
export function loadOrCreateKeyFile(file: string): StoredTokenKey[] {
  if (!existsSync(file)) {
    const keys = [generateTokenKey()];
    writeKeyFile(file, keys);
    return keys;
  }
  return readKeyFile(file);
}

export function readKeyFile(file: string): StoredTokenKey[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new TypeError(`token key file ${file}: not valid JSON (${(error as Error).message})`);
  }
  const result = StoredTokenKeys.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new TypeError(`token key file ${file}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return result.data;
}

/** Writes atomically (temp file, then rename) so a crash never leaves half a key file. */
export function writeKeyFile(file: string, keys: readonly StoredTokenKey[]): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
  chmodSync(temp, 0o600);
  renameSync(temp, file);
}

/** Adds a new primary key; the old ones stay live until retired. */
export function rotateKeyFile(file: string, now = new Date()): StoredTokenKey {
  const keys = existsSync(file) ? readKeyFile(file) : [];
  const key = generateTokenKey(now);
  if (keys.some((k) => k.kid === key.kid)) throw new TypeError(`token key id "${key.kid}" already exists`);
  writeKeyFile(file, [...keys, key]);
  return key;
}

/** Stops advertising a key; it still decrypts tokens already made for it. */
export function retireKey(file: string, kid: string, now = new Date()): void {
  const keys = readKeyFile(file);
  const key = keys.find((k) => k.kid === kid);
  if (!key) throw new TypeError(`no token key "${kid}" in ${file}`);
  key.retired_at ??= now.toISOString();
  new TokenKeyRing(keys); // refuses to retire the last live key
  writeKeyFile(file, keys);
}

/** Deletes a key for good: tokens made for it decode as TOKEN_UNKNOWN_KEY. */
export function removeKey(file: string, kid: string): void {
  const keys = readKeyFile(file);
  const rest = keys.filter((k) => k.kid !== kid);
  if (rest.length === keys.length) throw new TypeError(`no token key "${kid}" in ${file}`);
  new TokenKeyRing(rest);
  writeKeyFile(file, rest);
}
