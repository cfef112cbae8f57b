/**
 * Timing of input events for the behaviour signals, shared by the web and
 * mini-program collectors: a running mean and standard deviation (Welford),
 * so no event list is kept.
 */
import type { BehaviorSignals } from '../../shared/schemas.js';

/** Gaps longer than these are pauses, not part of a gesture or typing burst. */
export const MOVE_BURST_GAP_MS = 1000;
export const KEY_BURST_GAP_MS = 2000;

const round1 = (value: number) => Math.round(value * 10) / 10;

export class IntervalStats {
  private n = 0;
  private mean = 0;
  private m2 = 0;
  private last = -1;

  add(timeStamp: number, maxGap: number): void {
    const gap = timeStamp - this.last;
    const previous = this.last;
    this.last = timeStamp;
    if (previous < 0 || gap < 0 || gap > maxGap) return;
    this.n++;
    const delta = gap - this.mean;
    this.mean += delta / this.n;
    this.m2 += delta * (gap - this.mean);
  }

  summary(): { mean: number; sd: number } | undefined {
    if (this.n === 0) return undefined;
    const sd = this.n > 1 ? Math.sqrt(this.m2 / (this.n - 1)) : 0;
    return { mean: round1(this.mean), sd: round1(sd) };
  }
}

/** Adds the rhythm of moves (pointer or touch) and of key presses (or inputs) to `signals`, where there was any. */
export function addIntervals(signals: BehaviorSignals, moves: IntervalStats, keys: IntervalStats): BehaviorSignals {
  const move = moves.summary();
  if (move) {
    signals.move_interval_mean_ms = move.mean;
    signals.move_interval_sd_ms = move.sd;
  }
  const key = keys.summary();
  if (key) {
    signals.key_interval_mean_ms = key.mean;
    signals.key_interval_sd_ms = key.sd;
  }
  return signals;
}
