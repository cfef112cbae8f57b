import { describe, expect, it } from 'vitest';
import {
  checkAnswerX,
  checkDuration,
  checkJumps,
  checkSampleCount,
  checkSampleRate,
  checkSliderAnswer,
  checkStart,
  checkTimingJitter,
  checkTrackEnd,
  checkTrackInput,
  checkVelocityProfile,
  checkYJitter,
  MAX_TRACK_POINTS,
  type SliderAnswer,
  type SliderFailure,
  type TrackPoint,
} from '../../server/engine/challenges/slider/track.js';
import { between, gauss, humanTrack, pick, PROFILES, seeded, synthetic, type Rand } from '../support/tracks.js';

const ANSWER = 180;
const expected = { answerX: ANSWER };
const failureOf = (answer: SliderAnswer) => {
  const result = checkSliderAnswer(answer, expected);
  return result.ok ? 'ok' : result.failure;
};
/** Small jitter so a bot fails only on the defect it is built to show. */
const wobble = (rand: Rand, sd: number) => () => Math.round(gauss(rand, sd) * 100) / 100;
const jitteredDt = (rand: Rand, base = 16.67) => () => base + gauss(rand, 0.8);

// ---------------------------------------------------------------- people pass

describe('person-like tracks pass', () => {
  it('passes 200 random person-like tracks (mouse and touch, fast and slow, overshoots)', () => {
    const failures: { seed: number; failure: SliderFailure }[] = [];
    for (let seed = 1; seed <= 200; seed++) {
      const rand = seeded(seed);
      const answerX = Math.round(between(rand, 64, 260));
      const answer = humanTrack(rand, answerX);
      const result = checkSliderAnswer(answer, { answerX });
      if (!result.ok) failures.push({ seed, failure: result.failure });
    }
    expect(failures).toEqual([]);
  });

  it.each([
    ['mouse', 'fast', 'direct'],
    ['mouse', 'slow', 'two_step'],
    ['mouse', 'normal', 'overshoot'],
    ['touch', 'fast', 'overshoot'],
    ['touch', 'slow', 'direct'],
    ['touch', 'normal', 'two_step'],
  ] as const)('passes a %s drag, %s, %s', (device, speed, style) => {
    for (let seed = 1000; seed < 1030; seed++) {
      const rand = seeded(seed);
      const answerX = Math.round(between(rand, 64, 260));
      expect(checkSliderAnswer(humanTrack(rand, answerX, { device, speed, style }), { answerX })).toEqual({ ok: true });
    }
  });
});

// ---------------------------------------------------------------- bots fail, each for its reason

describe('synthetic tracks fail with the specific failure', () => {
  const rand = seeded(42);
  const human = () => humanTrack(seeded(7), ANSWER, { device: 'mouse', speed: 'normal', style: 'direct' });

  it('control: the human track the bots are derived from passes', () => {
    expect(failureOf(human())).toBe('ok');
  });

  it('the naive bot (straight, y = 0, clocked, constant speed) fails, first on y', () => {
    const track = synthetic(31, () => 10, (i) => (ANSWER * i) / 30);
    expect(failureOf({ x: ANSWER, track })).toBe('no_y_jitter');
  });

  it('a constant-speed line with y and timing jitter: constant_speed', () => {
    const y = wobble(rand, 0.8);
    const track = synthetic(41, jitteredDt(rand), (i) => (ANSWER * i) / 40, y);
    expect(checkVelocityProfile(track)).toBe('constant_speed');
    expect(failureOf({ x: ANSWER, track })).toBe('constant_speed');
  });

  it('a human track with all y equal: no_y_jitter', () => {
    const answer = human();
    const track = answer.track.map(([t, x]) => [t, x, 0] as const);
    expect(checkYJitter(track)).toBe('no_y_jitter');
    expect(failureOf({ x: answer.x, track })).toBe('no_y_jitter');
  });

  it('a single y step is not jitter (regression: tianai rule 4 could never fire)', () => {
    const answer = human();
    const track = answer.track.map(([t, x], i, all) => [t, x, i === all.length - 1 ? 1 : 0] as const);
    expect(checkYJitter(track)).toBe('no_y_jitter');
  });

  it('a teleport in the middle of a human track: jump', () => {
    const answer = human();
    const middle = Math.floor(answer.track.length / 2);
    const track = answer.track.map(([t, x, y], i) => [t, i < middle ? x * 0.1 : x, y] as const);
    expect(checkJumps(track)).toBe('jump');
    expect(failureOf({ x: answer.x, track })).toBe('jump');
  });

  it('a backwards teleport is a jump too (regression: tianai checks one direction only)', () => {
    const answer = human();
    const at = answer.track.length - 3;
    const track = answer.track.map(([t, x, y], i) => [t, i === at ? x - 120 : x, y] as const);
    expect(checkJumps(track)).toBe('jump');
  });

  it('a drag under 100 ms: too_fast', () => {
    const y = wobble(rand, 0.8);
    const track = synthetic(20, () => 4 + rand(), (i) => ANSWER * PROFILES.minimumJerk(i / 19), y);
    expect(checkDuration(track)).toBe('too_fast');
    expect(failureOf({ x: ANSWER, track })).toBe('too_fast');
  });

  it('a long wait, then the whole move in two frames: too_fast', () => {
    const answer = human();
    const track: TrackPoint[] = [[0, 0, 0], [400, 1, 1]];
    for (let i = 1; i <= 4; i++) track.push([400 + i * 16, (ANSWER * i) / 4, i % 2]);
    for (let i = 1; i <= 8; i++) track.push([470 + i * 17 + rand(), ANSWER, 2]);
    // 45 px steps stay under the jump limit (35 % of 180 px); the 64 ms of movement is what gives it away.
    expect(checkJumps(track)).toBeNull();
    expect(checkVelocityProfile(track)).toBe('too_fast');
    expect(failureOf({ x: answer.x, track })).toBe('too_fast');
  });

  it('a drag over 15 s: too_slow', () => {
    const answer = human();
    const track = answer.track.map(([t, x, y]) => [t * 60 + 1, x, y] as const);
    expect(failureOf({ x: answer.x, track: [[0, 0, 0], ...track] })).toBe('too_slow');
  });

  it('too few points: track_too_short', () => {
    const track = synthetic(6, () => 100 + rand() * 10, (i) => ANSWER * PROFILES.minimumJerk(i / 5), (i) => i % 2);
    expect(checkSampleCount(track)).toBe('track_too_short');
    expect(failureOf({ x: ANSWER, track })).toBe('track_too_short');
  });

  it('one point per 500 ms: bad_sample_rate', () => {
    const track = synthetic(12, () => 500 + rand() * 20, (i) => ANSWER * PROFILES.minimumJerk(i / 11), (i) => i % 3);
    expect(checkSampleRate(track)).toBe('bad_sample_rate');
    expect(failureOf({ x: ANSWER, track })).toBe('bad_sample_rate');
  });

  it('1000 points in one second: bad_sample_rate', () => {
    const track = synthetic(MAX_TRACK_POINTS, () => 1 + rand() * 0.1, (i) => ANSWER * PROFILES.minimumJerk(i / 999), (i) => i % 3);
    expect(checkSampleRate(track)).toBe('bad_sample_rate');
    expect(failureOf({ x: ANSWER, track })).toBe('bad_sample_rate');
  });

  it('a human-like profile on a perfectly regular clock: regular_timing', () => {
    const y = wobble(rand, 0.8);
    const track = synthetic(61, () => 16, (i) => Math.round(ANSWER * PROFILES.minimumJerk(i / 60) * 100) / 100, y);
    expect(checkTimingJitter(track)).toBe('regular_timing');
    expect(failureOf({ x: ANSWER, track })).toBe('regular_timing');
  });

  it('a regular clock with only the first and last intervals varied is still regular_timing', () => {
    const y = wobble(rand, 0.8);
    const track = synthetic(61, (i) => (i === 0 ? 37 : i === 59 ? 210 : 1000 / 60), (i) => ANSWER * PROFILES.minimumJerk(i / 60), y);
    expect(failureOf({ x: ANSWER, track })).toBe('regular_timing');
  });

  it('accelerating all the way to an abrupt stop: no_deceleration', () => {
    const y = wobble(rand, 0.8);
    const track = synthetic(41, jitteredDt(rand), (i) => ANSWER * (i / 40) ** 2.5, y);
    expect(checkVelocityProfile(track)).toBe('no_deceleration');
    expect(failureOf({ x: ANSWER, track })).toBe('no_deceleration');
  });

  it('starting at full speed and braking (ease-out only): no_acceleration', () => {
    const y = wobble(rand, 0.8);
    const track = synthetic(41, jitteredDt(rand), (i) => ANSWER * (1 - (1 - i / 40) ** 2), y);
    expect(checkVelocityProfile(track)).toBe('no_acceleration');
    expect(failureOf({ x: ANSWER, track })).toBe('no_acceleration');
  });

  it('the wrong x: x_out_of_tolerance', () => {
    const answer = humanTrack(seeded(7), ANSWER + 10, { device: 'mouse', speed: 'normal', style: 'direct' });
    expect(failureOf(answer)).toBe('x_out_of_tolerance');
  });

  it('a track that ends elsewhere than the submitted x: track_mismatch', () => {
    const answer = humanTrack(seeded(7), ANSWER - 4, { device: 'mouse', speed: 'normal', style: 'direct' });
    const x = answer.track[answer.track.length - 1]![1] + 5;
    expect(Math.abs(x - ANSWER)).toBeLessThanOrEqual(4);
    expect(failureOf({ x, track: answer.track })).toBe('track_mismatch');
  });

  it('a track that starts away from the origin: bad_start', () => {
    const answer = human();
    const track = answer.track.map(([t, x, y], i) => [t, i === 0 ? 25 : x, y] as const);
    expect(checkStart(track)).toBe('bad_start');
    expect(failureOf({ x: answer.x, track })).toBe('bad_start');
  });
});

describe('randomised bot families fail', () => {
  const bots = (name: string, build: (rand: Rand, distance: number, count: number) => TrackPoint[], expectedFailure: SliderFailure) =>
    it(`${name}: ${expectedFailure} for 100 random variants`, () => {
      const outcomes = new Map<string, number>();
      for (let seed = 1; seed <= 100; seed++) {
        const rand = seeded(seed * 7919);
        const distance = Math.round(between(rand, 100, 260));
        // 300–1000 ms at ~60 Hz.
        const count = Math.round(between(rand, 18, 60));
        const track = build(rand, distance, count);
        const result = checkSliderAnswer({ x: track[track.length - 1]![1], track }, { answerX: distance });
        const key = result.ok ? 'ok' : result.failure;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      }
      expect(Object.fromEntries(outcomes)).toEqual({ [expectedFailure]: 100 });
    });

  bots('constant speed with y and timing jitter', (rand, d, n) => synthetic(n, jitteredDt(rand), (i) => Math.round((d * i) / (n - 1)), wobble(rand, 1)), 'constant_speed');
  bots('accelerating into the stop', (rand, d, n) => {
    const power = between(rand, 1.8, 3);
    return synthetic(n, jitteredDt(rand), (i) => Math.round(d * (i / (n - 1)) ** power), wobble(rand, 1));
  }, 'no_deceleration');
  bots('full speed from the start', (rand, d, n) => {
    const power = between(rand, 1.8, 3);
    return synthetic(n, jitteredDt(rand), (i) => Math.round(d * (1 - (1 - i / (n - 1)) ** power)), wobble(rand, 1));
  }, 'no_acceleration');
  bots('a person-like profile on a fixed clock', (rand, d, n) => {
    const clock = pick(rand, [16, 1000 / 60, 20]);
    return synthetic(n, () => clock, (i) => Math.round(d * PROFILES.minimumJerk(i / (n - 1))), wobble(rand, 1));
  }, 'regular_timing');
});

// ---------------------------------------------------------------- malformed input

describe('malformed answers are invalid before any arithmetic', () => {
  const good = humanTrack(seeded(7), ANSWER, { device: 'mouse', speed: 'normal', style: 'direct' });
  const withPoint = (index: number, point: unknown) =>
    ({ x: good.x, track: good.track.map((p, i) => (i === index ? point : p)) }) as unknown as SliderAnswer;

  it.each([
    ['NaN x in a point', withPoint(3, [good.track[3]![0], Number.NaN, 0])],
    ['Infinity y in a point', withPoint(3, [good.track[3]![0], 10, Number.POSITIVE_INFINITY])],
    ['a negative time', withPoint(0, [-5, 0, 0])],
    ['time going backwards', withPoint(5, [0, 20, 1])],
    ['a time past the bound', withPoint(good.track.length - 1, [1e12, good.x, 0])],
    ['a coordinate past the bound', withPoint(4, [good.track[4]![0], 1e9, 0])],
    ['a point with 2 numbers', withPoint(2, [16, 3])],
    ['a point with 4 numbers', withPoint(2, [16, 3, 0, 0])],
    ['a string in a point', withPoint(2, ['16', 3, 0])],
    ['null in a point', withPoint(2, [16, null, 0])],
    ['a point that is an object', withPoint(2, { t: 16, x: 3, y: 0 })],
    ['NaN submitted x', { x: Number.NaN, track: good.track }],
    ['a string submitted x', { x: '180', track: good.track }],
    ['a missing track', { x: ANSWER }],
    ['a track that is an object', { x: ANSWER, track: { length: 3 } }],
    ['null', null],
    ['a number', 180],
  ])('%s', (_name, answer) => {
    expect(checkTrackInput(answer)).toBe('invalid');
    expect(checkSliderAnswer(answer as SliderAnswer, expected)).toEqual({ ok: false, failure: 'invalid' });
  });

  it('rejects a sparse track (holes read as undefined)', () => {
    const track = [...good.track] as unknown[];
    track.length = 20;
    delete track[5];
    expect(checkTrackInput({ x: ANSWER, track })).toBe('invalid');
  });

  it('rejects MAX_TRACK_POINTS + 1 points', () => {
    const track = synthetic(MAX_TRACK_POINTS + 1, () => 5, (i) => i / 10, (i) => i % 2);
    expect(checkTrackInput({ x: 100, track })).toBe('invalid');
  });

  it('rejects a million-point array by its length, without walking it', () => {
    // Every read of a point is counted: "without walking it" is none at all (no clock: a busy machine cannot fail this).
    let pointsRead = 0;
    const track = new Proxy(new Array(1_000_000).fill([0, 0, 0]), {
      get(target, property, receiver) {
        if (typeof property === 'string' && /^\d+$/.test(property)) pointsRead++;
        return Reflect.get(target, property, receiver);
      },
    });
    expect(Array.isArray(track)).toBe(true);
    expect(checkSliderAnswer({ x: ANSWER, track }, expected)).toEqual({ ok: false, failure: 'invalid' });
    expect(pointsRead).toBe(0);
  });

  it('accepts an empty track as well-formed, then fails it as too short', () => {
    expect(checkTrackInput({ x: ANSWER, track: [] })).toBeNull();
    expect(checkSliderAnswer({ x: ANSWER, track: [] }, expected)).toEqual({ ok: false, failure: 'track_too_short' });
  });

  it('throws a TypeError (a server bug, not a client failure) for a bad expectation', () => {
    expect(() => checkSliderAnswer(good, { answerX: Number.NaN })).toThrow(TypeError);
    expect(() => checkSliderAnswer(good, { answerX: ANSWER, tolerance: 1000 })).toThrow(TypeError);
    expect(() => checkSliderAnswer(good, { answerX: ANSWER, tolerance: -1 })).toThrow(TypeError);
  });
});

// ---------------------------------------------------------------- each check on its own

describe('individual checks', () => {
  it('checkAnswerX: inside the default ±4 px passes, outside fails; tolerance is honoured', () => {
    expect(checkAnswerX(184, 180)).toBeNull();
    expect(checkAnswerX(176, 180)).toBeNull();
    expect(checkAnswerX(184.5, 180)).toBe('x_out_of_tolerance');
    expect(checkAnswerX(175, 180)).toBe('x_out_of_tolerance');
    expect(checkAnswerX(188, 180, 8)).toBeNull();
    expect(checkSliderAnswer({ ...good(), x: ANSWER + 6 }, { answerX: ANSWER, tolerance: 2 })).toEqual({ ok: false, failure: 'x_out_of_tolerance' });
  });

  it('checkTrackEnd: within 3 px passes, more fails, empty fails', () => {
    const track: TrackPoint[] = [[0, 0, 0], [20, 100, 1]];
    expect(checkTrackEnd(track, 103)).toBeNull();
    expect(checkTrackEnd(track, 103.5)).toBe('track_mismatch');
    expect(checkTrackEnd([], 0)).toBe('track_mismatch');
  });

  it('checkStart: within ±10 px of the origin in x and y', () => {
    expect(checkStart([[0, 10, -10]])).toBeNull();
    expect(checkStart([[0, 0, 11]])).toBe('bad_start');
    expect(checkStart([[0, -11, 0]])).toBe('bad_start');
    expect(checkStart([])).toBe('bad_start');
  });

  it('checkDuration: 200 ms to 15 s', () => {
    expect(checkDuration([[0, 0, 0], [199, 0, 0]])).toBe('too_fast');
    expect(checkDuration([[0, 0, 0], [200, 0, 0]])).toBeNull();
    expect(checkDuration([[0, 0, 0], [15_000, 0, 0]])).toBeNull();
    expect(checkDuration([[0, 0, 0], [15_001, 0, 0]])).toBe('too_slow');
    expect(checkDuration([])).toBe('too_fast');
  });

  it('checkSampleCount: at least 10 points', () => {
    expect(checkSampleCount(synthetic(9, () => 16, () => 0))).toBe('track_too_short');
    expect(checkSampleCount(synthetic(10, () => 16, () => 0))).toBeNull();
  });

  it('checkSampleRate: median interval 2–60 ms, robust to pauses', () => {
    expect(checkSampleRate(synthetic(30, () => 16, () => 0))).toBeNull();
    expect(checkSampleRate(synthetic(30, () => 1.5, () => 0))).toBe('bad_sample_rate');
    expect(checkSampleRate(synthetic(30, () => 61, () => 0))).toBe('bad_sample_rate');
    // A person pausing twice (no events while still) keeps a normal median.
    expect(checkSampleRate(synthetic(30, (i) => (i % 10 === 9 ? 800 : 16), () => 0))).toBeNull();
  });

  it('checkJumps: a step over max(40 px, 35 % of the distance) is a jump', () => {
    expect(checkJumps([[0, 0, 0], [16, 40, 0], [32, 80, 0], [48, 100, 0]])).toBeNull();
    expect(checkJumps([[0, 0, 0], [16, 41, 0], [32, 80, 0], [48, 100, 0]])).toBe('jump');
    expect(checkJumps([[0, 0, 0], [16, 10, 45]])).toBe('jump');
  });

  it('checkYJitter: two y changes are enough', () => {
    expect(checkYJitter([[0, 0, 0], [1, 1, 1], [2, 2, 0]])).toBeNull();
    expect(checkYJitter([[0, 0, 0], [1, 1, 0], [2, 2, 1]])).toBe('no_y_jitter');
  });

  it('checkTimingJitter: rAF-like 16/17 ms on a 1 ms clock is fine; one repeated interval is not', () => {
    expect(checkTimingJitter(synthetic(40, (i) => (i % 3 === 0 ? 16 : 17), () => 0))).toBeNull();
    expect(checkTimingJitter(synthetic(40, () => 8, () => 0))).toBe('regular_timing');
    // 1 in 10 intervals off the beat is below the 95 % share: not a clock.
    expect(checkTimingJitter(synthetic(40, (i) => (i % 10 === 5 ? 9 : 8), () => 0))).toBeNull();
    expect(checkTimingJitter(synthetic(60, (i) => (i === 30 ? 9 : 8), () => 0))).toBe('regular_timing');
    // Too few intervals to judge.
    expect(checkTimingJitter(synthetic(9, () => 8, () => 0))).toBeNull();
  });

  it('checkVelocityProfile: bell-shaped passes; flat, ease-in and ease-out fail', () => {
    const dt = jitteredDt(seeded(3));
    const bell = synthetic(60, dt, (i) => 200 * PROFILES.minimumJerk(i / 59));
    expect(checkVelocityProfile(bell)).toBeNull();
    expect(checkVelocityProfile(synthetic(60, dt, (i) => (200 * i) / 59))).toBe('constant_speed');
    expect(checkVelocityProfile(synthetic(60, dt, (i) => 200 * (i / 59) ** 3))).toBe('no_deceleration');
    expect(checkVelocityProfile(synthetic(60, dt, (i) => 200 * (1 - (1 - i / 59) ** 3)))).toBe('no_acceleration');
    expect(checkVelocityProfile(synthetic(60, dt, () => 0))).toBe('too_fast');
    expect(checkVelocityProfile([])).toBe('too_fast');
  });

  it('checkVelocityProfile: an end slower than the floor counts as braking (slow corrections)', () => {
    const dt = jitteredDt(seeded(5));
    // Accelerating into the stop, but landing at ~0.1 px/ms: too slow to call a dead stop.
    const slow = synthetic(90, dt, (i) => Math.round(60 * (i / 89) ** 2.5));
    expect(checkVelocityProfile(slow)).toBeNull();
    const fast = synthetic(30, dt, (i) => Math.round(180 * (i / 29) ** 2.5));
    expect(checkVelocityProfile(fast)).toBe('no_deceleration');
  });

  it('checkVelocityProfile: rests before and after the move are trimmed', () => {
    const dt = jitteredDt(seeded(4));
    const bell = synthetic(40, dt, (i) => 200 * PROFILES.minimumJerk(i / 39));
    const rested: TrackPoint[] = [[0, 0, 0], ...bell.map(([t, x, y]) => [t + 1500, x, y] as const), [bell[bell.length - 1]![0] + 4000, 200, 0]];
    expect(checkVelocityProfile(rested)).toBeNull();
  });

  function good(): SliderAnswer {
    return humanTrack(seeded(7), ANSWER, { device: 'mouse', speed: 'normal', style: 'direct' });
  }
});
