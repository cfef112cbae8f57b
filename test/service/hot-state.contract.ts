/**
 * The behaviour every HotState implementation must show, as one suite that
 * each implementation's test file runs against its own store
 * (hot-state.memory.test.ts, hot-state.redis.test.ts).
 *
 * Windows are driven by event times (`at`), not by sleeping; only TTLs of
 * plain keys, which follow the wall clock, use short real waits.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HotState, ObservationBatch } from '../../server/adapters/hot-state/hot-state.js';

export interface HotStateHarness {
  state: HotState;
  /** Every key the store holds now, with its remaining TTL in ms (Infinity or a negative number: none). */
  keyTtls(): Promise<Map<string, number>>;
  dispose(): Promise<void>;
}

export interface HotStateSuiteOptions {
  /** Skip the whole suite (the store is unreachable); the reason is printed by the caller. */
  skip?: boolean;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** A time aligned on every window's bucket boundaries (a multiple of 1 h), so bucket edges are predictable. */
const T = 472_223 * HOUR;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const batch = (over: Partial<ObservationBatch> & Pick<ObservationBatch, 'at'>): ObservationBatch => ({
  counters: [],
  distinct: [],
  firstSeen: [],
  ...over,
});

export function describeHotState(name: string, factory: () => Promise<HotStateHarness>, options: HotStateSuiteOptions = {}): void {
  describe.skipIf(options.skip ?? false)(`HotState contract: ${name}`, () => {
    let harness: HotStateHarness;
    let state: HotState;

    beforeEach(async () => {
      harness = await factory();
      state = harness.state;
    });
    afterEach(async () => {
      await harness.dispose();
    });

    it('counts occurrences over sliding windows of 12 buckets, by event time', async () => {
      const windowsMs = [MINUTE, HOUR];
      const count = async (at: number, key = 'v:{app:ip:192.0.2.1}:login') =>
        (await state.observe(batch({ at, counters: [{ key, windowsMs }] }))).counters[0];

      expect(await count(T)).toEqual([1, 1]);
      expect(await count(T)).toEqual([2, 2]);
      expect(await count(T)).toEqual([3, 3]);
      expect(await count(T + 30_000)).toEqual([4, 4]);
      // One minute later, T's 5-second bucket has left the 1-minute window; the hour still holds all.
      expect(await count(T + MINUTE)).toEqual([2, 5]);
      // Just under a bucket before T + 1 h: every bucket still in the hour.
      expect(await count(T + HOUR - 300_001)).toEqual([1, 6]);
      // Past the hour and the next bucket: everything before has gone from both windows.
      expect(await count(T + HOUR + 300_000)).toEqual([1, 2]);
      expect(await count(T + 2 * HOUR + 300_000)).toEqual([1, 1]);
      // Another key counts on its own.
      expect(await count(T + 2 * HOUR + 300_000, 'v:{app:ip:192.0.2.2}:login')).toEqual([1, 1]);
    });

    it('reads counts without counting when record is false, and reads 0 for an unseen key', async () => {
      const windowsMs = [MINUTE, HOUR];
      const key = 'c:{app:device:d1}:passed';
      const read = async (at: number, k = key) => (await state.observe(batch({ at, counters: [{ key: k, windowsMs, record: false }] }))).counters[0];
      expect(await read(T)).toEqual([0, 0]);
      await state.observe(batch({ at: T, counters: [{ key, windowsMs }] }));
      await state.observe(batch({ at: T, counters: [{ key, windowsMs }] }));
      expect(await read(T)).toEqual([2, 2]);
      expect(await read(T)).toEqual([2, 2]);
      expect(await read(T + 2 * MINUTE)).toEqual([0, 2]);
      expect(await read(T, 'c:{app:device:never}:passed')).toEqual([0, 0]);
    });

    it('counts several keys and windows in one batch, results in batch order', async () => {
      const windowsMs = [5 * MINUTE, HOUR, DAY];
      const observation = (at: number, ip: string) =>
        batch({
          at,
          counters: [
            { key: `v:{app:ip:${ip}}:login`, windowsMs },
            { key: 'v:{app:device:dev-1}:login', windowsMs },
            { key: 'untagged-counter', windowsMs },
          ],
          distinct: [
            { key: `d:{app:ip:${ip}}:accounts`, member: 'u1', windowsMs },
            { key: 'd:{app:device:dev-1}:accounts', member: ip, windowsMs },
          ],
          firstSeen: [
            { key: 's:{app:device:dev-1}', ttlMs: DAY },
            { key: `s:{app:ip:${ip}}`, ttlMs: DAY },
          ],
        });
      expect(await state.observe(observation(T, 'a'))).toEqual({
        counters: [
          [1, 1, 1],
          [1, 1, 1],
          [1, 1, 1],
        ],
        distinct: [
          [1, 1, 1],
          [1, 1, 1],
        ],
        firstSeen: [true, true],
      });
      expect(await state.observe(observation(T + 6 * MINUTE, 'b'))).toEqual({
        counters: [
          [1, 1, 1],
          [1, 2, 2],
          [1, 2, 2],
        ],
        distinct: [
          [1, 1, 1],
          [1, 2, 2],
        ],
        firstSeen: [false, true],
      });
      expect(await state.observe(batch({ at: T }))).toEqual({ counters: [], distinct: [], firstSeen: [] });
    });

    it('counts distinct members over windows, each member once', async () => {
      const windowsMs = [MINUTE, HOUR];
      const add = async (member: string, at: number, key = 'd:{app:device:dev-1}:accounts') =>
        (await state.observe(batch({ at, distinct: [{ key, member, windowsMs }] }))).distinct[0];

      expect(await add('a', T)).toEqual([1, 1]);
      expect(await add('b', T + 1000)).toEqual([2, 2]);
      expect(await add('a', T + 2000)).toEqual([2, 2]);
      // At T + 61.5 s the minute holds what was seen after T + 1.5 s: a (again at T + 2 s) and c.
      expect(await add('c', T + 61_500)).toEqual([2, 3]);
      // An hour and more later, only the new member is in either window.
      expect(await add('d', T + 2 * HOUR)).toEqual([1, 1]);
      expect(await add('a', T + 2 * HOUR, 'd:{app:device:dev-2}:accounts')).toEqual([1, 1]);
    });

    it('caps a distinct set at 1000 members', async () => {
      const windowsMs = [HOUR, DAY];
      let last: number[] | undefined;
      for (let round = 0; round < 11; round++) {
        const distinct = Array.from({ length: 100 }, (_, i) => ({
          key: 'd:{app:ip:198.51.100.7}:devices',
          member: `dev-${round * 100 + i}`,
          windowsMs,
        }));
        const result = await state.observe(batch({ at: T + round * 1000, distinct }));
        for (const counts of result.distinct) for (const n of counts) expect(n).toBeLessThanOrEqual(1000);
        last = result.distinct.at(-1);
      }
      expect(last).toEqual([1000, 1000]);
      // A new member still counts (an old one made room for it).
      const again = await state.observe(
        batch({ at: T + 20_000, distinct: [{ key: 'd:{app:ip:198.51.100.7}:devices', member: 'dev-new', windowsMs }] }),
      );
      expect(again.distinct[0]).toEqual([1000, 1000]);
    });

    it('marks first sight, until the mark expires', async () => {
      const seen = async (key: string, ttlMs = DAY) => (await state.observe(batch({ at: T, firstSeen: [{ key, ttlMs }] }))).firstSeen[0];
      expect(await seen('s:{app:device:dev-1}')).toBe(true);
      expect(await seen('s:{app:device:dev-1}')).toBe(false);
      expect(await seen('s:{app:device:dev-2}')).toBe(true);
      expect(await seen('s:{app:device:short}', 100)).toBe(true);
      expect(await seen('s:{app:device:short}', 100)).toBe(false);
      await sleep(250);
      expect(await seen('s:{app:device:short}', 100)).toBe(true);
    });

    it('claims a key exactly once under 200 parallel claims, until it expires', async () => {
      const results = await Promise.all(Array.from({ length: 200 }, () => state.claimOnce('jti:abc', 10_000)));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await state.claimOnce('jti:abc', 10_000)).toBe(false);
      expect(await state.claimOnce('jti:other', 10_000)).toBe(true);

      expect(await state.claimOnce('jti:short', 100)).toBe(true);
      await sleep(250);
      expect(await state.claimOnce('jti:short', 100)).toBe(true);
    });

    it('claims with a scope: once per key, until it expires, and a scope never answers for another key (issue 13)', async () => {
      expect(await state.claimOnce('jti:shop:t1', 10_000, 'jti:shop')).toBe(true);
      expect(await state.claimOnce('jti:shop:t1', 10_000, 'jti:shop')).toBe(false);
      expect(await state.claimOnce('jti:other:t1', 10_000, 'jti:other')).toBe(true);
      const parallel = await Promise.all(Array.from({ length: 50 }, () => state.claimOnce('sessu:s1', 10_000, 'sessu:shop')));
      expect(parallel.filter(Boolean)).toHaveLength(1);
      expect(await state.claimOnce('jti:shop:short', 100, 'jti:shop')).toBe(true);
      await sleep(250);
      expect(await state.claimOnce('jti:shop:short', 100, 'jti:shop')).toBe(true);
      expect(await state.claimOnce('jti:shop:t1', 10_000, 'jti:shop')).toBe(false);
    });

    it('keeps evictable values, scoped values and counters, and kept observations like any other (issue 13)', async () => {
      await state.put('ctok:1', 'origin', 10_000, { evictable: true });
      expect(await state.get('ctok:1')).toBe('origin');
      const taken = await Promise.all(Array.from({ length: 50 }, () => state.take('ctok:1')));
      expect(taken.filter((v) => v !== null)).toEqual(['origin']);
      expect(await state.get('ctok:1')).toBeNull();
      await state.put('sess:1', 'session', 10_000, { scope: 'sess' });
      expect(await state.get('sess:1')).toBe('session');
      expect(await state.increment('rl:sms:m:1:h', 10_000, 'rl:sms')).toBe(1);
      expect(await state.increment('rl:sms:m:1:h', 10_000, 'rl:sms')).toBe(2);
      expect(Number(await state.get('rl:sms:m:1:h'))).toBe(2);

      const windowsMs = [MINUTE, HOUR];
      const kept = (record = true) =>
        batch({
          at: T,
          keep: true,
          counters: [{ key: 'enr:{app:net1}:puzzles', windowsMs, record }],
          distinct: [{ key: 'p:{app:ip:192.0.2.1}:mobiles', member: 'm1', windowsMs }],
          firstSeen: [{ key: 'enr:dev:{app:dev1}', ttlMs: DAY }],
        });
      expect(await state.observe(kept())).toEqual({ counters: [[1, 1]], distinct: [[1, 1]], firstSeen: [true] });
      expect(await state.observe(kept())).toEqual({ counters: [[2, 2]], distinct: [[1, 1]], firstSeen: [false] });
      expect((await state.observe(kept(false))).counters).toEqual([[2, 2]]);
    });

    it('puts, gets and takes values; take is atomic under 200 parallel takes', async () => {
      expect(await state.get('challenge:1')).toBeNull();
      await state.put('challenge:1', 'first', 10_000);
      await state.put('challenge:1', 'answer', 10_000);
      expect(await state.get('challenge:1')).toBe('answer');
      const taken = await Promise.all(Array.from({ length: 200 }, () => state.take('challenge:1')));
      expect(taken.filter((v) => v !== null)).toEqual(['answer']);
      expect(await state.get('challenge:1')).toBeNull();
      expect(await state.take('challenge:1')).toBeNull();

      await state.put('session:{s1}', 'short-lived', 100);
      expect(await state.get('session:{s1}')).toBe('short-lived');
      await sleep(250);
      expect(await state.get('session:{s1}')).toBeNull();
      expect(await state.take('session:{s1}')).toBeNull();
    });

    it('increments a fixed-window counter: later increments do not extend the window', async () => {
      expect(await state.increment('rate:{app}:1', 400)).toBe(1);
      expect(await state.increment('rate:{app}:1', 400)).toBe(2);
      expect(await state.increment('rate:{app}:2', 400)).toBe(1);
      await sleep(250);
      // A sliding window would now last until ~650 ms; the fixed one ends at ~400 ms.
      expect(await state.increment('rate:{app}:1', 400)).toBe(3);
      await sleep(250);
      expect(await state.increment('rate:{app}:1', 400)).toBe(1);
      const parallel = await Promise.all(Array.from({ length: 100 }, () => state.increment('rate:{app}:3', 10_000)));
      expect(new Set(parallel).size).toBe(100);
      expect(Math.max(...parallel)).toBe(100);
    });

    it('reads a counter back with get, without counting (the slider try limits check it at start)', async () => {
      expect(await state.get('rate:{app}:read')).toBeNull();
      await state.increment('rate:{app}:read', 10_000);
      await state.increment('rate:{app}:read', 10_000);
      expect(Number(await state.get('rate:{app}:read'))).toBe(2);
      expect(Number(await state.get('rate:{app}:read'))).toBe(2);
    });

    it('leaves no key without an expiry', async () => {
      const windowsMs = [5 * MINUTE, HOUR, DAY];
      const now = Date.now();
      for (let i = 0; i < 3; i++) {
        await state.observe(
          batch({
            at: now + i * 1000,
            counters: [
              { key: 'v:{app:ip:192.0.2.9}:login', windowsMs },
              { key: 'plain-counter', windowsMs },
            ],
            distinct: [{ key: 'd:{app:ip:192.0.2.9}:accounts', member: `u${i}`, windowsMs }],
            firstSeen: [{ key: 's:{app:device:dev-9}', ttlMs: 90 * DAY }],
          }),
        );
      }
      await state.claimOnce('jti:ttl', 60_000);
      await state.put('challenge:ttl', 'x', 60_000);
      await state.put('challenge:taken', 'x', 60_000);
      await state.take('challenge:taken');
      await state.increment('rate:ttl', 60_000);
      await state.increment('rate:ttl', 60_000);

      const ttls = await harness.keyTtls();
      expect(ttls.size).toBeGreaterThanOrEqual(6);
      const withoutExpiry = [...ttls].filter(([, ttl]) => !(ttl > 0 && ttl <= 90 * DAY));
      expect(withoutExpiry).toEqual([]);
    });
  });
}
