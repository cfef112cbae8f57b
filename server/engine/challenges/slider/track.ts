/**
 * Slider answer checks: the end position plus the drag track that got there.
 *
 * A track is `[t_ms, x, y][]` relative to the drag start (pointerdown at
 * [0, 0, 0]), recorded at the native pointer event rate, in background-image
 * pixels. Each check is its own exported function returning a failure code or
 * null; `checkSliderAnswer` runs them in a fixed order (cheap and certain first)
 * and reports the first failure.
 *
 * The rules started from tianai-captcha's seven (BasicTrackCaptchaInterceptor),
 * with its two broken ones done properly: "every y identical" there can never
 * fire (its counter starts at the second point and is compared with the full
 * length), and its "deceleration" compares the average time per sample, which
 * measures the event rate, not speed. Jumps are checked in both directions.
 *
 * What this stops: replayed straight lines, teleports, constant-speed and
 * perfectly clocked synthetic drags, accelerate-to-the-end and ease-out-only
 * bots. What it does not: a bot that synthesises noisy minimum-jerk tracks with
 * jittered timing will pass; this is one layer under the risk score, not a proof
 * of humanity. Failure codes are for logs and metrics; tell the client only
 * "failed", so a bot cannot learn which rule it tripped.
 */

/** One sample: milliseconds since the drag started, then x and y in image px. */
export type TrackPoint = readonly [t: number, x: number, y: number];

export interface SliderAnswer {
  /** Where the piece was released: its left edge, in background px. */
  x: number;
  track: readonly TrackPoint[];
}

export interface SliderExpectation {
  /** From the puzzle, kept server-side. */
  answerX: number;
  /** Allowed |x − answerX| in px. Default DEFAULT_TOLERANCE_PX. */
  tolerance?: number;
}

export type SliderFailure =
  | 'invalid'
  | 'x_out_of_tolerance'
  | 'track_too_short'
  | 'track_mismatch'
  | 'bad_start'
  | 'too_fast'
  | 'too_slow'
  | 'bad_sample_rate'
  | 'jump'
  | 'no_y_jitter'
  | 'regular_timing'
  | 'constant_speed'
  | 'no_acceleration'
  | 'no_deceleration';

export type SliderCheckResult = { ok: true } | { ok: false; failure: SliderFailure };

// ---------------------------------------------------------------- thresholds

/** Bounds the work per answer. 15 s at 60 Hz is 900 points; clients downsample beyond this. */
export const MAX_TRACK_POINTS = 1000;
/** No slider is wider than this; anything beyond is garbage, not a slow hand. */
export const MAX_COORDINATE_PX = 2000;
/** Timestamps past 10 minutes are garbage (too_slow covers the plausible range). */
export const MAX_TRACK_TIME_MS = 600_000;
/** AJ-Captcha allows 5 px; 4 px still lets a finger on a phone land it. */
export const DEFAULT_TOLERANCE_PX = 4;
/** The expected tolerance is server data, but still bounds-checked: a typo must not open the gate. */
export const MAX_TOLERANCE_PX = 40;
/** The release point and the submitted x come from the same pointer; allow rounding and scaling only. */
export const END_MATCH_PX = 3;
/** Fewer samples cannot show a speed profile; a 200 ms drag at 60 Hz already gives 12. */
export const MIN_TRACK_POINTS = 10;
/** The fastest deliberate human drags seen take ~250 ms; tianai uses 300 ms. */
export const MIN_DURATION_MS = 200;
/** Beyond this the user walked away or a script is idling. */
export const MAX_DURATION_MS = 15_000;
/**
 * Median interval between samples. Browsers deliver pointer moves at 60–240 Hz
 * (4–17 ms), touch at ~60 Hz; 2 ms (500 Hz) leaves room for fast mice, 60 ms
 * (~16 Hz) for slow phones. Medians ignore the pauses where no events come.
 */
export const MIN_MEDIAN_INTERVAL_MS = 2;
export const MAX_MEDIAN_INTERVAL_MS = 60;
/** The first sample is the pointerdown, at the origin; tianai allows ±10 px. */
export const START_RADIUS_PX = 10;
/** A hand drifts: y changes between consecutive samples at least this often. */
export const MIN_Y_CHANGES = 2;
/**
 * No single step may cover more than JUMP_MAX_FRACTION of the distance travelled
 * (or JUMP_MIN_PX on short drags). A 250 ms drag across 260 px peaks near 2 px/ms,
 * i.e. ~65 px in a 33 ms frame drop: 0.35 × 260 = 91 px leaves room for that.
 */
export const JUMP_MIN_PX = 40;
export const JUMP_MAX_FRACTION = 0.35;
/**
 * Movement smaller than this is rest (sub-pixel touch noise). Kept small: on a
 * slow correction the last px or two are the braking, and trimming them would
 * hide exactly the deceleration the profile check looks for.
 */
export const ACTIVE_EPSILON_PX = 0.5;
/** The moving part itself must last this long: waiting, then snapping over in a frame or two, is a script. */
export const MIN_ACTIVE_MS = 100;
/** The moving part is cut into this many equal time bins to judge its overall speed profile. */
export const SPEED_BINS = 10;
/**
 * Coefficient of variation of the bin speeds. A minimum-jerk profile gives ~0.65,
 * a sine ease-in-out ~0.48, people ≥ 0.3 in our generated set, constant speed
 * ~0.05 with noise.
 */
export const MIN_SPEED_CV = 0.2;
/**
 * Start and end are judged on windows of this length (a quarter of the moving
 * part if that is shorter), against the fastest window of the same length
 * anywhere in the drag. A fixed length, not a share of the drag, because a drag
 * is often a main move plus a slow creep or a quick correction; and a short one,
 * because corrections can last only ~150 ms and a 60 ms window already spanned
 * their peak in our generated set.
 */
export const EDGE_WINDOW_MS = 45;
/** People start from rest: the first window is below the peak (generated people: median 0.17, worst 0.66). */
export const START_SPEED_MAX_RATIO = 0.9;
/** People brake onto the target: the last window is below the peak (generated people: median 0.11, worst 0.73). */
export const END_SPEED_MAX_RATIO = 0.8;
/**
 * A start or end slower than this (px/ms; ~7 px per 45 ms window) is gentle
 * whatever the peak. Slow drags often end with a small correction that is the
 * fastest part of the drag, and integer pixels cannot show its last px of
 * braking; a script that stops dead lands at 0.3–1 px/ms.
 */
export const EDGE_SPEED_FLOOR = 0.15;
/** Intervals within this of each other count as identical (timestamps come at 5 µs–1 ms precision). */
export const REGULAR_TIMING_EPSILON_MS = 0.05;
/**
 * Share of the interior intervals (the pointerdown and pointerup ones excluded)
 * that may be identical. setInterval-driven tracks are near 100 %; real events
 * jitter by tenths of a millisecond. Kept high because a 1 ms-clamped clock on
 * a 125 Hz mouse can look regular: send event.timeStamp unrounded.
 */
export const REGULAR_TIMING_MAX_SHARE = 0.95;

// ---------------------------------------------------------------- the whole check

/**
 * Checks a slider answer against the puzzle's expectation.
 *
 * `answer` is typed, but it came off the network: it is re-validated here,
 * before any arithmetic, and anything malformed is `invalid`.
 *
 * @example
 * const result = checkSliderAnswer(body, { answerX: challenge.answerX });
 * if (!result.ok) log.info({ failure: result.failure }, 'slider failed');
 */
export function checkSliderAnswer(answer: SliderAnswer, expected: SliderExpectation): SliderCheckResult {
  const tolerance = expected.tolerance ?? DEFAULT_TOLERANCE_PX;
  if (!isFiniteIn(expected.answerX, 0, MAX_COORDINATE_PX)) throw new TypeError('expected.answerX must be a finite number within the image');
  if (!isFiniteIn(tolerance, 0, MAX_TOLERANCE_PX)) throw new TypeError(`expected.tolerance must be between 0 and ${MAX_TOLERANCE_PX}`);

  const failure =
    checkTrackInput(answer) ??
    checkAnswerX(answer.x, expected.answerX, tolerance) ??
    checkSampleCount(answer.track) ??
    checkTrackEnd(answer.track, answer.x) ??
    checkStart(answer.track) ??
    checkDuration(answer.track) ??
    checkSampleRate(answer.track) ??
    checkJumps(answer.track) ??
    checkYJitter(answer.track) ??
    checkTimingJitter(answer.track) ??
    checkVelocityProfile(answer.track);
  return failure ? { ok: false, failure } : { ok: true };
}

// ---------------------------------------------------------------- individual checks

/**
 * Shape and bounds, before any arithmetic: an object with a finite x and a
 * track of at most MAX_TRACK_POINTS `[t, x, y]` triples of finite numbers,
 * 0 ≤ t ≤ MAX_TRACK_TIME_MS non-decreasing, |x|, |y| ≤ MAX_COORDINATE_PX.
 * The length is checked before the elements, so a huge array costs nothing.
 */
export function checkTrackInput(answer: unknown): 'invalid' | null {
  if (typeof answer !== 'object' || answer === null) return 'invalid';
  const { x, track } = answer as { x?: unknown; track?: unknown };
  if (!isFiniteIn(x, -MAX_COORDINATE_PX, MAX_COORDINATE_PX)) return 'invalid';
  if (!Array.isArray(track) || track.length > MAX_TRACK_POINTS) return 'invalid';
  let previousT = 0;
  for (let i = 0; i < track.length; i++) {
    const point: unknown = track[i];
    if (!Array.isArray(point) || point.length !== 3) return 'invalid';
    const [t, px, py] = point as unknown[];
    if (!isFiniteIn(t, previousT, MAX_TRACK_TIME_MS)) return 'invalid';
    if (!isFiniteIn(px, -MAX_COORDINATE_PX, MAX_COORDINATE_PX)) return 'invalid';
    if (!isFiniteIn(py, -MAX_COORDINATE_PX, MAX_COORDINATE_PX)) return 'invalid';
    previousT = t;
  }
  return null;
}

/** The submitted x is within `tolerance` px of the answer. */
export function checkAnswerX(x: number, answerX: number, tolerance = DEFAULT_TOLERANCE_PX): 'x_out_of_tolerance' | null {
  return Math.abs(x - answerX) <= tolerance ? null : 'x_out_of_tolerance';
}

/** At least MIN_TRACK_POINTS samples. */
export function checkSampleCount(track: readonly TrackPoint[]): 'track_too_short' | null {
  return track.length >= MIN_TRACK_POINTS ? null : 'track_too_short';
}

/** The track ends where the piece was released (within END_MATCH_PX). */
export function checkTrackEnd(track: readonly TrackPoint[], x: number): 'track_mismatch' | null {
  const last = track[track.length - 1];
  return last && Math.abs(last[1] - x) <= END_MATCH_PX ? null : 'track_mismatch';
}

/** The first sample is within START_RADIUS_PX of the origin in x and y. */
export function checkStart(track: readonly TrackPoint[]): 'bad_start' | null {
  const first = track[0];
  return first && Math.abs(first[1]) <= START_RADIUS_PX && Math.abs(first[2]) <= START_RADIUS_PX ? null : 'bad_start';
}

/** First to last sample takes MIN_DURATION_MS to MAX_DURATION_MS. */
export function checkDuration(track: readonly TrackPoint[]): 'too_fast' | 'too_slow' | null {
  const first = track[0];
  const last = track[track.length - 1];
  if (!first || !last) return 'too_fast';
  const duration = last[0] - first[0];
  if (duration < MIN_DURATION_MS) return 'too_fast';
  if (duration > MAX_DURATION_MS) return 'too_slow';
  return null;
}

/** The median interval between samples is that of a real pointer (MIN/MAX_MEDIAN_INTERVAL_MS). */
export function checkSampleRate(track: readonly TrackPoint[]): 'bad_sample_rate' | null {
  if (track.length < 2) return 'bad_sample_rate';
  const median = medianInterval(track);
  return median >= MIN_MEDIAN_INTERVAL_MS && median <= MAX_MEDIAN_INTERVAL_MS ? null : 'bad_sample_rate';
}

/** No step between consecutive samples longer than max(JUMP_MIN_PX, JUMP_MAX_FRACTION × distance travelled). */
export function checkJumps(track: readonly TrackPoint[]): 'jump' | null {
  const first = track[0];
  if (!first) return null;
  let travelled = 0;
  for (const [, x] of track) travelled = Math.max(travelled, Math.abs(x - first[1]));
  const limit = Math.max(JUMP_MIN_PX, JUMP_MAX_FRACTION * travelled);
  for (let i = 1; i < track.length; i++) {
    const [, x0, y0] = track[i - 1]!;
    const [, x1, y1] = track[i]!;
    if (Math.sqrt((x1 - x0) ** 2 + (y1 - y0) ** 2) > limit) return 'jump';
  }
  return null;
}

/** y changes between consecutive samples at least MIN_Y_CHANGES times (a dead-straight line is a script). */
export function checkYJitter(track: readonly TrackPoint[]): 'no_y_jitter' | null {
  let changes = 0;
  for (let i = 1; i < track.length && changes < MIN_Y_CHANGES; i++) {
    if (track[i]![2] !== track[i - 1]![2]) changes++;
  }
  return changes >= MIN_Y_CHANGES ? null : 'no_y_jitter';
}

/**
 * The intervals between samples are not (nearly) all identical: more than
 * REGULAR_TIMING_MAX_SHARE of the interior intervals within
 * REGULAR_TIMING_EPSILON_MS of one value is a clocked script. The first and
 * last intervals (pointerdown → first move, last move → pointerup) are left out,
 * so randomising only those does not help.
 */
export function checkTimingJitter(track: readonly TrackPoint[]): 'regular_timing' | null {
  const interior = track.length - 3;
  if (interior < MIN_TRACK_POINTS - 2) return null;
  const counts = new Map<number, number>();
  let most = 0;
  for (let i = 2; i < track.length - 1; i++) {
    const bucket = Math.round((track[i]![0] - track[i - 1]![0]) / REGULAR_TIMING_EPSILON_MS);
    // Count each interval in its bucket and the neighbours, so values straddling a bucket edge still meet.
    for (const key of [bucket - 1, bucket, bucket + 1]) {
      const count = (counts.get(key) ?? 0) + 1;
      counts.set(key, count);
      if (count > most) most = count;
    }
  }
  return most / interior > REGULAR_TIMING_MAX_SHARE ? 'regular_timing' : null;
}

/**
 * The speed profile of the moving part of the drag (leading and trailing rest
 * trimmed):
 * - the moving part lasts at least MIN_ACTIVE_MS, else `too_fast`;
 * - speeds over SPEED_BINS equal bins vary (CV ≥ MIN_SPEED_CV), else `constant_speed`;
 * - the first EDGE_WINDOW_MS is below START_SPEED_MAX_RATIO of the fastest
 *   such window (or below EDGE_SPEED_FLOOR), else `no_acceleration`;
 * - the last EDGE_WINDOW_MS is below END_SPEED_MAX_RATIO of it (or below
 *   EDGE_SPEED_FLOOR), else `no_deceleration`.
 * Positions are interpolated at window edges, so irregular sampling does not skew it.
 */
export function checkVelocityProfile(
  track: readonly TrackPoint[],
): 'too_fast' | 'constant_speed' | 'no_acceleration' | 'no_deceleration' | null {
  const active = activeWindow(track);
  if (!active) return 'too_fast';
  const { start, end } = active;
  const speed = (from: number, to: number) => Math.abs(positionAt(track, to) - positionAt(track, from)) / (to - from);

  const binMs = (end - start) / SPEED_BINS;
  const bins: number[] = [];
  for (let k = 0; k < SPEED_BINS; k++) bins.push(speed(start + k * binMs, start + (k + 1) * binMs));
  const mean = bins.reduce((sum, v) => sum + v, 0) / SPEED_BINS;
  if (mean <= 0) return 'constant_speed';
  const cv = Math.sqrt(bins.reduce((sum, v) => sum + (v - mean) ** 2, 0) / SPEED_BINS) / mean;
  if (cv < MIN_SPEED_CV) return 'constant_speed';

  const edge = Math.min(EDGE_WINDOW_MS, (end - start) / 4);
  const first = speed(start, start + edge);
  const last = speed(end - edge, end);
  let peak = Math.max(first, last);
  for (let t = start; t + edge < end; t += edge / 3) peak = Math.max(peak, speed(t, t + edge));
  if (first > EDGE_SPEED_FLOOR && first >= START_SPEED_MAX_RATIO * peak) return 'no_acceleration';
  if (last > EDGE_SPEED_FLOOR && last >= END_SPEED_MAX_RATIO * peak) return 'no_deceleration';
  return null;
}

// ---------------------------------------------------------------- helpers

function isFiniteIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max;
}

/** Median of the intervals between consecutive samples (0 for fewer than 2 samples). */
function medianInterval(track: readonly TrackPoint[]): number {
  if (track.length < 2) return 0;
  const intervals = new Float64Array(track.length - 1);
  for (let i = 1; i < track.length; i++) intervals[i - 1] = track[i]![0] - track[i - 1]![0];
  intervals.sort();
  const mid = intervals.length >> 1;
  return intervals.length % 2 === 1 ? intervals[mid]! : (intervals[mid - 1]! + intervals[mid]!) / 2;
}

/**
 * The time span of the moving part: from where x first leaves the start to
 * where it last arrives near its final value (ACTIVE_EPSILON_PX), or undefined
 * when that is shorter than MIN_ACTIVE_MS (or there is no movement).
 *
 * No events arrive while the pointer rests, so the sample before the first move
 * may be long before the move began (and the one after the last move long after
 * it ended): the edges are pulled in to one median interval from the moving samples.
 */
function activeWindow(track: readonly TrackPoint[]): { start: number; end: number } | undefined {
  const first = track[0];
  const last = track[track.length - 1];
  if (!first || !last || track.length < 3) return undefined;
  let startIndex = -1;
  for (let i = 1; i < track.length; i++) {
    if (Math.abs(track[i]![1] - first[1]) > ACTIVE_EPSILON_PX) {
      startIndex = i;
      break;
    }
  }
  let endIndex = -1;
  for (let i = track.length - 2; i >= 0; i--) {
    if (Math.abs(track[i]![1] - last[1]) > ACTIVE_EPSILON_PX) {
      endIndex = i;
      break;
    }
  }
  if (startIndex < 1 || endIndex < 0) return undefined;
  const step = medianInterval(track);
  const start = Math.max(track[startIndex - 1]![0], track[startIndex]![0] - step);
  const end = Math.min(track[endIndex + 1]![0], track[endIndex]![0] + step);
  return end - start >= MIN_ACTIVE_MS ? { start, end } : undefined;
}

/** x at time t, linearly interpolated (binary search; t outside the track clamps to its ends). */
function positionAt(track: readonly TrackPoint[], t: number): number {
  let low = 0;
  let high = track.length - 1;
  if (t <= track[low]![0]) return track[low]![1];
  if (t >= track[high]![0]) return track[high]![1];
  // Invariant: track[low].t < t < track[high].t.
  while (high - low > 1) {
    const mid = (low + high) >> 1;
    if (track[mid]![0] < t) low = mid;
    else high = mid;
  }
  const [t0, x0] = track[low]!;
  const [t1, x1] = track[high]!;
  return t1 > t0 ? x0 + ((x1 - x0) * (t - t0)) / (t1 - t0) : x1;
}
