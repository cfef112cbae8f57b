/**
 * Hot state: short-lived, fast-changing data that every evaluation touches.
 *
 * Two implementations share this interface: `MemoryHotState` (embedded
 * default, bounded, one process) and a Redis one (many processes). Callers
 * batch what one evaluation needs into a single `observe` so the Redis one can
 * answer in one round trip; operations whose races matter (claim-once,
 * get-and-delete, counters) are atomic in both.
 *
 * Keys are structured (`StateKey`: the app, the entity, its id, and what is
 * kept about it), built from keyed hashes of identifiers (never raw phone
 * numbers or emails). The adapters lay them out (keys.ts); only the Redis one
 * adds hash tags, so callers need to know nothing of Redis Cluster. Every key
 * has a TTL. What one evaluation observes (the batch and its result) is the
 * engine's to say (engine/evaluation/observations.ts), and so is the key's
 * shape (engine/evaluation/state-key.ts).
 */

export type {
  CounterObservation,
  DistinctObservation,
  FirstSeenObservation,
  ObservationBatch,
  ObservationResult,
} from '../../engine/evaluation/observations.js';
export type { StateEntity, StateKey } from '../../engine/evaluation/state-key.js';
import type { ObservationBatch, ObservationResult } from '../../engine/evaluation/observations.js';
import type { StateKey } from '../../engine/evaluation/state-key.js';

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
  claimOnce(key: StateKey, ttlMs: number, scope?: string): Promise<boolean>;
  put(key: StateKey, value: string, ttlMs: number, options?: PutOptions): Promise<void>;
  get(key: StateKey): Promise<string | null>;
  /** Atomic get-and-delete: of many concurrent callers, one gets the value. */
  take(key: StateKey): Promise<string | null>;
  /**
   * Increments a fixed-window counter and returns the new value (rate limits;
   * kept, never evicted; `scope` as in `PutOptions`). `get(key)` reads the
   * count without counting.
   */
  increment(key: StateKey, ttlMs: number, scope?: string): Promise<number>;
  /** Whether the store answers (for /readyz). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
