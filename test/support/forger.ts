/**
 * The forger of the persona suite (issue 12, persona 5): a Node script that
 * never runs a browser. It fetches the server's public token key from
 * /v1/keys, mints a fresh device key pair per token, and builds black_boxes
 * with the SDK's own token code (what anyone can read in the public bundle),
 * filling `signals` and `behavior` with whatever it likes. It does not enroll
 * its devices.
 *
 * `openRawPayload` is the test's side: it decrypts a real browser's token with
 * the server's private key from the data directory and returns the JWS payload
 * exactly as the SDK wrote it (not through the server's schema, so fields the
 * server does not know yet are kept), for the forger to copy.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compactDecrypt, importJWK } from 'jose';
import type { ServerTokenKey } from '../../shared/jwk.js';
import type { BlackBoxPayloadInput } from '../../shared/schemas.js';
import { makeToken, newDevice } from './tokens.js';

/** The primary key of a RiskGate server's JWKS (the one SDKs encrypt to). */
export async function fetchServerKey(base: string): Promise<ServerTokenKey> {
  const response = await fetch(`${base}/v1/keys`, { signal: AbortSignal.timeout(15_000) });
  if (!response.ok) throw new Error(`/v1/keys answered HTTP ${response.status}`);
  const jwks = (await response.json()) as { keys: ServerTokenKey[] };
  const key = jwks.keys[0];
  if (!key) throw new Error('/v1/keys lists no key');
  return key;
}

export interface ForgeOptions {
  serverKey: ServerTokenKey;
  appKey: string;
  /** Anything: the forger does not care about types. */
  signals?: unknown;
  behavior?: unknown;
  /** Other payload fields to copy (platform, sdk, degraded…). */
  extra?: Record<string, unknown>;
}

/** A black_box signed by a brand-new device key, with the given content. */
export async function forgeToken(options: ForgeOptions): Promise<string> {
  const { jti: _jti, iat: _iat, app: _app, v: _v, ...extra } = (options.extra ?? {}) as Record<string, unknown>;
  return makeToken({
    serverKey: options.serverKey,
    appKey: options.appKey,
    device: await newDevice(),
    payload: {
      platform: 'web',
      sdk: 'forged/1',
      degraded: false,
      ...extra,
      signals: (options.signals ?? {}) as BlackBoxPayloadInput['signals'],
      behavior: (options.behavior ?? {}) as BlackBoxPayloadInput['behavior'],
    } as Partial<Omit<BlackBoxPayloadInput, 'jti' | 'iat'>>,
  });
}

/** The JWS payload of a real token, decrypted with the server's key file in `dataDir`. */
export async function openRawPayload(dataDir: string, token: string): Promise<Record<string, unknown>> {
  const keys = JSON.parse(readFileSync(join(dataDir, 'token-keys.json'), 'utf8')) as { kid: string; jwk: { kty: string; crv: string; x: string; y: string; d: string } }[];
  const kid = (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')) as { kid?: string }).kid;
  const key = keys.find((k) => k.kid === kid);
  if (!key) throw new Error(`no server key ${kid} in the data directory`);
  const { plaintext } = await compactDecrypt(token, await importJWK({ ...key.jwk, alg: 'ECDH-ES' }, 'ECDH-ES'));
  const jws = new TextDecoder().decode(plaintext);
  return JSON.parse(Buffer.from(jws.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}
