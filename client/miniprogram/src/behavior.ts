/**
 * Interaction counters fed by the page: a mini-program has no global event
 * listener, so pages forward their own events with `rg.trackTouch(event)`
 * from `bindtouchstart`, `bindtouchmove`, `bindtap` (and `bindinput`) handlers.
 *
 * Only the event's type and `timeStamp` are read: never coordinates, targets,
 * datasets or input values.
 *
 * Until the page forwards its first event the token carries no behaviour at
 * all, so a page that does not forward events is not taken for a bot that
 * never touched the screen.
 */
import type { BehaviorSignals } from '../../../shared/schemas.js';
import { addIntervals, IntervalStats, KEY_BURST_GAP_MS, MOVE_BURST_GAP_MS } from '../../core/interval-stats.js';

/** What `trackTouch` reads from a mini-program event. */
export interface TrackedEvent {
  type?: string;
  timeStamp?: number;
}

export class TouchBehavior {
  private tracked = false;
  private touches = 0;
  private moves = 0;
  private taps = 0;
  private inputs = 0;
  private readonly moveStats = new IntervalStats();
  private readonly inputStats = new IntervalStats();

  constructor(private readonly startedAt: number) {}

  track(event: TrackedEvent | undefined): void {
    if (!event || typeof event !== 'object') return;
    const t = typeof event.timeStamp === 'number' && Number.isFinite(event.timeStamp) ? event.timeStamp : -1;
    switch (event.type) {
      case 'touchstart':
        this.touches++;
        break;
      case 'touchmove':
        this.moves++;
        if (t >= 0) this.moveStats.add(t, MOVE_BURST_GAP_MS);
        break;
      case 'tap':
      case 'longpress':
        this.taps++;
        break;
      case 'input':
        this.inputs++;
        if (t >= 0) this.inputStats.add(t, KEY_BURST_GAP_MS);
        break;
      case 'touchend':
      case 'touchcancel':
        break;
      default:
        return;
    }
    this.tracked = true;
  }

  /** `{}` until the page has forwarded an event. */
  snapshot(now: number): BehaviorSignals {
    if (!this.tracked) return {};
    const counts: BehaviorSignals = {
      pointer_moves: this.moves,
      clicks: this.taps,
      touches: this.touches,
      key_presses: this.inputs,
      dwell_ms: Math.max(0, Math.round(now - this.startedAt)),
    };
    return addIntervals(counts, this.moveStats, this.inputStats);
  }
}
