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
 *
 * Memory: every identifier an attacker sprays costs heap, so the entries are
 * compact (a counter is one small array of integers, see `observeCounter`) and
 * the distinct sets are bounded by their members too, not only by their
 * number: `maxMembersPerSpace` units in all per space (a set costs one unit
 * plus one per member), at most `maxMembersPerSet` members in one set. `npm run bench` measures
 * the bytes per tracked identifier; the README states the caps.
 *
 * Keys are stored by their flat names (keys.ts, without hash tags).
 */
import { LRUCache } from 'lru-cache';
import type { ClaimJournal } from './claim-journal.js';
import { HotStateFullError, type HotState, type ObservationBatch, type ObservationResult, type PutOptions, type StateKey } from './hot-state.js';
import { keyName } from './keys.js';

const BUCKETS_PER_WINDOW = 12;
/** A full kept cache looks for expired entries to drop at most this often (a scan of the cache). */
const PURGE_INTERVAL_MS = 1000;

/** A key's name here: flat, no hash tag. */
const flat = (key: StateKey): string => keyName(key, '', '');

/**
 * A sliding-window counter as one flat array of small integers: for each of
 * its windows (in the order the caller names them) the number of live
 * buckets, then each window's (bucket index, count) pairs, oldest first. One
 * event costs a 9-element array for three windows, where maps of bucket arrays
 * cost about 1.4 KB.
 */
type Counter = number[];
/**
 * Member → last time seen (ms); insertion order ≈ recency, for dropping the
 * oldest. Boxed so that a set that grows is stored anew: lru-cache updates an
 * entry's size only when its value changes.
 */
interface DistinctSet {
  members: Map<string, number>;
}

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
  /** Most members in all the distinct sets of one space (a set counts one more for itself). Default 2 × `maxKeys`. */
  maxMembersPerSpace?: number;
  /**
   * Where claims are written so that they survive a restart (claim-journal.ts);
   * its live claims are loaded now. Without one, a restart forgets them.
   */
  journal?: ClaimJournal;
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
 * An LRU with TTLs, bounded in units: an entry is one unit unless `set` says
 * otherwise (a distinct set: one plus its members). Evictable: the least
 * recently used entries make room (reported). Kept: what would not fit throws
 * `HotStateFullError`, after dropping expired entries (at most once a second:
 * it is a scan).
 */
class Bounded<V extends {}> {
  readonly cache: LRUCache<string, V>;
  private lastPurge = -Infinity;

  constructor(
    private readonly maxUnits: number,
    private readonly evictable: boolean,
    private readonly now: () => number,
    private readonly report: (event: 'evicted' | 'full') => void,
  ) {
    this.cache = new LRUCache<string, V>({
      max: maxUnits,
      maxSize: maxUnits,
      sizeCalculation: () => 1,
      ttlAutopurge: false,
      perf: { now },
      dispose: (_value, _key, reason) => {
        if (reason === 'evict') report('evicted');
      },
    });
  }

  /** Throws when `units` more would not fit in a kept cache. */
  makeRoom(units: number): void {
    if (this.evictable || units === 0 || this.cache.calculatedSize + units <= this.maxUnits) return;
    const now = this.now();
    if (now - this.lastPurge >= PURGE_INTERVAL_MS) {
      this.lastPurge = now;
      this.cache.purgeStale();
    }
    if (this.cache.calculatedSize + units <= this.maxUnits) return;
    this.report('full');
    throw new HotStateFullError('kept');
  }

  /**
   * Stores `value` for `ttl` ms; a write renews the TTL. A new key must fit
   * (kept caches); an entry that grows is checked by its caller (`makeRoom`).
   */
  set(key: string, value: V, ttl: number, size = 1): void {
    if (!this.cache.has(key)) this.makeRoom(size);
    this.cache.set(key, value, { ttl, size });
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
  private readonly journal: ClaimJournal | undefined;
  private readonly maxMembers: number;
  private readonly now: () => number;
  private readonly room: (scope: string) => Bounded<{ value: string }>;

  constructor(options: MemoryHotStateOptions = {}) {
    const max = options.maxKeys ?? 200_000;
    const maxKept = options.maxKeptKeys ?? max;
    this.now = options.now ?? Date.now;
    const bounded = <V extends {}>(evictable: boolean, units = evictable ? max : maxKept) =>
      new Bounded<V>(units, evictable, this.now, (event) => this.listener?.(event, evictable ? 'evaluation' : 'kept'));
    const maxMembersPerSpace = options.maxMembersPerSpace ?? 2 * max;
    this.room = (scope) => {
      let room = this.values.get(scope);
      if (!room) {
        room = bounded(false);
        this.values.set(scope, room);
      }
      return room;
    };
    this.cache = bounded(true);
    this.evaluation = { counters: bounded(true), sets: bounded(true, maxMembersPerSpace), seen: bounded(true) };
    this.kept = { counters: bounded(false), sets: bounded(false, maxMembersPerSpace), seen: bounded(false) };
    this.maxMembers = options.maxMembersPerSet ?? 1000;
    this.maxClaims = max;
    this.journal = options.journal;
    // Oldest expiry first, so each scope's map keeps its expiry order.
    for (const { scope, key, expiresAt } of this.journal?.live(this.now()) ?? []) this.claimsOf(scope).set(key, expiresAt);
  }

  private claimsOf(scope: string): Map<string, number> {
    let claims = this.claims.get(scope);
    if (!claims) {
      claims = new Map();
      this.claims.set(scope, claims);
    }
    return claims;
  }

  async observe(batch: ObservationBatch): Promise<ObservationResult> {
    const space = batch.keep ? this.kept : this.evaluation;
    if (batch.keep) {
      // All or nothing: make sure every new kept key fits before changing any.
      const newCounters = new Set<string>();
      for (const c of batch.counters) {
        if (c.record === false) continue;
        const name = flat(c);
        if (!space.counters.cache.has(name)) newCounters.add(name);
      }
      space.counters.makeRoom(newCounters.size);
      // A new set takes a unit for itself and one for its member; a new member of a set, one.
      space.sets.makeRoom(
        batch.distinct.reduce((units, d) => {
          const members = space.sets.cache.peek(flat(d))?.members;
          return units + (!members ? 2 : members.has(d.member) || members.size >= this.maxMembers ? 0 : 1);
        }, 0),
      );
      const newMarks = new Set<string>();
      for (const f of batch.firstSeen) {
        const name = flat(f);
        if (!space.seen.cache.has(name)) newMarks.add(name);
      }
      space.seen.makeRoom(newMarks.size);
    }
    return {
      counters: batch.counters.map((c) => this.count(space, flat(c), c.windowsMs, batch.at, c.record !== false)),
      distinct: batch.distinct.map((d) => this.addMember(space, flat(d), d.member, d.windowsMs, batch.at)),
      firstSeen: batch.firstSeen.map((f) => {
        const name = flat(f);
        if (space.seen.cache.has(name)) return false;
        space.seen.set(name, true, f.ttlMs);
        return true;
      }),
    };
  }

  private count(space: ObservationSpace, key: string, windowsMs: readonly number[], at: number, record: boolean): number[] {
    const counter = space.counters.cache.get(key);
    if (!record) return counter ? counterTotals(counter, windowsMs, at) : windowsMs.map(() => 0);
    const next = recordInCounter(counter, windowsMs, at);
    // Written back (renewing the TTL): a busy key lives as long as its longest window after its last event.
    space.counters.set(key, next, Math.max(...windowsMs));
    return counterTotals(next, windowsMs, at);
  }

  private addMember(space: ObservationSpace, key: string, member: string, windowsMs: readonly number[], at: number): number[] {
    const ttl = Math.max(...windowsMs);
    let set = space.sets.cache.get(key);
    if (!set) {
      set = { members: new Map() };
      space.sets.set(key, set, ttl, 1);
    }
    const members = set.members;
    const before = members.size;
    const previous = members.get(member);
    members.delete(member);
    members.set(member, Math.max(previous ?? 0, at));
    if (members.size > this.maxMembers) members.delete(members.keys().next().value!);
    // Written back with a renewed TTL; grown, as a new box with its new size (one unit for the set, one per member).
    space.sets.cache.set(key, members.size === before ? set : { members }, { ttl, size: members.size + 1 });
    // One pass over the members for every window: a busy IP's set holds hundreds.
    const since = windowsMs.map((windowMs) => at - windowMs);
    const counts = since.map(() => 0);
    for (const seenAt of members.values()) {
      for (let w = 0; w < since.length; w++) if (seenAt > since[w]!) counts[w]!++;
    }
    return counts;
  }

  async claimOnce(stateKey: StateKey, ttlMs: number, scope = ''): Promise<boolean> {
    const key = flat(stateKey);
    const now = this.now();
    const claims = this.claimsOf(scope);
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
    // Durable before the answer; if it cannot be written the claim still holds in this process, and the caller hears of it.
    this.journal?.record({ scope, key, expiresAt: now + ttlMs }, now);
    return true;
  }

  async put(stateKey: StateKey, value: string, ttlMs: number, options: PutOptions = {}): Promise<void> {
    const key = flat(stateKey);
    const target = options.evictable ? this.cache : this.room(options.scope ?? '');
    target.set(key, { value }, ttlMs);
    // A key lives in one place only (a handful of rooms: cheap).
    for (const other of this.places()) if (other !== target) other.cache.delete(key);
  }

  /** The kept rooms, then the evictable values. */
  private places(): Bounded<{ value: string }>[] {
    return [...this.values.values(), this.cache];
  }

  async get(stateKey: StateKey): Promise<string | null> {
    const key = flat(stateKey);
    for (const { cache } of this.places()) {
      const entry = cache.get(key);
      if (entry) return entry.value;
    }
    return null;
  }

  async take(stateKey: StateKey): Promise<string | null> {
    const key = flat(stateKey);
    for (const { cache } of this.places()) {
      const entry = cache.get(key);
      if (entry) {
        cache.delete(key);
        return entry.value;
      }
    }
    return null;
  }

  async increment(stateKey: StateKey, ttlMs: number, scope = ''): Promise<number> {
    const key = flat(stateKey);
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
    this.journal?.close();
  }
}

/** Bucket length of a window: a twelfth of it. */
const bucketOf = (at: number, windowMs: number): number => Math.floor(at / (windowMs / BUCKETS_PER_WINDOW));

/** Events in each window ending at `at`. */
function counterTotals(counter: Counter, windowsMs: readonly number[], at: number): number[] {
  const totals: number[] = [];
  let offset = windowsMs.length;
  for (let w = 0; w < windowsMs.length; w++) {
    const current = bucketOf(at, windowsMs[w]!);
    const oldest = current - BUCKETS_PER_WINDOW + 1;
    const end = offset + 2 * (counter[w] ?? 0);
    let total = 0;
    for (let i = offset; i < end; i += 2) {
      const index = counter[i]!;
      if (index >= oldest && index <= current) total += counter[i + 1]!;
    }
    totals.push(total);
    offset = end;
  }
  return totals;
}

/**
 * A new counter with one more event at `at`, without the buckets no window
 * ending now or later can reach. Built at its exact length (no spare capacity).
 */
function recordInCounter(counter: Counter | undefined, windowsMs: readonly number[], at: number): Counter {
  const windows = windowsMs.length;
  // A counter written with other windows (not done by callers) starts afresh.
  const old = counter && counter.length >= windows ? counter : undefined;
  const live = new Array<number>(windows).fill(0);
  let offset = windows;
  let length = windows;
  for (let w = 0; w < windows; w++) {
    const current = bucketOf(at, windowsMs[w]!);
    const oldest = current - BUCKETS_PER_WINDOW + 1;
    const end = offset + 2 * (old?.[w] ?? 0);
    let hasCurrent = false;
    for (let i = offset; i < end; i += 2) {
      if (old![i]! < oldest) continue;
      live[w]!++;
      if (old![i] === current) hasCurrent = true;
    }
    if (!hasCurrent) live[w]!++;
    length += 2 * live[w]!;
    offset = end;
  }
  const next = new Array<number>(length);
  offset = windows;
  let out = windows;
  for (let w = 0; w < windows; w++) {
    next[w] = live[w]!;
    const current = bucketOf(at, windowsMs[w]!);
    const oldest = current - BUCKETS_PER_WINDOW + 1;
    const end = offset + 2 * (old?.[w] ?? 0);
    let placed = false;
    for (let i = offset; i < end; i += 2) {
      const index = old![i]!;
      if (index < oldest) continue;
      // Events mostly arrive in time order; a late one (re-scoring by event time) goes in its place.
      if (!placed && index > current) {
        next[out++] = current;
        next[out++] = 1;
        placed = true;
      }
      next[out++] = index;
      next[out++] = old![i + 1]! + (index === current ? 1 : 0);
      if (index === current) placed = true;
    }
    if (!placed) {
      next[out++] = current;
      next[out++] = 1;
    }
    offset = end;
  }
  return next;
}
