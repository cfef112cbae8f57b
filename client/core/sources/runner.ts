/**
 * Runs the sources of a registry, each within its own time budget and all
 * within the caller's deadline, and records `{value}` or `{error}` with the
 * time taken. Nothing a source does (throw, reject, hang) escapes as an error.
 *
 * Stable sources run once: `prime()` starts them at init, and every later
 * collection waits on that same run. A stable run that outlives one token's
 * budget is still awaited by the next token, which gets it when it is done.
 */
import { Failure, type FailureCode, type SourceRegistry, type SourceSpec, type SourceValue } from './source.js';

/** `pending`: an optional source still running within its budget, left out of this collection. */
export type Outcome<T> = { value: T; ms: number } | { error: FailureCode; ms: number } | { pending: true; ms: number };

export type Outcomes<S extends SourceRegistry<never>> = { [K in keyof S]: Outcome<SourceValue<S[K]>> };

interface Run {
  readonly startedAt: number;
  readonly promise: Promise<Outcome<unknown>>;
  result?: Outcome<unknown>;
}

/** Runs the sources `S`, handing each the platform's context `C`. */
export class SourceRunner<C, S extends SourceRegistry<C>> {
  private readonly stableRuns = new Map<keyof S, Run>();

  constructor(
    private readonly sources: S,
    private readonly context: C,
    private readonly clock: () => number,
  ) {}

  /** Starts every stable source now, so that the first token finds them done or under way. */
  prime(): void {
    for (const name of this.names()) if (this.sources[name]!.stable) this.runOf(name);
  }

  /**
   * Collects every source; resolves by `deadline` (a `clock()` time) at the
   * latest. Optional sources are looked at once the others are settled.
   */
  async collect(deadline: number): Promise<Outcomes<S>> {
    const names = this.names();
    const settled = await Promise.all(names.map((name) => (this.sources[name]!.optional ? undefined : this.outcomeOf(name, deadline))));
    const result = {} as Record<keyof S, Outcome<unknown>>;
    names.forEach((name, i) => {
      result[name] = settled[i] ?? this.peek(name);
    });
    return result as Outcomes<S>;
  }

  private names(): (keyof S & string)[] {
    return Object.keys(this.sources) as (keyof S & string)[];
  }

  private runOf(name: keyof S): Run {
    const spec = this.sources[name]!;
    if (!spec.stable) return this.start(spec);
    let run = this.stableRuns.get(name);
    if (!run) {
      run = this.start(spec);
      this.stableRuns.set(name, run);
    }
    return run;
  }

  private start(spec: SourceSpec<unknown, C>): Run {
    const startedAt = this.clock();
    const elapsed = () => Math.round(this.clock() - startedAt);
    const promise = new Promise<unknown>((resolve) => resolve(spec.collect(this.context))).then(
      (value): Outcome<unknown> => (value instanceof Failure ? { error: value.code, ms: elapsed() } : { value, ms: elapsed() }),
      (): Outcome<unknown> => ({ error: 'error', ms: elapsed() }),
    );
    const run: Run = { startedAt, promise };
    void promise.then((outcome) => {
      run.result = outcome;
    });
    return run;
  }

  /** An optional source's outcome now: done, out of time, or still pending. */
  private peek(name: keyof S): Outcome<unknown> {
    const run = this.runOf(name);
    if (run.result) return run.result;
    const ms = Math.round(this.clock() - run.startedAt);
    return ms >= this.sources[name]!.budgetMs ? { error: 'timeout', ms } : { pending: true, ms };
  }

  private async outcomeOf(name: keyof S, deadline: number): Promise<Outcome<unknown>> {
    const spec = this.sources[name]!;
    const run = this.runOf(name);
    if (run.result) return run.result;
    const timedOut = (): Outcome<unknown> => ({ error: 'timeout', ms: Math.round(this.clock() - run.startedAt) });
    const wait = Math.min(run.startedAt + spec.budgetMs, deadline) - this.clock();
    if (wait <= 0) return timedOut();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<Outcome<unknown>>((resolve) => {
      timer = setTimeout(() => resolve(run.result ?? timedOut()), wait);
    });
    try {
      return await Promise.race([run.promise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
