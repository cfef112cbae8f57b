import * as jose from 'jose';
import { describe, expect, it } from 'vitest';
import { base64url, utf8 } from '../../client/core/token/encoding.js';
import type { DeviceSigner } from '../../client/core/token/build.js';
import { generateTokenKey, TokenKeyRing, type StoredTokenKey } from '../../server/engine/token/key-ring.js';
import { decodeBlackBox, openBlackBox, type DecodeOptions } from '../../server/engine/token/decode.js';
import { makeToken, newDevice } from '../support/tokens.js';

const APP = 'pk_app_under_test';
const serverKey = generateTokenKey();
const ring = new TokenKeyRing([serverKey]);
const now = () => Math.floor(Date.now() / 1000);

async function joseOpen(token: string, key: StoredTokenKey = serverKey) {
  const privateKey = await jose.importJWK(key.jwk, 'ECDH-ES');
  const { plaintext } = await jose.compactDecrypt(token, privateKey, { keyManagementAlgorithms: ['ECDH-ES'], contentEncryptionAlgorithms: ['A256GCM'] });
  const verified = await jose.compactVerify(new TextDecoder().decode(plaintext), jose.EmbeddedJWK, { algorithms: ['ES256'] });
  return {
    payload: JSON.parse(new TextDecoder().decode(verified.payload)) as Record<string, unknown>,
    deviceId: await jose.calculateJwkThumbprint(verified.protectedHeader.jwk!, 'sha256'),
  };
}

/** Encrypts any plaintext to the server key with jose: the way to make hand-crafted inner JWS. */
async function encryptToServer(plaintext: string, key: StoredTokenKey = serverKey): Promise<string> {
  const { d: _d, ...publicJwk } = key.jwk;
  return new jose.CompactEncrypt(utf8(plaintext))
    .setProtectedHeader({ alg: 'ECDH-ES', enc: 'A256GCM', kid: key.kid, cty: 'JWT' })
    .encrypt(await jose.importJWK(publicJwk, 'ECDH-ES'));
}

const encodeJson = (value: unknown) => base64url(utf8(JSON.stringify(value)));
const basePayload = (over: Record<string, unknown> = {}) => ({
  v: 1, app: APP, jti: base64url(crypto.getRandomValues(new Uint8Array(16))), iat: now(), platform: 'web', sdk: 't/1', degraded: false, signals: {}, behavior: {}, ...over,
});

async function signedJws(device: DeviceSigner, payload: unknown, header: Record<string, unknown> = {}): Promise<string> {
  const input = `${encodeJson({ alg: 'ES256', jwk: device.publicKey, ...header })}.${encodeJson(payload)}`;
  return `${input}.${base64url(await device.sign(utf8(input)))}`;
}

function memoryClaims(): DecodeOptions['claimJti'] {
  const seen = new Set<string>();
  return async (jti) => (seen.has(jti) ? false : (seen.add(jti), true));
}

const decodeOptions = (over: Partial<DecodeOptions> = {}): DecodeOptions => ({
  keys: ring, appKey: APP, now: now(), maxAgeSeconds: 600, clockSkewSeconds: 60, claimJti: memoryClaims(), ...over,
});

/** Replaces one base64url segment of a compact token. */
function withSegment(token: string, index: number, segment: string): string {
  const parts = token.split('.');
  parts[index] = segment;
  return parts.join('.');
}

function flipByte(segment: string, at = 0): string {
  const bytes = Buffer.from(segment, 'base64url');
  bytes[at % bytes.length]! ^= 0x01;
  return bytes.toString('base64url');
}

describe('the node:crypto decoder agrees with jose', () => {
  it('opens tokens from the shared WebCrypto builder exactly as jose does', async () => {
    const device = await newDevice();
    for (let i = 0; i < 20; i++) {
      const token = await makeToken({ serverKey: ring.primary, appKey: APP, device, payload: { signals: { timezone: 'Asia/Shanghai', lies: ['toString'] } } });
      const ours = openBlackBox(token, ring);
      const theirs = await joseOpen(token);
      expect(ours.ok).toBe(true);
      if (!ours.ok) return;
      expect(ours.deviceId).toBe(theirs.deviceId);
      expect(ours.payload).toMatchObject(theirs.payload);
    }
  });

  it('opens tokens that jose itself built (standard JOSE on both sides)', async () => {
    const { privateKey, publicKey } = await jose.generateKeyPair('ES256', { extractable: true });
    const jwk = await jose.exportJWK(publicKey);
    const payload = basePayload();
    const jws = await new jose.CompactSign(utf8(JSON.stringify(payload)))
      .setProtectedHeader({ alg: 'ES256', jwk: { kty: 'EC', crv: 'P-256', x: jwk.x!, y: jwk.y! } })
      .sign(privateKey);
    const ours = openBlackBox(await encryptToServer(jws), ring);
    expect(ours).toMatchObject({ ok: true, deviceId: await jose.calculateJwkThumbprint(jwk, 'sha256'), payload: { jti: payload.jti } });
  });

  it('gives the same device id to every token of one device and different ids to different devices', async () => {
    const a = await newDevice();
    const b = await newDevice();
    const ids = await Promise.all([a, a, b].map(async (device) => {
      const result = openBlackBox(await makeToken({ serverKey: ring.primary, appKey: APP, device }), ring);
      return result.ok ? result.deviceId : '';
    }));
    expect(ids[0]).toBe(ids[1]);
    expect(ids[0]).not.toBe(ids[2]);
    expect(ids[0]).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe('every failure has its own reason, and jose refuses the same tokens', () => {
  const expectBoth = async (token: string, failure: string) => {
    expect(openBlackBox(token, ring)).toEqual({ ok: false, failure });
    await expect(joseOpen(token)).rejects.toThrow();
  };

  it('TOKEN_TOO_LARGE beyond the size bound', async () => {
    expect(openBlackBox('a'.repeat(9000), ring)).toEqual({ ok: false, failure: 'TOKEN_TOO_LARGE' });
  });

  it('TOKEN_MALFORMED for wrong shapes and headers', async () => {
    const token = await makeToken({ serverKey: ring.primary, appKey: APP });
    const [header] = token.split('.') as [string];
    const decoded = JSON.parse(Buffer.from(header, 'base64url').toString()) as Record<string, unknown>;
    const malformed = [
      'not-a-token',
      token.split('.').slice(0, 4).join('.'),
      withSegment(token, 1, 'AAAA'), // an encrypted key has no place in direct ECDH-ES
      withSegment(token, 0, 'e30'), // {}
      withSegment(token, 0, '!!!'),
      withSegment(token, 0, encodeJson({ ...decoded, alg: 'ECDH-ES+A256KW' })),
      withSegment(token, 0, encodeJson({ ...decoded, enc: 'A128GCM' })),
      withSegment(token, 0, encodeJson({ ...decoded, zip: 'DEF' })),
      withSegment(token, 0, encodeJson({ ...decoded, epk: { kty: 'EC', crv: 'P-384', x: 'a', y: 'b' } })),
      withSegment(token, 0, encodeJson({ ...decoded, epk: undefined })),
      withSegment(token, 2, 'AAAA'), // iv of 3 bytes
    ];
    for (const candidate of malformed) await expectBoth(candidate, 'TOKEN_MALFORMED');
  });

  it('TOKEN_UNKNOWN_KEY when the kid is not ours', async () => {
    const other = generateTokenKey();
    const token = await makeToken({ serverKey: new TokenKeyRing([other]).primary, appKey: APP });
    expect(openBlackBox(token, ring)).toEqual({ ok: false, failure: 'TOKEN_UNKNOWN_KEY' });
  });

  it('TOKEN_DECRYPT_FAILED when ciphertext, tag, iv or header were altered, or the epk is off the curve', async () => {
    const token = await makeToken({ serverKey: ring.primary, appKey: APP });
    const parts = token.split('.');
    const header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString()) as { epk: { x: string; y: string } };
    const offCurve = { ...header, epk: { ...header.epk, y: flipByte(header.epk.y, 31) } };
    for (const candidate of [
      withSegment(token, 3, flipByte(parts[3]!, 5)),
      withSegment(token, 4, flipByte(parts[4]!)),
      withSegment(token, 2, flipByte(parts[2]!)),
      withSegment(token, 0, encodeJson({ ...header, cty: 'jwt' })), // the header is authenticated data
      withSegment(token, 0, encodeJson(offCurve)),
    ]) {
      await expectBoth(candidate, 'TOKEN_DECRYPT_FAILED');
    }
  });

  it('TOKEN_DECRYPT_FAILED for the ephemeral key of another token (swapped headers)', async () => {
    const a = (await makeToken({ serverKey: ring.primary, appKey: APP })).split('.');
    const b = (await makeToken({ serverKey: ring.primary, appKey: APP })).split('.');
    await expectBoth([b[0], ...a.slice(1)].join('.'), 'TOKEN_DECRYPT_FAILED');
  });

  it('TOKEN_BAD_SIGNATURE: alg none, HS256, a wrong signer, a short signature, a device key off the curve', async () => {
    const device = await newDevice();
    const impostor = await newDevice();
    const payload = encodeJson(basePayload());
    const good = await signedJws(device, basePayload());
    const [goodHeader, goodPayload, goodSig] = good.split('.') as [string, string, string];
    const forger: DeviceSigner = { publicKey: device.publicKey, sign: (data) => impostor.sign(data) };
    const offCurveJwk = { ...device.publicKey, y: flipByte(device.publicKey.y, 31) };
    const forged = [
      `${encodeJson({ alg: 'none', jwk: device.publicKey })}.${payload}.`,
      `${encodeJson({ alg: 'HS256', jwk: device.publicKey })}.${payload}.${base64url(new Uint8Array(32))}`,
      `${encodeJson({ alg: 'ES384', jwk: device.publicKey })}.${payload}.${goodSig}`,
      await signedJws(forger, basePayload()),
      `${goodHeader}.${goodPayload}.${goodSig.slice(0, 40)}`,
      `${goodHeader}.${encodeJson(basePayload({ app: 'pk_other' }))}.${goodSig}`, // payload swapped after signing
      await signedJws(device, basePayload(), { jwk: offCurveJwk }),
      await signedJws(device, basePayload(), { jwk: { ...device.publicKey, d: 'x'.repeat(43) } }),
    ];
    for (const jws of forged) await expectBoth(await encryptToServer(jws), 'TOKEN_BAD_SIGNATURE');
  });

  it('TOKEN_PAYLOAD_INVALID for a wrong version or missing required members', async () => {
    const device = await newDevice();
    for (const payload of [basePayload({ v: 2 }), basePayload({ app: undefined }), basePayload({ jti: 'short' }), basePayload({ platform: 'ios' }), [1, 2]]) {
      const token = await encryptToServer(await signedJws(device, payload));
      expect(openBlackBox(token, ring)).toEqual({ ok: false, failure: 'TOKEN_PAYLOAD_INVALID' });
    }
  });

  it('ignores unknown signals, so old and new SDKs coexist', async () => {
    const token = await makeToken({
      serverKey: ring.primary,
      appKey: APP,
      payload: { signals: { future_signal: { a: 1 }, lies: ['x'] } as never, behavior: { clicks: 2, future_count: 3 } as never },
    });
    const opened = openBlackBox(token, ring);
    expect(opened.ok).toBe(true);
    if (!opened.ok) return;
    expect(opened.payload.signals).toEqual({ lies: ['x'] });
    expect(opened.payload.behavior).toEqual({ clicks: 2 });
  });

  it('TOKEN_PAYLOAD_INVALID for a wrong-typed signal or a garbage signal group: nothing is silently read as clean', async () => {
    const garbage: unknown[] = [
      { signals: { timezone: 42 } },
      { signals: { automation: { webdriver: 'no' } } },
      { signals: { automation: 'x' } },
      { signals: 'x' },
      { signals: null },
      { signals: [] },
      { behavior: { clicks: 'many' } },
      { behavior: 'x' },
      { signals: undefined },
      { behavior: undefined },
    ];
    for (const payload of garbage) {
      const token = await makeToken({ serverKey: ring.primary, appKey: APP, payload: payload as never });
      expect(openBlackBox(token, ring), JSON.stringify(payload)).toEqual({ ok: false, failure: 'TOKEN_PAYLOAD_INVALID' });
    }
  });
});

describe('decodeBlackBox: app, clock and replay', () => {
  it('TOKEN_APP_MISMATCH for a token made for another app, with the device still known', async () => {
    const token = await makeToken({ serverKey: ring.primary, appKey: 'pk_someone_else' });
    const result = await decodeBlackBox(token, decodeOptions());
    expect(result).toMatchObject({ ok: false, failure: 'TOKEN_APP_MISMATCH' });
    expect(result.ok === false && 'deviceId' in result && result.deviceId).toBeTruthy();
  });

  it('TOKEN_EXPIRED past the max age and TOKEN_FROM_FUTURE beyond the clock skew', async () => {
    const old = await makeToken({ serverKey: ring.primary, appKey: APP, issuedAt: now() - 601 });
    const future = await makeToken({ serverKey: ring.primary, appKey: APP, issuedAt: now() + 61 });
    const withinSkew = await makeToken({ serverKey: ring.primary, appKey: APP, issuedAt: now() + 30 });
    expect(await decodeBlackBox(old, decodeOptions())).toMatchObject({ ok: false, failure: 'TOKEN_EXPIRED' });
    expect(await decodeBlackBox(future, decodeOptions())).toMatchObject({ ok: false, failure: 'TOKEN_FROM_FUTURE' });
    expect(await decodeBlackBox(withinSkew, decodeOptions())).toMatchObject({ ok: true });
  });

  it('TOKEN_REPLAYED the second time, keeping payload and device', async () => {
    const options = decodeOptions();
    const token = await makeToken({ serverKey: ring.primary, appKey: APP });
    const first = await decodeBlackBox(token, options);
    const second = await decodeBlackBox(token, options);
    expect(first.ok).toBe(true);
    expect(second).toMatchObject({ ok: false, failure: 'TOKEN_REPLAYED', deviceId: first.ok ? first.deviceId : 'x' });
  });

  it('does not claim the jti of a token it refuses for age or app', async () => {
    const claimed: string[] = [];
    const options = decodeOptions({ claimJti: async (jti) => (claimed.push(jti), true) });
    await decodeBlackBox(await makeToken({ serverKey: ring.primary, appKey: APP, issuedAt: now() - 9999 }), options);
    await decodeBlackBox(await makeToken({ serverKey: ring.primary, appKey: 'pk_other_app' }), options);
    expect(claimed).toEqual([]);
  });
});

describe('key rotation', () => {
  it('decrypts with every key of the ring and advertises the newest live key first', async () => {
    const older = generateTokenKey(new Date('2026-01-01T00:00:00Z'));
    const newer = generateTokenKey(new Date('2026-06-01T00:00:00Z'));
    const retired = { ...generateTokenKey(new Date('2025-01-01T00:00:00Z')), retired_at: '2026-01-02T00:00:00Z' };
    const rotated = new TokenKeyRing([older, newer, retired]);
    expect(rotated.jwks.keys.map((k) => k.kid)).toEqual([newer.kid, older.kid]);
    for (const key of [older, newer, retired]) {
      const { d: _d, ...pub } = key.jwk;
      const token = await makeToken({ serverKey: { ...pub, kid: key.kid }, appKey: APP });
      expect(openBlackBox(token, rotated).ok).toBe(true);
    }
  });

  it('refuses a ring whose keys are all retired or whose private and public parts disagree', () => {
    const key = generateTokenKey();
    expect(() => new TokenKeyRing([{ ...key, retired_at: new Date().toISOString() }])).toThrow(/live/);
    const other = generateTokenKey();
    expect(() => new TokenKeyRing([{ ...key, jwk: { ...key.jwk, d: other.jwk.d } }])).toThrow(/do not match/);
  });
});
