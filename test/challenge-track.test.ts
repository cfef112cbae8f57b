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
} from '../server/challenges/slider/track.js';

// ---------------------------------------------------------------- generators

type Rand = () => number;

/** mulberry32: seeded, so a failing track can be regenerated from its seed. */
function seeded(seed: number): Rand {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const between = (rand: Rand, min: number, max: number) => min + (max - min) * rand();
const pick = <T>(rand: Rand, items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
/** Box–Muller. */
const gauss = (rand: Rand, sd: number) => sd * Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());

const minimumJerk = (tau: number): number => tau ** 3 * (10 - 15 * tau + 6 * tau ** 2);

/** Normalised position profiles, 0 → 1 over τ ∈ [0, 1]. */
const PROFILES = {
  minimumJerk,
  sine: (tau: number): number => (1 - Math.cos(Math.PI * tau)) / 2,
  /** Peak speed early, long braking: what aimed human movements look like. */
  earlyPeak: (tau: number): number => minimumJerk(tau ** 0.75),
} satisfies Record<string, (tau: number) => number>;

interface SubMovement {
  start: number;
  duration: number;
  distance: number;
  profile: (tau: number) => number;
}

function positionAt(moves: readonly SubMovement[], t: number): number {
  let x = 0;
  for (const move of moves) x += move.distance * move.profile(Math.min(1, Math.max(0, (t - move.start) / move.duration)));
  return x;
}

interface HumanOptions {
  device?: 'mouse' | 'touch';
  speed?: 'fast' | 'normal' | 'slow';
  style?: 'direct' | 'overshoot' | 'two_step';
}

/**
 * A person dragging the piece onto `answerX`: a pointerdown at the origin, an
 * optional hesitation, one to three submovements with a human speed profile,
 * tremor in x and y, a drifting y, frame-clocked events with jitter and the
 * odd dropped frame, a rest, then the pointerup.
 */
function humanTrack(rand: Rand, answerX: number, options: HumanOptions = {}): SliderAnswer {
  const device = options.device ?? (rand() < 0.6 ? 'mouse' : 'touch');
  const speed = options.speed ?? pick(rand, ['fast', 'normal', 'normal', 'slow'] as const);
  const style = options.style ?? pick(rand, ['direct', 'direct', 'overshoot', 'two_step'] as const);
  const frame = device === 'touch' ? pick(rand, [16.67, 16.67, 8.33]) : pick(rand, [16.67, 8.33, 6.94, 8, 4.17]);
  const precision = pick(rand, [0.005, 0.1, 1]);
  // A 1 ms clock needs real jitter to look irregular; see REGULAR_TIMING_MAX_SHARE.
  const jitter = precision === 1 ? between(rand, 0.5, 1.5) : between(rand, 0.1, 1.2);
  const duration = speed === 'fast' ? between(rand, 250, 450) : speed === 'normal' ? between(rand, 450, 1200) : between(rand, 1200, 3500);
  const finalX = answerX + between(rand, -2.5, 2.5);
  const profile = pick(rand, Object.values(PROFILES));
  const preDelay = rand() < 0.5 ? between(rand, 0, 300) : between(rand, 5, 30);

  // Corrections are smaller and no quicker than the main move, and take longer
  // when it was slow (submovement models of aimed movements, Meyer et al. 1988).
  const correction = () => Math.min(900, Math.max(150, duration * between(rand, 0.15, 0.45)));
  const moves: SubMovement[] = [];
  if (style === 'direct') {
    moves.push({ start: preDelay, duration, distance: finalX, profile });
  } else if (style === 'overshoot') {
    const over = between(rand, 4, 15);
    moves.push({ start: preDelay, duration, distance: finalX + over, profile });
    moves.push({ start: preDelay + duration + between(rand, 40, 200), duration: correction(), distance: -over, profile: PROFILES.minimumJerk });
  } else {
    const first = finalX * between(rand, 0.82, 0.95);
    moves.push({ start: preDelay, duration, distance: first, profile });
    moves.push({ start: preDelay + duration + between(rand, 30, 250), duration: correction(), distance: finalX - first, profile: PROFILES.minimumJerk });
  }
  const last = moves[moves.length - 1]!;
  const motionEnd = last.start + last.duration;

  const yDrift = between(rand, 1.5, 10) * (rand() < 0.5 ? -1 : 1);
  const yNoise = between(rand, 0.3, 1.2);
  const xNoise = between(rand, 0.1, 0.5);
  const quantise = (v: number) => (device === 'mouse' ? Math.round(v) : Math.round(v * 100) / 100);
  const clock = (t: number) => Math.round(t / precision) * precision;

  const track: [number, number, number][] = [[0, 0, 0]];
  let t = preDelay + between(rand, 0, frame);
  while (t < motionEnd) {
    const progress = Math.min(1, positionAt(moves, t) / finalX);
    const x = positionAt(moves, t) + gauss(rand, xNoise);
    const y = yDrift * progress + gauss(rand, yNoise);
    const stamp = Math.max(track[track.length - 1]![0], clock(t));
    track.push([stamp, quantise(x), quantise(y)]);
    t += frame * (rand() < 0.03 ? 2 : 1) + gauss(rand, jitter);
  }
  const releaseX = quantise(finalX);
  const releaseT = Math.max(track[track.length - 1]![0], clock(motionEnd + between(rand, 10, 500)));
  track.push([releaseT, releaseX, quantise(yDrift + gauss(rand, yNoise))]);
  return { x: releaseX, track: capPoints(track) };
}

/** What the SDK does past MAX_TRACK_POINTS (a 240 Hz mouse on a 4 s drag): keep every k-th point and the last. */
function capPoints(track: TrackPoint[]): TrackPoint[] {
  if (track.length <= MAX_TRACK_POINTS) return track;
  const k = Math.ceil(track.length / (MAX_TRACK_POINTS - 1));
  return [...track.filter((_, i) => i % k === 0 && i < track.length - 1), track[track.length - 1]!];
}

/** Builds a track from a position function sampled every `dt(i)` ms, with optional y. */
function synthetic(count: number, dt: (i: number) => number, x: (i: number) => number, y: (i: number) => number = () => 0): TrackPoint[] {
  const track: TrackPoint[] = [];
  let t = 0;
  for (let i = 0; i < count; i++) {
    track.push([t, x(i), y(i)]);
    t += dt(i);
  }
  return track;
}

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
    const track = new Array(1_000_000).fill([0, 0, 0]);
    const started = performance.now();
    expect(checkSliderAnswer({ x: ANSWER, track }, expected)).toEqual({ ok: false, failure: 'invalid' });
    expect(performance.now() - started).toBeLessThan(5);
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
