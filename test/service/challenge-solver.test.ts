/**
 * The slider against the solver an attacker writes (test/support/slider-solver.ts),
 * end to end over the real HTTP API: fresh challenges, the images from the
 * start response, edge/template/shading gap finders, the proof of work solved,
 * a person-like eased and jittered drag. Also blind guessing, the proof of
 * work, decoy drops, and the per-device and per-network try limits.
 *
 * Puzzles are seeded (deterministic bytes), so the rates are the same on every
 * run; bench/challenge-bench.ts measures them on crypto-random puzzles.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config/config.js';
import { networkPrefix } from '../../server/engine/identifiers/ip-prefix.js';
import { apiErrorFor } from '../../server/http/errors.js';
import { ChallengeService, type Requester } from '../../server/services/challenges.js';
import { Refused } from '../../server/services/failures.js';
import { generateSliderPuzzle, type SliderPuzzle } from '../../server/engine/challenges/slider/puzzle.js';
import { IdentifierKeys } from '../../server/engine/identifiers/identifiers.js';
import { MemoryHotState } from '../../server/adapters/hot-state/memory.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { solvePow as sdkSolvePow } from '../../client/core/challenge/pow.js';
import { PowIssuer } from '../../server/engine/challenges/slider/pow.js';
import { APP_KEY, testApp, type TestApp } from '../support/app.js';
import { seededBytes } from '../support/puzzles.js';
import { attackOnce, FINDERS, solvePow, type SliderView } from '../support/slider-solver.js';
import { humanTrack, seeded } from '../support/tracks.js';

const ORIGIN = 'https://shop.example';

const apps: TestApp[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((t) => t.close()));
});

/** An app whose puzzles are seeded and remembered (by background) so the test knows each answer. */
async function harness(seed: string, slider: Record<string, unknown> = {}) {
  const random = seededBytes(seed);
  const drawn = new Map<string, SliderPuzzle>();
  const t = await testApp(
    { challenges: { starts_per_ip_minute: 100_000, slider: { answers_per_network: 100_000, answers_per_device: 100_000, ...slider } } },
    {
      puzzles: () => {
        const puzzle = generateSliderPuzzle(random);
        drawn.set(`data:image/png;base64,${puzzle.background.toString('base64')}`, puzzle);
        return puzzle;
      },
    },
  );
  apps.push(t);
  return { t, puzzleOf: (view: { background: string }) => drawn.get(view.background)! };
}

async function post(t: TestApp, url: string, payload: object, ip = '198.51.100.10') {
  const response = await t.app.inject({ method: 'POST', url, payload: { app_key: APP_KEY, ...payload }, headers: { origin: ORIGIN }, remoteAddress: ip });
  return { status: response.statusCode, body: response.json() as Record<string, unknown> & { slider?: SliderView; challenge_id?: string } };
}

const start = (t: TestApp, ip?: string) => post(t, '/v1/challenges', { type: 'slider' }, ip);
const answer = (t: TestApp, id: string, body: object, ip?: string) => post(t, `/v1/challenges/${encodeURIComponent(id)}/answer`, body, ip);
const percent = (n: number, of: number) => `${((100 * n) / of).toFixed(1)} %`;

describe('the slider against an attacker\'s solver', () => {
  it('the gap-finding solver passes at most 5 % of 100 fresh challenges on the first try', { timeout: 300_000 }, async () => {
    const { t, puzzleOf } = await harness('solver-100');
    const challenges = 100;
    let passed = 0;
    const imageHits: Record<string, number> = {};
    for (let i = 0; i < challenges; i++) {
      // A botnet: every challenge from another network.
      const result = await attackOnce({ app: t.app, appKey: APP_KEY, origin: ORIGIN, ip: `10.${i}.7.1`, rand: seeded(i + 1) });
      expect(result.status).toBe(200);
      if (result.passed) passed++;
      const answerX = puzzleOf({ background: result.background! }).answerX;
      for (const finder of FINDERS) if (Math.abs(result.guess!.x[finder] - answerX) <= 4) imageHits[finder] = (imageHits[finder] ?? 0) + 1;
    }
    console.info(`solver (best of edge, Canny, template, darkness) passed ${percent(passed, challenges)} of ${challenges} fresh challenges on the first try`);
    console.info(`image finders on the true hole: ${FINDERS.map((f) => `${f} ${percent(imageHits[f] ?? 0, challenges)}`).join(', ')}`);
    expect(passed / challenges).toBeLessThanOrEqual(0.05);
  });

  it('blind guessing, and guessing among the holes, pass few challenges within 5 tries', { timeout: 300_000 }, async () => {
    const { t, puzzleOf } = await harness('blind');
    const challenges = 60;
    const rand = seeded(0xb11d);
    const run = async (pick: (view: SliderView) => number) => {
      let passed = 0;
      for (let i = 0; i < challenges; i++) {
        const ip = `10.${100 + (i % 100)}.${i >> 8}.9`;
        const started = await start(t, ip);
        let view = started.body.slider!;
        for (let attempt = 0; attempt < 5; attempt++) {
          const drag = humanTrack(rand, pick(view));
          const answered = await answer(t, started.body.challenge_id!, { x: drag.x, track: drag.track, pow: solvePow(view.pow!) }, ip);
          if (answered.body.success === true) {
            passed++;
            break;
          }
          if (!answered.body.slider) break;
          view = answered.body.slider;
        }
      }
      return passed;
    };
    const blind = await run(() => 56 + Math.floor(rand() * 209));
    // A perfect hole detector that cannot tell the true hole: a random hole each try.
    const amongHoles = await run((view) => {
      const puzzle = puzzleOf(view);
      const holes = [puzzle.answerX, ...(puzzle.decoyXs ?? [])];
      return holes[Math.floor(rand() * holes.length)]!;
    });
    console.info(`within 5 tries: blind guessing passed ${percent(blind, challenges)}, a random hole each try ${percent(amongHoles, challenges)} of ${challenges} challenges`);
    expect(blind / challenges).toBeLessThanOrEqual(0.25);
    // A drop on a decoy ends the challenge, so this is about 1 / (number of holes).
    expect(amongHoles / challenges).toBeLessThanOrEqual(0.45);
  });
});

describe('proof of work and decoys', () => {
  it('the SDK\'s solver (client/core/challenge/pow.ts) solves what the server issues; the server verifies it (its time: bench/challenge-bench.ts)', async () => {
    const issuer = new PowIssuer(Buffer.alloc(32, 9), 20_000);
    for (let i = 0; i < 10; i++) {
      const { view, challenge } = await issuer.issue(Date.now() + 60_000);
      const solution = await sdkSolvePow(view, sha256, (next) => next());
      expect(solution).toBeDefined();
      expect(await issuer.check(challenge, solution)).toBe(true);
      expect(await issuer.check(challenge, { ...solution, derived_key: '00'.repeat(32) })).toBe(false);
    }
    expect(await sdkSolvePow({ algorithm: 'SHA-1', nonce: '00', salt: '00', cost: 1, key_length: 32, key_prefix: '00' }, sha256)).toBeUndefined();
  });


  it('an answer without the proof of work, with a wrong one, or with the previous puzzle\'s, fails (failed, never 5xx); the right one passes', { timeout: 60_000 }, async () => {
    const { t, puzzleOf } = await harness('pow');
    const started = await start(t);
    expect(started.status).toBe(200);
    const id = started.body.challenge_id!;
    let view = started.body.slider!;
    expect(view.pow).toMatchObject({ algorithm: 'SHA-256', cost: 1 });
    const person = (v: SliderView) => humanTrack(seeded(7), puzzleOf(v).answerX, { device: 'mouse', speed: 'normal', style: 'direct' });

    const missing = await answer(t, id, person(view));
    expect(missing.status).toBe(200);
    expect(missing.body).toMatchObject({ success: false, failure: 'failed', attempts_left: 4 });
    const previous = view;
    view = missing.body.slider!;

    const solved = solvePow(view.pow!);
    const wrongKey = solved.derived_key.replace(/.$/, (c) => (c === '0' ? '1' : '0'));
    const wrong = await answer(t, id, { ...person(view), pow: { counter: solved.counter, derived_key: wrongKey } });
    expect(wrong.body).toMatchObject({ success: false, failure: 'failed', attempts_left: 3 });
    view = wrong.body.slider!;

    const junk = await answer(t, id, { ...person(view), pow: { counter: -1 } });
    expect(junk.status).toBe(200);
    expect(junk.body).toMatchObject({ success: false, failure: 'failed', attempts_left: 2 });
    view = junk.body.slider!;

    const stale = await answer(t, id, { ...person(view), pow: solvePow(previous.pow!) });
    expect(stale.body).toMatchObject({ success: false, failure: 'failed', attempts_left: 1 });
    view = stale.body.slider!;

    const right = await answer(t, id, { ...person(view), pow: solvePow(view.pow!) });
    expect(right.body).toMatchObject({ success: true, session_id: expect.any(String) });
  });

  it('a drop on a decoy hole ends the challenge: too_many_attempts, no fresh puzzle', async () => {
    const { t, puzzleOf } = await harness('decoy');
    const started = await start(t);
    const view = started.body.slider!;
    const decoyX = puzzleOf(view).decoyXs![0]!;
    const drag = humanTrack(seeded(3), decoyX, { device: 'mouse', speed: 'normal', style: 'direct' });
    const answered = await answer(t, started.body.challenge_id!, { ...drag, pow: solvePow(view.pow!) });
    expect(answered.body).toMatchObject({ success: false, failure: 'too_many_attempts', attempts_left: 0 });
    expect(answered.body.slider).toBeUndefined();
  });
});

describe('try limits per network and per device', () => {
  it('counts answers per IPv4 /24 and IPv6 /64 across challenges: past the limit too_many_attempts, then starts get 4290', async () => {
    const { t, puzzleOf } = await harness('network', { answers_per_network: 4 });
    const wrong = async (ip: string) => {
      const started = await start(t, ip);
      expect(started.status).toBe(200);
      const view = started.body.slider!;
      // Off the answer and off every decoy.
      const holes = [puzzleOf(view).answerX, ...(puzzleOf(view).decoyXs ?? [])];
      let x = 0;
      while (holes.some((h) => Math.abs(h - x) <= 8)) x++;
      const drag = humanTrack(seeded(x + 1), Math.max(x, 8));
      return answer(t, started.body.challenge_id!, { ...drag, pow: solvePow(view.pow!) }, ip);
    };
    // Started while the budget lasts, answered (right) after it ran out.
    const early = await start(t, '203.0.113.9');
    expect(early.status).toBe(200);
    for (const ip of ['203.0.113.5', '203.0.113.77', '203.0.113.200', '203.0.113.5']) expect((await wrong(ip)).body).toMatchObject({ failure: 'failed' });
    const view = early.body.slider!;
    const person = humanTrack(seeded(5), puzzleOf(view).answerX, { device: 'mouse', speed: 'normal', style: 'direct' });
    const over = await answer(t, early.body.challenge_id!, { ...person, pow: solvePow(view.pow!) }, '203.0.113.9');
    expect(over.body).toMatchObject({ success: false, failure: 'too_many_attempts', attempts_left: 0 });
    const refused = await start(t, '203.0.113.250');
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ code: 4290 });
    // Another network is not affected.
    expect((await start(t, '198.51.100.1')).status).toBe(200);

    for (const ip of ['2001:db8:1:2::1', '2001:db8:1:2:ffff::9', '2001:db8:1:2::abcd', '2001:db8:1:2::1']) expect((await wrong(ip)).body).toMatchObject({ failure: 'failed' });
    expect((await start(t, '2001:db8:1:2::77')).status).toBe(429);
    expect((await start(t, '2001:db8:1:3::1')).status).toBe(200);
  });

  it('answers without their proof of work fail and do not use up the network\'s budget', async () => {
    const { t, puzzleOf } = await harness('unpaid', { answers_per_network: 2 });
    for (let i = 0; i < 4; i++) {
      const started = await start(t, '192.0.2.10');
      const drag = humanTrack(seeded(i + 1), puzzleOf(started.body.slider!).answerX);
      expect((await answer(t, started.body.challenge_id!, drag, '192.0.2.10')).body).toMatchObject({ success: false, failure: 'failed' });
    }
    const started = await start(t, '192.0.2.11');
    expect(started.status).toBe(200);
    const view = started.body.slider!;
    const person = humanTrack(seeded(9), puzzleOf(view).answerX, { device: 'mouse', speed: 'normal', style: 'direct' });
    expect((await answer(t, started.body.challenge_id!, { ...person, pow: solvePow(view.pow!) }, '192.0.2.11')).body).toMatchObject({ success: true });
  });

  it('networkPrefix: IPv4 /24, IPv4-mapped IPv6 as IPv4, IPv6 /64', () => {
    expect(networkPrefix('203.0.113.77')).toBe('203.0.113.0/24');
    expect(networkPrefix('::ffff:203.0.113.77')).toBe('203.0.113.0/24');
    expect(networkPrefix('2001:db8:1:2:ffff::9')).toBe(networkPrefix('2001:db8:1:2::1'));
    expect(networkPrefix('2001:db8:1:3::1')).not.toBe(networkPrefix('2001:db8:1:2::1'));
  });

  it('counts answers per device across challenges and networks', async () => {
    const config = loadConfig({ env: {}, raw: { apps: [{ id: 'shop', name: 'Shop', key: APP_KEY, secret: 'sk_test_secret_0123456789abcdef' }], challenges: { slider: { answers_per_device: 3 } } } });
    const drawn = new Map<string, SliderPuzzle>();
    const random = seededBytes('device');
    const service = new ChallengeService({
      hotState: new MemoryHotState(),
      settings: config.challenges,
      sms: { send: async () => undefined } as never,
      identifiers: new IdentifierKeys(Buffer.alloc(32, 1)),
      secret: Buffer.alloc(32, 2),
      log: { info: () => undefined, warn: () => undefined },
      metrics: { outcome: () => undefined, smsSent: () => undefined, smsRefused: () => undefined },
      puzzles: () => {
        const puzzle = generateSliderPuzzle(random);
        drawn.set(`data:image/png;base64,${puzzle.background.toString('base64')}`, puzzle);
        return puzzle;
      },
    });
    const app = config.apps[0]!;
    const origin = { appId: app.id, type: 'slider' as const, event: 'login' as const, deviceId: 'dev-1' };
    const tryOnce = async (requester: Requester, right: boolean) => {
      const started = await service.start(origin, requester);
      const view = started.slider!;
      const puzzle = drawn.get(view.background)!;
      let x = right ? puzzle.answerX : 0;
      while (!right && [puzzle.answerX, ...(puzzle.decoyXs ?? [])].some((h) => Math.abs(h - x) <= 8)) x++;
      const drag = humanTrack(seeded(11), Math.max(x, 8), { device: 'mouse', speed: 'normal', style: 'direct' });
      return service.answer(app, started.challenge_id, { ...drag, pow: solvePow(view.pow as never) }, requester);
    };
    // Three answers from three networks, one device: the budget is the device's.
    expect(await tryOnce({ ip: '192.0.2.1' }, false)).toMatchObject({ failure: 'failed' });
    expect(await tryOnce({ ip: '198.51.100.1' }, false)).toMatchObject({ failure: 'failed' });
    expect(await tryOnce({ ip: '203.0.113.1' }, true)).toMatchObject({ success: true });
    // The fourth, even right, from yet another network: the device is out of tries.
    expect(await tryOnce({ ip: '100.64.0.1' }, true)).toMatchObject({ success: false, failure: 'too_many_attempts' });
    // And a device that says who it is gets no fresh slider (429).
    const refused: unknown = await service.start(origin, { ip: '100.64.0.2', deviceId: 'dev-1' }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(Refused);
    expect(refused).toMatchObject({ failure: { code: 'slider_tries_exhausted' } });
    expect(apiErrorFor((refused as Refused).failure)).toMatchObject({ kind: 'RATE_LIMITED', statusCode: 429 });
  });
});
