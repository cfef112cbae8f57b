/**
 * Slider drag tracks for tests: person-like ones (seeded, so a failing track can
 * be regenerated) and the building blocks of synthetic bot tracks.
 */
import { MAX_TRACK_POINTS, type SliderAnswer, type TrackPoint } from '../../server/engine/challenges/slider/track.js';

export type Rand = () => number;

/** mulberry32: seeded, so a failing track can be regenerated from its seed. */
export function seeded(seed: number): Rand {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const between = (rand: Rand, min: number, max: number) => min + (max - min) * rand();
export const pick = <T>(rand: Rand, items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
/** Box–Muller. */
export const gauss = (rand: Rand, sd: number) => sd * Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());

const minimumJerk = (tau: number): number => tau ** 3 * (10 - 15 * tau + 6 * tau ** 2);

/** Normalised position profiles, 0 → 1 over τ ∈ [0, 1]. */
export const PROFILES = {
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

export interface HumanOptions {
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
export function humanTrack(rand: Rand, answerX: number, options: HumanOptions = {}): SliderAnswer {
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
export function capPoints(track: TrackPoint[]): TrackPoint[] {
  if (track.length <= MAX_TRACK_POINTS) return track;
  const k = Math.ceil(track.length / (MAX_TRACK_POINTS - 1));
  return [...track.filter((_, i) => i % k === 0 && i < track.length - 1), track[track.length - 1]!];
}

/** Builds a track from a position function sampled every `dt(i)` ms, with optional y. */
export function synthetic(count: number, dt: (i: number) => number, x: (i: number) => number, y: (i: number) => number = () => 0): TrackPoint[] {
  const track: TrackPoint[] = [];
  let t = 0;
  for (let i = 0; i < count; i++) {
    track.push([t, x(i), y(i)]);
    t += dt(i);
  }
  return track;
}

/**
 * The naive bot: a straight line at constant speed onto `answerX`, y = 0, one
 * point every 10 ms. It lands exactly right and fails on how it got there.
 */
export function botTrack(answerX: number, points = 31): SliderAnswer {
  return { x: answerX, track: synthetic(points, () => 10, (i) => (answerX * i) / (points - 1)) };
}
