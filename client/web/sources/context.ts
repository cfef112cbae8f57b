/**
 * What the web SDK gives its sources (the runner hands it to each): the page
 * and the behaviour counters that `init` installed.
 */
import type { BehaviorCollector } from './behavior.js';

export interface WebSourceContext {
  /** Interaction counters installed at `init`. */
  readonly behavior: BehaviorCollector;
  /** The page's global object; sources read the browser only through it and its members. */
  readonly window: Window & typeof globalThis;
}
