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
  /**
   * true: entries a security check relies on (SMS-pumping sets, enrollment
   * marks and counters). A bounded store keeps them apart from evaluation
   * traffic, never evicts them before their TTL, and throws `HotStateFullError`
   * instead when their space is full. Default false: evaluation traffic, which a
   * bounded store may evict (least recently used first). Reads must name the
   * same space as the writes they read.
   */
  keep?: boolean;
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

/** How a value is kept by `put`. */
export interface PutOptions {
  /**
   * true: a bounded store may evict it before its TTL under pressure (made by
   * evaluation traffic, and losing it fails closed, e.g. a challenge_token).
   * Default false: kept until its TTL; a full store throws `HotStateFullError`.
   */
  evictable?: boolean;
  /**
   * The room a bounded store counts a kept value against (challenges,
   * sessions, …), so a flood of one kind cannot fill another's. Use the same
   * scope for every write of a key.
   */
  scope?: string;
}

/**
 * A bounded store (memory mode) has no room left for a new entry that must
 * not be evicted: a claim, a rate-limit counter, a session. Callers fail
 * closed (STORE_UNAVAILABLE), except the token replay check, which answers
 * degraded. Redis never throws it (its keys expire by TTL).
 */
export class HotStateFullError extends Error {
  constructor(readonly space: 'claims' | 'kept') {
    super(`hot state: no room left for ${space === 'claims' ? 'claims' : 'kept entries'} (memory mode)`);
    this.name = 'HotStateFullError';
  }
}

export interface HotState {
  /** All of one evaluation's velocity bookkeeping, in one call (one round trip for Redis). */
  observe(batch: ObservationBatch): Promise<ObservationResult>;
  /**
   * Atomically claims `key`; true for the first caller only, until it expires.
   * `scope` (an app, a kind of claim) is the room a bounded store counts the
   * claim against, so one scope cannot fill another's; a full scope throws
   * `HotStateFullError`, never answers false.
   */
  claimOnce(key: string, ttlMs: number, scope?: string): Promise<boolean>;
  put(key: string, value: string, ttlMs: number, options?: PutOptions): Promise<void>;
  get(key: string): Promise<string | null>;
  /** Atomic get-and-delete: of many concurrent callers, one gets the value. */
  take(key: string): Promise<string | null>;
  /**
   * Increments a fixed-window counter and returns the new value (rate limits;
   * kept, never evicted; `scope` as in `PutOptions`). `get(key)` reads the
   * count without counting.
   */
  increment(key: string, ttlMs: number, scope?: string): Promise<number>;
  /** Whether the store answers (for /readyz). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
