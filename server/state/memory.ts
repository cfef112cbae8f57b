/**
 * In-process hot state for the embedded default. Bounded: each kind of entry
 * lives in an LRU with a maximum size and per-entry TTLs, so an attacker
 * spraying identifiers evicts old entries instead of exhausting memory.
 *
 * Velocity windows are sliding, made of 12 buckets each, so a count is exact
 * to within one twelfth of its window.
 */
import { LRUCache } from 'lru-cache';
import type { HotState, ObservationBatch, ObservationResult } from './hot-state.js';

const BUCKETS_PER_WINDOW = 12;

/** Bucket counts of one window: parallel arrays of bucket index and count, oldest first. */
interface WindowBuckets {
  index: number[];
  count: number[];
}

type Counter = Map<number, WindowBuckets>;
/** Member → last time seen (ms). Insertion order ≈ recency, for eviction. */
type DistinctSet = Map<string, number>;

export interface MemoryHotStateOptions {
  /** Most keys kept per kind of entry (values, counters, distinct sets, first-seen marks). */
  maxKeys?: number;
  /** Most members kept per distinct set; the oldest are dropped beyond it. */
  maxMembersPerSet?: number;
  /** Clock, for tests. */
  now?: () => number;
}

export class MemoryHotState implements HotState {
  private readonly values: LRUCache<string, { value: string }>;
  /**
   * Claims (replayed tokens, used session_ids) are never evicted before they
   * expire: evicting one would let it be claimed twice. When full of live
   * claims, new claims are refused, which callers treat as "already used".
   */
  private readonly claims = new Map<string, number>();
  private readonly maxClaims: number;
  private readonly counters: LRUCache<string, Counter>;
  private readonly sets: LRUCache<string, DistinctSet>;
  private readonly seen: LRUCache<string, true>;
  private readonly maxMembers: number;
  private readonly now: () => number;

  constructor(options: MemoryHotStateOptions = {}) {
    const max = options.maxKeys ?? 200_000;
    this.now = options.now ?? Date.now;
    const common = { max, ttlAutopurge: false, perf: { now: () => this.now() } };
    this.values = new LRUCache(common);
    this.counters = new LRUCache(common);
    this.sets = new LRUCache(common);
    this.seen = new LRUCache(common);
    this.maxMembers = options.maxMembersPerSet ?? 1000;
    this.maxClaims = max;
  }

  async observe(batch: ObservationBatch): Promise<ObservationResult> {
    return {
      counters: batch.counters.map((c) => this.count(c.key, c.windowsMs, batch.at, c.record !== false)),
      distinct: batch.distinct.map((d) => this.addMember(d.key, d.member, d.windowsMs, batch.at)),
      firstSeen: batch.firstSeen.map((f) => {
        if (this.seen.has(f.key)) return false;
        this.seen.set(f.key, true, { ttl: f.ttlMs });
        return true;
      }),
    };
  }

  private count(key: string, windowsMs: readonly number[], at: number, record: boolean): number[] {
    let counter = this.counters.get(key);
    if (!counter && !record) return windowsMs.map(() => 0);
    if (!counter) {
      counter = new Map();
      this.counters.set(key, counter, { ttl: Math.max(...windowsMs) });
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

  private addMember(key: string, member: string, windowsMs: readonly number[], at: number): number[] {
    let set = this.sets.get(key);
    if (!set) {
      set = new Map();
      this.sets.set(key, set, { ttl: Math.max(...windowsMs) });
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

  async claimOnce(key: string, ttlMs: number): Promise<boolean> {
    const now = this.now();
    const expiresAt = this.claims.get(key);
    if (expiresAt !== undefined && expiresAt > now) return false;
    if (expiresAt === undefined && this.claims.size >= this.maxClaims) {
      for (const [claimed, until] of this.claims) if (until <= now) this.claims.delete(claimed);
      if (this.claims.size >= this.maxClaims) return false;
    }
    // Re-inserting keeps the map roughly in expiry order for the sweep above.
    this.claims.delete(key);
    this.claims.set(key, now + ttlMs);
    return true;
  }

  async put(key: string, value: string, ttlMs: number): Promise<void> {
    this.values.set(key, { value }, { ttl: ttlMs });
  }

  async get(key: string): Promise<string | null> {
    return this.values.get(key)?.value ?? null;
  }

  async take(key: string): Promise<string | null> {
    const entry = this.values.get(key);
    if (!entry) return null;
    this.values.delete(key);
    return entry.value;
  }

  async increment(key: string, ttlMs: number): Promise<number> {
    const entry = this.values.get(key);
    if (!entry) {
      this.values.set(key, { value: '1' }, { ttl: ttlMs });
      return 1;
    }
    // Keep the window's original expiry: a fixed window, not a sliding one.
    const next = String(Number(entry.value) + 1);
    this.values.set(key, { value: next }, { ttl: this.values.getRemainingTTL(key) });
    return Number(next);
  }

  async ping(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    this.values.clear();
    this.claims.clear();
    this.counters.clear();
    this.sets.clear();
    this.seen.clear();
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
