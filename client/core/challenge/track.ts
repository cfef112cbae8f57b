/**
 * Records a slider drag as the server's track checks expect it
 * (server/engine/challenges/slider/track.ts): `[t, x, y]` samples relative to the
 * pointerdown, which is `[0, 0, 0]`; t in milliseconds from `event.timeStamp`
 * (kept to the microsecond: browsers' clocks are no finer, and whole
 * milliseconds would make a 125 Hz mouse look clocked); x and y in puzzle-image
 * pixels; every native sample (`getCoalescedEvents()`), at most
 * MAX_TRACK_POINTS sent.
 */

/** The server refuses longer tracks. */
export const MAX_TRACK_POINTS = 1000;

export type Sample = [t: number, x: number, y: number];

/** The part of a PointerEvent the recorder reads. */
export interface PointerSample {
  timeStamp: number;
  clientX: number;
  clientY: number;
}

const round = (value: number, places: number) => {
  const f = 10 ** places;
  return Math.round(value * f) / f;
};

export class TrackRecorder {
  readonly samples: Sample[] = [[0, 0, 0]];

  /**
   * @param start the pointerdown
   * @param scale image pixels per CSS pixel (the puzzle is drawn scaled to fit)
   */
  constructor(
    private readonly start: PointerSample,
    private readonly scale: number,
  ) {}

  /** Adds one sample; times never go backwards (coalesced samples can tie). Returns the x in image pixels. */
  add(event: PointerSample): number {
    const last = this.samples[this.samples.length - 1]!;
    const t = Math.max(last[0], round(event.timeStamp - this.start.timeStamp, 3));
    const x = round((event.clientX - this.start.clientX) * this.scale, 2);
    const y = round((event.clientY - this.start.clientY) * this.scale, 2);
    this.samples.push([t, x, y]);
    return x;
  }

  /** Adds a pointermove's samples: the coalesced ones where the browser keeps them. */
  addMove(event: PointerSample & { getCoalescedEvents?: () => PointerSample[] }): number {
    let samples: PointerSample[] = [];
    try {
      samples = event.getCoalescedEvents?.() ?? [];
    } catch {
      // Some browsers throw for untrusted events.
    }
    if (samples.length === 0) samples = [event];
    let x = 0;
    for (const sample of samples) x = this.add(sample);
    return x;
  }

  get lastX(): number {
    return this.samples[this.samples.length - 1]![1];
  }

  /** What to send: every sample, or, past the limit, an even pick that keeps the first and the last. */
  track(): Sample[] {
    return downsample(this.samples, MAX_TRACK_POINTS);
  }
}

export function downsample<T>(items: readonly T[], max: number): T[] {
  if (items.length <= max) return items.slice();
  const out: T[] = [];
  const step = (items.length - 1) / (max - 1);
  for (let i = 0; i < max; i++) out.push(items[Math.round(i * step)]!);
  return out;
}
