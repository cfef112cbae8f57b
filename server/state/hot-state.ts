/**
 * Hot state: short-lived, fast-changing data that every evaluation touches.
 *
 * Two implementations share this interface: `MemoryHotState` (embedded
 * default, bounded, one process) and a Redis one (many processes). Callers
 * batch what one evaluation needs into a single `observe` so the Redis one can
 * answer in one round trip; operations whose races matter (claim-once,
 * get-and-delete, counters) are atomic in both.
 *
 * Keys are opaque strings built by callers from keyed hashes of identifiers
 * (never raw phone numbers or emails). Every key has a TTL.
 */

/** Count this occurrence under `key` and report counts over each window. */
export interface CounterObservation {
  key: string;
  /** false: only read the counts, without counting this occurrence. Default true. */
  record?: boolean;
  /** Window lengths in milliseconds, e.g. 5 min, 1 h, 24 h. */
  windowsMs: readonly number[];
}

/** Note `member` in the set under `key` and report distinct members over each window. */
export interface DistinctObservation {
  key: string;
  member: string;
  windowsMs: readonly number[];
}

/** Mark `key` as seen and report whether it had been seen before (within `ttlMs`). */
export interface FirstSeenObservation {
  key: string;
  ttlMs: number;
}

export interface ObservationBatch {
  /** The event's own time in epoch milliseconds, so historical re-scoring counts by event time. */
  at: number;
  counters: readonly CounterObservation[];
  distinct: readonly DistinctObservation[];
  firstSeen: readonly FirstSeenObservation[];
}

export interface ObservationResult {
  /** counters[i][w]: occurrences under counters[i].key in window w, including this one (if recorded). */
  counters: number[][];
  /** distinct[i][w]: distinct members under distinct[i].key in window w, including this one. */
  distinct: number[][];
  /** firstSeen[i]: true when the key had not been seen before. */
  firstSeen: boolean[];
}

export interface HotState {
  /** All of one evaluation's velocity bookkeeping, in one call (one round trip for Redis). */
  observe(batch: ObservationBatch): Promise<ObservationResult>;
  /** Atomically claims `key`; true for the first caller only, until it expires. */
  claimOnce(key: string, ttlMs: number): Promise<boolean>;
  put(key: string, value: string, ttlMs: number): Promise<void>;
  get(key: string): Promise<string | null>;
  /** Atomic get-and-delete: of many concurrent callers, one gets the value. */
  take(key: string): Promise<string | null>;
  /** Increments a fixed-window counter and returns the new value (rate limits). `get(key)` reads the count without counting. */
  increment(key: string, ttlMs: number): Promise<number>;
  /** Whether the store answers (for /readyz). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
