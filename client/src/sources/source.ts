/**
 * What a signal source is: a function of a shared context that returns its
 * value, or a `Failure` for an expected failure (no WebGL, blocked worker).
 * It never throws on purpose; the runner still catches anything that does.
 */
import type { BehaviorCollector } from './behavior.js';

/** Short, stable codes a token carries in `signals.errors`. */
export type FailureCode = 'timeout' | 'error' | 'unsupported';

/** The sentinel a source returns for an expected failure. */
export class Failure {
  constructor(readonly code: FailureCode) {}
}

export const unsupported = (): Failure => new Failure('unsupported');

export interface SourceContext {
  /** Interaction counters installed at `init`. */
  readonly behavior: BehaviorCollector;
  /** The page's global object; sources read the browser only through it and its members. */
  readonly window: Window & typeof globalThis;
}

export interface SourceSpec<T> {
  collect(context: SourceContext): T | Failure | Promise<T | Failure>;
  /** How long one run may take, from when it starts. */
  budgetMs: number;
  /**
   * Slow values that do not change within a page (FingerprintJS, WebGL, lies):
   * started once at `init`, and every token re-uses the same run.
   */
  stable: boolean;
  /**
   * Never delays a token (stable sources only): a run still under way when the
   * other sources are done is left out of that token without an error, and
   * later tokens carry it. For checks whose cost would otherwise slow the
   * first token and whose absence is no loss (a clean result looks the same).
   */
  optional?: boolean;
}

/** Keeps the value type of each entry of the registry map. */
export const defineSource = <T>(spec: SourceSpec<T>): SourceSpec<T> => spec;

export type SourceValue<S> = S extends SourceSpec<infer T> ? T : never;
