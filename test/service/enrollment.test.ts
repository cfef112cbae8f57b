/**
 * Device enrollment (server/services/enrollment.ts): puzzles bound to app and IP prefix,
 * single use, rising difficulty, one enrollment per key, and the certificate
 * check in evaluate — in memory and on a real Redis.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import type { ServerTokenKey } from '../../shared/jwk.js';
import { BASE_DERIVATIONS, multiplierFor, PUZZLE_COST } from '../../server/engine/enrollment/difficulty.js';
import { ipPrefix } from '../../server/engine/identifiers/ip-prefix.js';
import { MemoryHotState } from '../../server/adapters/hot-state/memory.js';
import { RedisHotState } from '../../server/adapters/hot-state/redis.js';
import { ERROR_CODES } from '../../shared/constants.js';
import { APP_KEY, OTHER_APP_KEY, testApp, type TestApp } from '../support/app.js';
import { askPuzzle, enroll, enrollBody, post, proofOf } from '../support/enroll.js';
import { deleteKeys, testRedisUrl } from '../support/redis.js';
import { makeToken, newDevice } from '../support/tokens.js';

const FAST = { enrollment: { baseDerivations: 6, cost: 50 } };
const IP = '203.0.113.10';
const opened: TestApp[] = [];
afterAll(async () => {
  await Promise.all(opened.map((t) => t.close()));
});
async function start(options: Parameters<typeof testApp>[1] = FAST): Promise<TestApp> {
  const t = await testApp({}, options);
  opened.push(t);
  return t;
}

const failure = (name: keyof typeof ERROR_CODES) => ({ status: ERROR_CODES[name].status, body: expect.objectContaining({ code: ERROR_CODES[name].code, error: name }) });

describe('IP prefixes', () => {
  it('are /24 for IPv4 and /64 for IPv6, IPv4-mapped IPv6 as IPv4', () => {
    expect(ipPrefix('203.0.113.77')).toBe('203.0.113.0/24');
    expect(ipPrefix('::ffff:203.0.113.77')).toBe('203.0.113.0/24');
    expect(ipPrefix('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(ipPrefix('not an ip')).toBe('');
    expect(ipPrefix(undefined)).toBe('');
  });
});

function enrollmentSuite(name: string, options: () => Promise<Parameters<typeof testApp>[1]>) {
  describe(`enrollment (${name})`, () => {
    it('enrolls a key once: a replayed puzzle and a second enrollment of the key are refused with their codes', async () => {
      const t = await start(await options());
      const device = await newDevice();
      const { puzzle, difficulty } = await askPuzzle(t.app, APP_KEY, IP);
      expect(difficulty).toBe(6 * 50);
      const body = await enrollBody(device, APP_KEY, puzzle);
      const first = await post(t.app, '/v1/devices/enroll', body, IP);
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({ code: 200, cert: expect.stringMatching(/^rgc1\./), difficulty: 300 });
      // The same puzzle again (even from another device): single use.
      expect(await post(t.app, '/v1/devices/enroll', body, IP)).toMatchObject(failure('PUZZLE_USED'));
      const other = await newDevice();
      expect(await post(t.app, '/v1/devices/enroll', { ...(await enrollBody(other, APP_KEY, puzzle)) }, IP)).toMatchObject(failure('PUZZLE_USED'));
      // The same key with a fresh puzzle.
      const again = await askPuzzle(t.app, APP_KEY, IP);
      expect(await post(t.app, '/v1/devices/enroll', await enrollBody(device, APP_KEY, again.puzzle), IP)).toMatchObject(failure('DEVICE_ENROLLED'));
    });

    it('binds the puzzle to its app and IP prefix', async () => {
      const t = await start(await options());
      const device = await newDevice();
      const { puzzle } = await askPuzzle(t.app, APP_KEY, IP);
      const body = await enrollBody(device, APP_KEY, puzzle);
      expect(await post(t.app, '/v1/devices/enroll', { ...body, app_key: OTHER_APP_KEY }, IP)).toMatchObject(failure('PUZZLE_FOREIGN'));
      expect(await post(t.app, '/v1/devices/enroll', body, '198.51.100.10')).toMatchObject(failure('PUZZLE_FOREIGN'));
      expect(await post(t.app, '/v1/devices/enroll', body, '2001:db8::1')).toMatchObject(failure('PUZZLE_FOREIGN'));
      // Another host of the same /24 is the same network.
      expect((await post(t.app, '/v1/devices/enroll', body, '203.0.113.200')).status).toBe(200);
      // IPv6: the /64.
      const v6 = await askPuzzle(t.app, APP_KEY, '2001:db8:0:1::5');
      const v6Body = await enrollBody(await newDevice(), APP_KEY, v6.puzzle);
      expect(await post(t.app, '/v1/devices/enroll', v6Body, '2001:db8:0:2::5')).toMatchObject(failure('PUZZLE_FOREIGN'));
      expect((await post(t.app, '/v1/devices/enroll', v6Body, '2001:db8:0:1:ffff::9')).status).toBe(200);
    });

    it('refuses wrong solutions, forged or broken puzzles, bad proofs and expired puzzles with stable codes, never a 5xx', async () => {
      let clock = Date.now();
      const t = await start({ ...(await options()), enrollment: { ...FAST.enrollment, now: () => clock } });
      const device = await newDevice();
      const { puzzle } = await askPuzzle(t.app, APP_KEY, IP);
      const body = await enrollBody(device, APP_KEY, puzzle);
      const wrongKey = { ...body, solution: { counter: body.solution.counter, derived_key: '00'.repeat(32) } };
      expect(await post(t.app, '/v1/devices/enroll', wrongKey, IP)).toMatchObject(failure('SOLUTION_WRONG'));
      // A puzzle edited to be easier, or made up.
      const challenge = JSON.parse(Buffer.from(puzzle, 'base64url').toString('utf8'));
      challenge.parameters.cost = 1;
      const edited = Buffer.from(JSON.stringify(challenge)).toString('base64url');
      expect(await post(t.app, '/v1/devices/enroll', { ...body, puzzle: edited, proof: await proofOf(device, edited) }, IP)).toMatchObject(failure('PUZZLE_INVALID'));
      for (const junk of ['x', 'eyJ9', Buffer.from('{"parameters":{}}').toString('base64url'), Buffer.from('[1,2]').toString('base64url')]) {
        expect(await post(t.app, '/v1/devices/enroll', { ...body, puzzle: junk, proof: await proofOf(device, junk) }, IP)).toMatchObject(failure('PUZZLE_INVALID'));
      }
      // The proof must be this key's signature of this puzzle.
      const stranger = await newDevice();
      expect(await post(t.app, '/v1/devices/enroll', { ...body, proof: await proofOf(stranger, puzzle) }, IP)).toMatchObject(failure('PROOF_INVALID'));
      expect(await post(t.app, '/v1/devices/enroll', { ...body, proof: 'AAAA' }, IP)).toMatchObject(failure('PROOF_INVALID'));
      const offCurve = { ...body, public_key: { ...body.public_key, y: body.public_key.x } };
      expect(await post(t.app, '/v1/devices/enroll', offCurve, IP)).toMatchObject(failure('PROOF_INVALID'));
      // Malformed requests: field errors.
      for (const bad of [{}, { app_key: APP_KEY }, { ...body, solution: { counter: -1, derived_key: 'zz' } }, { ...body, public_key: { kty: 'RSA' } }, { ...body, puzzle: 'p'.repeat(5000) }]) {
        const response = await post(t.app, '/v1/devices/enroll', bad, IP);
        expect(response.status, JSON.stringify(response.body)).toBe(400);
        expect([9001, 9002, 9003]).toContain((response.body as { code: number }).code);
      }
      expect(await post(t.app, '/v1/devices/enroll', { ...body, app_key: 'pk_nobody' }, IP)).toMatchObject(failure('BAD_CREDENTIALS'));
      expect(await post(t.app, '/v1/devices/puzzle', { app_key: APP_KEY }, IP, { origin: 'https://evil.example' })).toMatchObject(failure('NOT_ALLOWED'));
      // Still good after all that (nothing was claimed), until it expires.
      clock += 11 * 60_000;
      expect(await post(t.app, '/v1/devices/enroll', body, IP)).toMatchObject(failure('PUZZLE_EXPIRED'));
      clock -= 11 * 60_000;
      expect((await post(t.app, '/v1/devices/enroll', body, IP)).status).toBe(200);
    });

    it('answers junk bodies with a 4xx from the error table, never a 5xx', async () => {
      const t = await start(await options());
      const device = await newDevice();
      const { puzzle } = await askPuzzle(t.app, APP_KEY, IP);
      const good = await enrollBody(device, APP_KEY, puzzle);
      const codes = new Set<number>(Object.values(ERROR_CODES).map((e) => e.code));
      const junk: unknown[] = [null, 1, 'x', [], { app_key: 1 }, { app_key: APP_KEY, puzzle: null }];
      const values: unknown[] = [null, -1, 1e308, 'x'.repeat(3000), '', [], {}, { counter: 1.5, derived_key: 'ab' }, { kty: 'EC', crv: 'P-256', x: '!', y: '?' }, true];
      for (const field of ['puzzle', 'solution', 'public_key', 'proof', 'app_key']) {
        for (const value of values) junk.push({ ...good, [field]: value });
      }
      for (const body of junk) {
        for (const url of ['/v1/devices/enroll', '/v1/devices/puzzle']) {
          const response = await t.app.inject({ method: 'POST', url, payload: JSON.stringify(body), headers: { 'content-type': 'application/json' }, remoteAddress: IP });
          expect(response.statusCode, `${url} ${JSON.stringify(body).slice(0, 200)}`).toBeLessThan(500);
          if (response.statusCode !== 200) expect(codes.has((response.json() as { code: number }).code)).toBe(true);
        }
      }
    });

    it('answers CORS for the app origins', async () => {
      const t = await start(await options());
      const preflight = await t.app.inject({ method: 'OPTIONS', url: '/v1/devices/puzzle', headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST' } });
      expect(preflight.statusCode).toBe(204);
      expect(preflight.headers['access-control-allow-origin']).toBe('https://shop.example');
      const response = await t.app.inject({ method: 'POST', url: '/v1/devices/puzzle', payload: { app_key: APP_KEY }, headers: { origin: 'https://shop.example' } });
      expect(response.statusCode).toBe(200);
      expect(response.headers['access-control-allow-origin']).toBe('https://shop.example');
    });
  });
}

enrollmentSuite('memory', async () => FAST);

const REDIS_URL = await testRedisUrl('the Redis enrollment suite');
const redisStates: RedisHotState[] = [];
afterAll(async () => {
  if (REDIS_URL === undefined) return;
  const admin = new Redis(REDIS_URL);
  for (const state of redisStates) await state.close();
  await deleteKeys(admin, 'rgtest-enroll:');
  admin.disconnect();
});
if (REDIS_URL !== undefined) {
  const url = REDIS_URL;
  enrollmentSuite('Redis', async () => {
    const state = await RedisHotState.open({ url, keyPrefix: `rgtest-enroll:${process.pid}-${randomBytes(4).toString('hex')}:` });
    redisStates.push(state);
    return { ...FAST, hotState: state };
  });
}

describe('a hot-state outage', () => {
  it('answers STORE_UNAVAILABLE (503) on the enrollment routes, and evaluate still answers', async () => {
    const state = new MemoryHotState();
    const t = await start({ ...FAST, hotState: state });
    const device = await newDevice();
    const { puzzle } = await askPuzzle(t.app, APP_KEY, IP);
    const body = await enrollBody(device, APP_KEY, puzzle);
    const down = () => Promise.reject(new Error('connection refused'));
    Object.assign(state, { observe: down, claimOnce: down });
    expect(await post(t.app, '/v1/devices/puzzle', { app_key: APP_KEY }, IP)).toMatchObject(failure('STORE_UNAVAILABLE'));
    expect(await post(t.app, '/v1/devices/enroll', body, IP)).toMatchObject(failure('STORE_UNAVAILABLE'));
    const key = t.app.riskgate.keys.current().jwks.keys[0] as ServerTokenKey;
    const response = await t.app.inject({ method: 'POST', url: '/v1/risk/evaluate', headers: t.auth, payload: { event: 'login', ip: IP, black_box: await makeToken({ serverKey: key, appKey: APP_KEY }) } });
    expect(response.statusCode).toBe(200);
  });
});

describe('difficulty', () => {
  it('stays at the base for a household and rises past the allowance', () => {
    expect(multiplierFor({ '5m': 1, '1h': 1, '24h': 1 })).toBe(1);
    expect(multiplierFor({ '5m': 4, '1h': 6, '24h': 12 })).toBe(1);
    expect(multiplierFor({ '5m': 6, '1h': 6, '24h': 6 })).toBe(2);
    expect(multiplierFor({ '5m': 1000, '1h': 1000, '24h': 1000 })).toBe(1024);
  });

  it('a household (a few devices a day) gets base puzzles', async () => {
    const t = await start({});
    for (let i = 0; i < 4; i++) expect((await askPuzzle(t.app, APP_KEY, '198.51.100.23')).difficulty).toBe(BASE_DERIVATIONS * PUZZLE_COST);
  });

  it('a farm enrolling 1,000 devices from one prefix pays on average at least 100× a normal device', async () => {
    const t = await start({});
    const base = BASE_DERIVATIONS * PUZZLE_COST;
    let total = 0;
    const seen: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const { difficulty } = await askPuzzle(t.app, APP_KEY, `192.0.2.${i % 250}`);
      total += difficulty;
      seen.push(difficulty);
    }
    const ratio = total / 1000 / base;
    console.log(`farm: mean expected work ${Math.round(ratio)}× a normal device's (first ${seen.slice(0, 6).map((d) => d / base).join(', ')}; last ${seen.at(-1)! / base}×)`);
    expect(ratio).toBeGreaterThanOrEqual(100);
    // Another prefix is unaffected.
    expect((await askPuzzle(t.app, APP_KEY, '192.0.3.1')).difficulty).toBe(base);
  }, 120_000);
});

describe('the certificate in evaluate', () => {
  async function evaluate(t: TestApp, blackBox: string, ip = IP) {
    const response = await t.app.inject({ method: 'POST', url: '/v1/risk/evaluate', headers: t.auth, payload: { event: 'login', black_box: blackBox, ip } });
    expect(response.statusCode).toBe(200);
    const body = response.json() as { score: number; level: number; decision: string; challenge: string; sequence_id: string; reasons: { id: string }[]; tags: string[] };
    const record = await t.records.getDecision('shop', body.sequence_id);
    return { ...body, ids: body.reasons.map((r) => r.id), features: record?.features as { enrollment: Record<string, unknown> } | undefined };
  }
  const key = (t: TestApp) => t.app.riskgate.keys.current().jwks.keys[0] as ServerTokenKey;
  const settle = () => new Promise((r) => setTimeout(r, 300));

  it('a valid certificate is ok; missing, enrolling, another device\'s or another app\'s are not', async () => {
    const t = await start();
    const device = await newDevice();
    const cert = await enroll(t.app, device, APP_KEY, IP);
    const good = await evaluate(t, await makeToken({ serverKey: key(t), appKey: APP_KEY, device, payload: { enrollment: { state: 'enrolled', cert } } }));
    expect(good.ids).not.toContain('device_not_enrolled');
    expect(good.ids).not.toContain('device_cert_invalid');
    expect(good.level).toBe(0);

    const missing = await evaluate(t, await makeToken({ serverKey: key(t), appKey: APP_KEY }));
    expect(missing.ids).toContain('device_not_enrolled');
    expect(missing.score).toBeGreaterThanOrEqual(20);
    expect(missing.level).toBeGreaterThanOrEqual(1);

    const enrolling = await evaluate(t, await makeToken({ serverKey: key(t), appKey: APP_KEY, payload: { enrollment: { state: 'enrolling' } } }));
    // Challenged (level 1–2, slider), never declined, on its own.
    expect(enrolling.challenge).toBe('slider');
    expect([1, 2]).toContain(enrolling.level);
    expect(enrolling.decision).not.toBe('decline');
    expect(enrolling.ids).toContain('device_enrolling');

    const stolen = await evaluate(t, await makeToken({ serverKey: key(t), appKey: APP_KEY, payload: { enrollment: { state: 'enrolled', cert } } }));
    expect(stolen.ids).toContain('device_cert_invalid');
    expect(stolen.score).toBeGreaterThanOrEqual(70);
    expect(stolen.tags).toContain('tampered');

    const elsewhere = await newDevice();
    const otherAppCert = await enroll(t.app, elsewhere, OTHER_APP_KEY, IP);
    const foreign = await evaluate(t, await makeToken({ serverKey: key(t), appKey: APP_KEY, device: elsewhere, payload: { enrollment: { state: 'enrolled', cert: otherAppCert } } }));
    expect(foreign.ids).toContain('device_cert_invalid');
    expect(foreign.score).toBeGreaterThanOrEqual(70);

    const forged = cert.slice(0, -4) + (cert.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    const bad = await evaluate(t, await makeToken({ serverKey: key(t), appKey: APP_KEY, device, payload: { enrollment: { state: 'enrolled', cert: forged } } }));
    expect(bad.ids).toContain('device_cert_invalid');

    await settle();
    const recorded = await evaluate(t, await makeToken({ serverKey: key(t), appKey: APP_KEY, device, payload: { enrollment: { state: 'enrolled', cert } } }), '203.0.113.99');
    await settle();
    const again = await t.records.getDecision('shop', recorded.sequence_id);
    expect(again?.features).toMatchObject({
      enrollment: { status: 'ok', difficulty: 300, prefix_match: true, prefix_enrollments_5m: 1, prefix_enrollments_1h: 1, prefix_enrollments_24h: 1 },
    });
    const moved = await evaluate(t, await makeToken({ serverKey: key(t), appKey: APP_KEY, device, payload: { enrollment: { state: 'enrolled', cert } } }), '198.51.100.1');
    await settle();
    expect((await t.records.getDecision('shop', moved.sequence_id))?.features).toMatchObject({ enrollment: { status: 'ok', prefix_match: false, prefix_enrollments_24h: 0 } });
  });

  it('a malformed enrollment object fails the token payload, not the request', async () => {
    const t = await start();
    const result = await evaluate(t, await makeToken({ serverKey: key(t), appKey: APP_KEY, payload: { enrollment: { state: 'bogus' as 'enrolled' } } }));
    expect(result.ids).toContain('token_payload_invalid');
  });
});
