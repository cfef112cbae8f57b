/**
 * Interaction counters: pointer moves, clicks, touches, key presses, pastes and
 * focus changes since `init`, with the rhythm of pointer moves and key presses.
 *
 * Only input the browser itself delivered counts (`isTrusted`): events a
 * script made (`dispatchEvent`, `element.click()`) are counted apart, as
 * `untrusted_events`, and feed no other counter or timing.
 *
 * Privacy: only event counts and timestamps are read. Key values (`key`,
 * `code`), typed text and clipboard contents are never touched.
 *
 * The first few mouse events also feed one DevTools-protocol check (see
 * `noteContentOffset`): the only place a CDP-emulated viewport shows itself
 * when the window's own metrics look normal.
 */
import type { BehaviorSignals } from '../../../shared/schemas.js';
import { addIntervals, IntervalStats, KEY_BURST_GAP_MS, MOVE_BURST_GAP_MS } from '../../core/interval-stats.js';
import { defineSource } from '../../core/sources/source.js';
import type { WebSourceContext } from './context.js';

/** Mouse events inspected for the content-offset check; a handful is plenty. */
const OFFSET_SAMPLES = 5;
/** Slack for window borders and rounding, in CSS pixels. */
const OFFSET_SLACK_PX = 8;

export class BehaviorCollector {
  pointerMoves = 0;
  clicks = 0;
  touches = 0;
  keyPresses = 0;
  pastes = 0;
  focusChanges = 0;
  untrustedEvents = 0;
  /** A mouse event put the page's content lower than the window's own frame allows. */
  contentOffsetMismatch = false;
  private offsetSamples = 0;
  private readonly moves = new IntervalStats();
  private readonly keys = new IntervalStats();

  constructor(
    private readonly win: Window & typeof globalThis,
    readonly startedAt: number,
  ) {}

  /** Installs passive, capturing listeners; they only count. */
  start(): void {
    const { win } = this;
    const doc = win.document;
    const moveType = 'PointerEvent' in win ? 'pointermove' : 'mousemove';
    this.listen(win, moveType, (event) => {
      this.pointerMoves++;
      this.moves.add(event.timeStamp, MOVE_BURST_GAP_MS);
      if (this.offsetSamples < OFFSET_SAMPLES) this.noteContentOffset(event as MouseEvent);
    });
    this.listen(win, 'click', () => this.clicks++);
    this.listen(win, 'touchstart', () => this.touches++);
    this.listen(win, 'keydown', (event) => {
      // `repeat` says a key is held down; it reveals nothing about which key.
      if ((event as KeyboardEvent).repeat) return;
      this.keyPresses++;
      this.keys.add(event.timeStamp, KEY_BURST_GAP_MS);
    });
    this.listen(win, 'paste', () => this.pastes++);
    if (doc) this.listen(doc, 'focusin', () => this.focusChanges++);
    this.listen(win, 'blur', (event) => {
      if (event.target === win) this.focusChanges++;
    });
    this.listen(win, 'focus', (event) => {
      if (event.target === win) this.focusChanges++;
    });
  }

  snapshot(now: number): BehaviorSignals {
    const counts: BehaviorSignals = {
      pointer_moves: this.pointerMoves,
      clicks: this.clicks,
      touches: this.touches,
      key_presses: this.keyPresses,
      pastes: this.pastes,
      focus_changes: this.focusChanges,
      untrusted_events: this.untrustedEvents,
      dwell_ms: Math.max(0, Math.round(now - this.startedAt)),
    };
    return addIntervals(counts, this.moves, this.keys);
  }

  /**
   * `screenY - clientY - window.screenY` is how far below the window's top edge
   * the page's content starts; a real window's frame (title bar, tabs, toolbar)
   * is all of `outerHeight - innerHeight`, so the first can never exceed the
   * second. DevTools' `Emulation.setDeviceMetricsOverride` (Playwright's and
   * Puppeteer's default viewport) shrinks the window metrics but not where input
   * lands, and the content ends up "below" the frame: 87 px vs 0 px in headless
   * Chromium 156 under Playwright, 143 vs 131 headful. Zooming in keeps the
   * inequality true; zooming out breaks it, and then `innerWidth > outerWidth`,
   * so those samples are skipped.
   */
  private noteContentOffset(event: MouseEvent): void {
    const { win } = this;
    if ((event as PointerEvent).pointerType && (event as PointerEvent).pointerType !== 'mouse') return;
    // In a frame the content offset includes the frame's place in the page; zoomed out, the units differ.
    if (win.self !== win.top || !(win.innerWidth <= win.outerWidth) || win.outerHeight <= 0) return;
    this.offsetSamples++;
    const contentTop = event.screenY - event.clientY - win.screenY;
    if (contentTop > win.outerHeight - win.innerHeight + OFFSET_SLACK_PX) this.contentOffsetMismatch = true;
  }

  private listen(target: EventTarget, type: string, handler: (event: Event) => void): void {
    const count = (event: Event) => (event.isTrusted ? handler(event) : this.untrustedEvents++);
    target.addEventListener(type, count, { capture: true, passive: true });
  }
}

/** The interaction snapshot at token time (cheap: refreshed for every token). */
export const behaviorSource = defineSource<BehaviorSignals, WebSourceContext>({
  budgetMs: 50,
  stable: false,
  collect: (context) => context.behavior.snapshot(context.window.performance.now()),
});
