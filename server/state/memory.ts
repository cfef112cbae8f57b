/**
 * In-process hot state for the embedded default. Bounded, in three spaces
 * that cannot crowd each other out:
 *
 * - evaluation traffic (velocity counters, distinct sets, first-seen marks,
 *   challenge_tokens): LRUs of at most `maxKeys` keys each, with per-entry
 *   TTLs, so an attacker spraying identifiers evicts old entries instead of
 *   exhausting memory. Evictions are reported (`listener`).
 * - kept entries (rate-limit counters, live challenges, sessions, batches
 *   observed with `keep`): never evicted before their TTL, at most `maxKeptKeys`
 *   keys per kind of observation and per scope of values (a flood of rate-limit
 *   keys from many addresses cannot block sessions); a new key beyond that
 *   throws `HotStateFullError` (callers fail closed), never pushes another out.
 * - claims (token jtis, used sessions, used puzzles): one table per scope (an
 *   app, a kind of claim) of at most `maxKeys` claims, each dropped once its TTL
 *   has passed; a full table throws `HotStateFullError`, never answers
 *   "claimed before".
 *
 * Velocity windows are sliding, made of 12 buckets each, so a count is exact
 * to within one twelfth of its window.
 */
import { LRUCache } from 'lru-cache';
import { HotStateFullError, type HotState, type ObservationBatch, type ObservationResult, type PutOptions } from './hot-state.js';

const BUCKETS_PER_WINDOW = 12;
/** A full kept cache looks for expired entries to drop at most this often (a scan of the cache). */
const PURGE_INTERVAL_MS = 1000;

/** Bucket counts of one window: parallel arrays of bucket index and count, oldest first. */
interface WindowBuckets {
  index: number[];
  count: number[];
}

type Counter = Map<number, WindowBuckets>;
/** Member → last time seen (ms). Insertion order ≈ recency, for eviction. */
type DistinctSet = Map<string, number>;

/** The spaces a bounded store reports on: what it evicted, or had no room for. */
export type MemorySpace = 'evaluation' | 'kept' | 'claims';
export type MemoryHotStateListener = (event: 'evicted' | 'full', space: MemorySpace) => void;

export interface MemoryHotStateOptions {
  /** Most keys kept per kind of evaluation entry (counters, distinct sets, first-seen marks, evictable values), and per claim scope. */
  maxKeys?: number;
  /** Most kept (never evicted) keys per kind: values and rate limits, kept counters, sets and marks. Default `maxKeys`. */
  maxKeptKeys?: number;
  /** Most members kept per distinct set; the oldest are dropped beyond it. */
  maxMembersPerSet?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/** One space's observation structures. */
interface ObservationSpace {
  counters: Bounded<Counter>;
  sets: Bounded<DistinctSet>;
  seen: Bounded<true>;
}

/**
 * An LRU with TTLs. Evictable: the least recently used entry makes room
 * (reported). Kept: a new key beyond `max` throws `HotStateFullError`, after
 * dropping expired entries (at most once a second: it is a scan).
 */
class Bounded<V extends {}> {
  readonly cache: LRUCache<string, V>;
  private lastPurge = -Infinity;

  constructor(
    private readonly max: number,
    private readonly evictable: boolean,
    private readonly now: () => number,
    private readonly report: (event: 'evicted' | 'full') => void,
  ) {
    this.cache = new LRUCache<string, V>({
      max,
      ttlAutopurge: false,
      perf: { now },
      dispose: (_value, _key, reason) => {
        if (reason === 'evict') report('evicted');
      },
    });
  }

  /** Throws when `count` new keys would not fit in a kept cache. */
  makeRoom(count: number): void {
    if (this.evictable || count === 0 || this.cache.size + count <= this.max) return;
    const now = this.now();
    if (now - this.lastPurge >= PURGE_INTERVAL_MS) {
      this.lastPurge = now;
      this.cache.purgeStale();
    }
    if (this.cache.size + count <= this.max) return;
    this.report('full');
    throw new HotStateFullError('kept');
  }

  set(key: string, value: V, ttl: number): void {
    if (!this.cache.has(key)) this.makeRoom(1);
    this.cache.set(key, value, { ttl });
  }
}

export class MemoryHotState implements HotState {
  /** Told of every eviction and every refusal for want of room (metrics). */
  listener: MemoryHotStateListener | undefined;
  /** Values that are never evicted (rate limits, challenges, sessions): one room per scope, made on first use. */
  private readonly values = new Map<string, Bounded<{ value: string }>>();
  /** Values evaluation traffic makes (challenge_tokens): evicted under pressure. */
  private readonly cache: Bounded<{ value: string }>;
  private readonly evaluation: ObservationSpace;
  private readonly kept: ObservationSpace;
  /** Scope → key → expiry (ms). Insertion order ≈ expiry order within a scope, for dropping expired claims from the front. */
  private readonly claims = new Map<string, Map<string, number>>();
  private readonly maxClaims: number;
  private readonly maxMembers: number;
  private readonly now: () => number;
  private readonly room: (scope: string) => Bounded<{ value: string }>;

  constructor(options: MemoryHotStateOptions = {}) {
    const max = options.maxKeys ?? 200_000;
    const maxKept = options.maxKeptKeys ?? max;
    this.now = options.now ?? Date.now;
    const bounded = <V extends {}>(evictable: boolean) =>
      new Bounded<V>(evictable ? max : maxKept, evictable, this.now, (event) => this.listener?.(event, evictable ? 'evaluation' : 'kept'));
    this.room = (scope) => {
      let room = this.values.get(scope);
      if (!room) {
        room = bounded(false);
        this.values.set(scope, room);
      }
      return room;
    };
    this.cache = bounded(true);
    this.evaluation = { counters: bounded(true), sets: bounded(true), seen: bounded(true) };
    this.kept = { counters: bounded(false), sets: bounded(false), seen: bounded(false) };
    this.maxMembers = options.maxMembersPerSet ?? 1000;
    this.maxClaims = max;
  }

  async observe(batch: ObservationBatch): Promise<ObservationResult> {
    const space = batch.keep ? this.kept : this.evaluation;
    if (batch.keep) {
      // All or nothing: make sure every new kept key fits before changing any.
      space.counters.makeRoom(new Set(batch.counters.filter((c) => c.record !== false && !space.counters.cache.has(c.key)).map((c) => c.key)).size);
      space.sets.makeRoom(new Set(batch.distinct.filter((d) => !space.sets.cache.has(d.key)).map((d) => d.key)).size);
      space.seen.makeRoom(new Set(batch.firstSeen.filter((f) => !space.seen.cache.has(f.key)).map((f) => f.key)).size);
    }
    return {
      counters: batch.counters.map((c) => this.count(space, c.key, c.windowsMs, batch.at, c.record !== false)),
      distinct: batch.distinct.map((d) => this.addMember(space, d.key, d.member, d.windowsMs, batch.at)),
      firstSeen: batch.firstSeen.map((f) => {
        if (space.seen.cache.has(f.key)) return false;
        space.seen.set(f.key, true, f.ttlMs);
        return true;
      }),
    };
  }

  private count(space: ObservationSpace, key: string, windowsMs: readonly number[], at: number, record: boolean): number[] {
    let counter = space.counters.cache.get(key);
    if (!counter && !record) return windowsMs.map(() => 0);
    if (!counter) {
      counter = new Map();
      space.counters.set(key, counter, Math.max(...windowsMs));
    }
    return windowsMs.map((windowMs) => {
      let buckets = counter.get(windowMs);
      if (!buckets) {
        buckets = { index: [], count: [] };
        counter.set(windowMs, buckets);
      }
      const size = windowMs / BUCKETS_PER_WINDOW;
      const current = Math.floor(at / size);
      if (record) addToBucket(buckets, current);
      const oldest = current - BUCKETS_PER_WINDOW + 1;
      // Drop buckets that no window ending now or later can reach.
      while (buckets.index.length > 0 && buckets.index[0]! < oldest) {
        buckets.index.shift();
        buckets.count.shift();
      }
      let total = 0;
      for (let i = 0; i < buckets.index.length; i++) {
        const index = buckets.index[i]!;
        if (index >= oldest && index <= current) total += buckets.count[i]!;
      }
      return total;
    });
  }

  private addMember(space: ObservationSpace, key: string, member: string, windowsMs: readonly number[], at: number): number[] {
    let set = space.sets.cache.get(key);
    if (!set) {
      set = new Map();
      space.sets.set(key, set, Math.max(...windowsMs));
    }
    const previous = set.get(member);
    set.delete(member);
    set.set(member, Math.max(previous ?? 0, at));
    if (set.size > this.maxMembers) set.delete(set.keys().next().value!);
    // One pass over the members for every window: a busy IP's set holds hundreds.
    const since = windowsMs.map((windowMs) => at - windowMs);
    const counts = since.map(() => 0);
    for (const seenAt of set.values()) {
      for (let w = 0; w < since.length; w++) if (seenAt > since[w]!) counts[w]!++;
    }
    return counts;
  }

  async claimOnce(key: string, ttlMs: number, scope = ''): Promise<boolean> {
    const now = this.now();
    let claims = this.claims.get(scope);
    if (!claims) {
      claims = new Map();
      this.claims.set(scope, claims);
    }
    // Drop expired claims from the front (a scope's claims share one TTL, so they expire in order): amortised O(1).
    for (const [claimed, until] of claims) {
      if (until > now) break;
      claims.delete(claimed);
    }
    const expiresAt = claims.get(key);
    if (expiresAt !== undefined && expiresAt > now) return false;
    // Never make room by dropping a live claim (it could be claimed twice), never answer "claimed": say there is no room.
    if (expiresAt === undefined && claims.size >= this.maxClaims) {
      this.listener?.('full', 'claims');
      throw new HotStateFullError('claims');
    }
    // Re-inserting keeps the map roughly in expiry order.
    claims.delete(key);
    claims.set(key, now + ttlMs);
    return true;
  }

  async put(key: string, value: string, ttlMs: number, options: PutOptions = {}): Promise<void> {
    const target = options.evictable ? this.cache : this.room(options.scope ?? '');
    target.set(key, { value }, ttlMs);
    // A key lives in one place only (a handful of rooms: cheap).
    for (const other of this.places()) if (other !== target) other.cache.delete(key);
  }

  /** The kept rooms, then the evictable values. */
  private places(): Bounded<{ value: string }>[] {
    return [...this.values.values(), this.cache];
  }

  async get(key: string): Promise<string | null> {
    for (const { cache } of this.places()) {
      const entry = cache.get(key);
      if (entry) return entry.value;
    }
    return null;
  }

  async take(key: string): Promise<string | null> {
    for (const { cache } of this.places()) {
      const entry = cache.get(key);
      if (entry) {
        cache.delete(key);
        return entry.value;
      }
    }
    return null;
  }

  async increment(key: string, ttlMs: number, scope = ''): Promise<number> {
    const room = this.room(scope);
    const values = room.cache;
    const entry = values.get(key);
    if (!entry) {
      room.set(key, { value: '1' }, ttlMs);
      return 1;
    }
    // Keep the window's original expiry: a fixed window, not a sliding one.
    const next = String(Number(entry.value) + 1);
    values.set(key, { value: next }, { ttl: values.getRemainingTTL(key) });
    return Number(next);
  }

  async ping(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    for (const bounded of [...this.places(), ...Object.values(this.evaluation), ...Object.values(this.kept)]) bounded.cache.clear();
    this.claims.clear();
  }
}

function addToBucket(buckets: WindowBuckets, index: number): void {
  const { index: indexes, count } = buckets;
  // Events mostly arrive in time order: the newest bucket is the usual target.
  for (let i = indexes.length - 1; i >= 0; i--) {
    if (indexes[i] === index) {
      count[i]!++;
      return;
    }
    if (indexes[i]! < index) {
      indexes.splice(i + 1, 0, index);
      count.splice(i + 1, 0, 1);
      return;
    }
  }
  indexes.unshift(index);
  count.unshift(1);
}
