/**
 * What a signal source is: a function of its platform's context that returns
 * its value, or a `Failure` for an expected failure (no WebGL, blocked worker,
 * a wx API the base library lacks). It never throws on purpose; the runner
 * still catches anything that does.
 *
 * The context is whatever the platform has to offer its sources (the page and
 * its behaviour counters on the web, `wx` in a mini-program): the runner only
 * hands it over, so nothing here knows a platform.
 */

/** Short, stable codes a token carries in `signals.errors`. */
export type FailureCode = 'timeout' | 'error' | 'unsupported';

/** The sentinel a source returns for an expected failure. */
export class Failure {
  constructor(readonly code: FailureCode) {}
}

export const unsupported = (): Failure => new Failure('unsupported');

/** A source of values of type T that reads a context of type C (`unknown`: it reads none). */
export interface SourceSpec<T, C = unknown> {
  collect: (context: C) => T | Failure | Promise<T | Failure>;
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

/** Keeps the value type (and the context type) of each entry of the registry map. */
export const defineSource = <T, C = unknown>(spec: SourceSpec<T, C>): SourceSpec<T, C> => spec;

/** An ordered map of sources that all read a context of type C. */
export type SourceRegistry<C> = Record<string, SourceSpec<unknown, C>>;

export type SourceValue<S> = S extends SourceSpec<infer T, never> ? T : never;
