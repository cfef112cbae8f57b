/**
 * The behaviour every HotState implementation must show, as one suite that
 * each implementation's test file runs against its own store
 * (hot-state.memory.test.ts, hot-state.redis.test.ts).
 *
 * Windows are driven by event times (`at`), not by sleeping; only TTLs of
 * plain keys, which follow the wall clock, use short real waits.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HotState, ObservationBatch, StateKey } from '../../server/adapters/hot-state/hot-state.js';

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

/** An app's key: what is kept (`facet`) about one of its entities. */
const of = (entity: StateKey['entity'], id: string, facet?: string): StateKey => ({ app: 'app', entity, id, ...(facet === undefined ? {} : { facet }) });

/** A claim on a token (`shop:t1`: its app and jti) or on a session. */
const token = (id: string): StateKey => ({ entity: 'token', id, facet: 'used' });
const sessionUsed = (id: string): StateKey => ({ entity: 'session', id, facet: 'used' });

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
      const count = async (at: number, key = of('ip', '192.0.2.1', 'login')) =>
        (await state.observe(batch({ at, counters: [{ ...key, windowsMs }] }))).counters[0];

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
      expect(await count(T + 2 * HOUR + 300_000, of('ip', '192.0.2.2', 'login'))).toEqual([1, 1]);
    });

    it('reads counts without counting when record is false, and reads 0 for an unseen key', async () => {
      const windowsMs = [MINUTE, HOUR];
      const key = of('device', 'd1', 'passed');
      const read = async (at: number, k = key) => (await state.observe(batch({ at, counters: [{ ...k, windowsMs, record: false }] }))).counters[0];
      expect(await read(T)).toEqual([0, 0]);
      await state.observe(batch({ at: T, counters: [{ ...key, windowsMs }] }));
      await state.observe(batch({ at: T, counters: [{ ...key, windowsMs }] }));
      expect(await read(T)).toEqual([2, 2]);
      expect(await read(T)).toEqual([2, 2]);
      expect(await read(T + 2 * MINUTE)).toEqual([0, 2]);
      expect(await read(T, of('device', 'never', 'passed'))).toEqual([0, 0]);
    });

    it('counts several keys and windows in one batch, results in batch order', async () => {
      const windowsMs = [5 * MINUTE, HOUR, DAY];
      const observation = (at: number, ip: string) =>
        batch({
          at,
          counters: [
            { ...of('ip', ip, 'login'), windowsMs },
            { ...of('device', 'dev-1', 'login'), windowsMs },
            // A key of no app.
            { entity: 'network', id: '192.0.2.0/24', facet: 'requests', windowsMs },
          ],
          distinct: [
            { ...of('ip', ip, 'accounts'), member: 'u1', windowsMs },
            { ...of('device', 'dev-1', 'accounts'), member: ip, windowsMs },
          ],
          firstSeen: [
            { ...of('device', 'dev-1', 'seen'), ttlMs: DAY },
            { ...of('ip', ip, 'seen'), ttlMs: DAY },
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
      const add = async (member: string, at: number, key = of('device', 'dev-1', 'accounts')) =>
        (await state.observe(batch({ at, distinct: [{ ...key, member, windowsMs }] }))).distinct[0];

      expect(await add('a', T)).toEqual([1, 1]);
      expect(await add('b', T + 1000)).toEqual([2, 2]);
      expect(await add('a', T + 2000)).toEqual([2, 2]);
      // At T + 61.5 s the minute holds what was seen after T + 1.5 s: a (again at T + 2 s) and c.
      expect(await add('c', T + 61_500)).toEqual([2, 3]);
      // An hour and more later, only the new member is in either window.
      expect(await add('d', T + 2 * HOUR)).toEqual([1, 1]);
      expect(await add('a', T + 2 * HOUR, of('device', 'dev-2', 'accounts'))).toEqual([1, 1]);
    });

    it('caps a distinct set at 1000 members', async () => {
      const windowsMs = [HOUR, DAY];
      let last: number[] | undefined;
      for (let round = 0; round < 11; round++) {
        const distinct = Array.from({ length: 100 }, (_, i) => ({
          ...of('ip', '198.51.100.7', 'devices'),
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
        batch({ at: T + 20_000, distinct: [{ ...of('ip', '198.51.100.7', 'devices'), member: 'dev-new', windowsMs }] }),
      );
      expect(again.distinct[0]).toEqual([1000, 1000]);
    });

    it('marks first sight, until the mark expires', async () => {
      const seen = async (device: string, ttlMs = DAY) => (await state.observe(batch({ at: T, firstSeen: [{ ...of('device', device, 'seen'), ttlMs }] }))).firstSeen[0];
      expect(await seen('dev-1')).toBe(true);
      expect(await seen('dev-1')).toBe(false);
      expect(await seen('dev-2')).toBe(true);
      expect(await seen('short', 100)).toBe(true);
      expect(await seen('short', 100)).toBe(false);
      await sleep(250);
      expect(await seen('short', 100)).toBe(true);
    });

    it('claims a key exactly once under 200 parallel claims, until it expires', async () => {
      const results = await Promise.all(Array.from({ length: 200 }, () => state.claimOnce(token('abc'), 10_000)));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await state.claimOnce(token('abc'), 10_000)).toBe(false);
      expect(await state.claimOnce(token('other'), 10_000)).toBe(true);

      expect(await state.claimOnce(token('short'), 100)).toBe(true);
      await sleep(250);
      expect(await state.claimOnce(token('short'), 100)).toBe(true);
    });

    it('claims with a scope: once per key, until it expires, and a scope never answers for another key (issue 13)', async () => {
      expect(await state.claimOnce(token('shop:t1'), 10_000, 'jti:shop')).toBe(true);
      expect(await state.claimOnce(token('shop:t1'), 10_000, 'jti:shop')).toBe(false);
      expect(await state.claimOnce(token('other:t1'), 10_000, 'jti:other')).toBe(true);
      const parallel = await Promise.all(Array.from({ length: 50 }, () => state.claimOnce(sessionUsed('s1'), 10_000, 'sessu:shop')));
      expect(parallel.filter(Boolean)).toHaveLength(1);
      expect(await state.claimOnce(token('shop:short'), 100, 'jti:shop')).toBe(true);
      await sleep(250);
      expect(await state.claimOnce(token('shop:short'), 100, 'jti:shop')).toBe(true);
      expect(await state.claimOnce(token('shop:t1'), 10_000, 'jti:shop')).toBe(false);
    });

    it('keeps evictable values, scoped values and counters, and kept observations like any other (issue 13)', async () => {
      const challengeToken: StateKey = { entity: 'challenge_token', id: '1' };
      await state.put(challengeToken, 'origin', 10_000, { evictable: true });
      expect(await state.get(challengeToken)).toBe('origin');
      const taken = await Promise.all(Array.from({ length: 50 }, () => state.take(challengeToken)));
      expect(taken.filter((v) => v !== null)).toEqual(['origin']);
      expect(await state.get(challengeToken)).toBeNull();
      await state.put({ entity: 'session', id: '1' }, 'session', 10_000, { scope: 'sess' });
      expect(await state.get({ entity: 'session', id: '1' })).toBe('session');
      const smsHour: StateKey = { entity: 'mobile', id: '1', facet: 'sms_hour' };
      expect(await state.increment(smsHour, 10_000, 'rl:sms')).toBe(1);
      expect(await state.increment(smsHour, 10_000, 'rl:sms')).toBe(2);
      expect(Number(await state.get(smsHour))).toBe(2);

      const windowsMs = [MINUTE, HOUR];
      const kept = (record = true) =>
        batch({
          at: T,
          keep: true,
          counters: [{ ...of('network', 'net1', 'puzzles'), windowsMs, record }],
          distinct: [{ ...of('ip', '192.0.2.1', 'sms_mobiles'), member: 'm1', windowsMs }],
          firstSeen: [{ ...of('device', 'dev1', 'enrolled'), ttlMs: DAY }],
        });
      expect(await state.observe(kept())).toEqual({ counters: [[1, 1]], distinct: [[1, 1]], firstSeen: [true] });
      expect(await state.observe(kept())).toEqual({ counters: [[2, 2]], distinct: [[1, 1]], firstSeen: [false] });
      expect((await state.observe(kept(false))).counters).toEqual([[2, 2]]);
    });

    it('puts, gets and takes values; take is atomic under 200 parallel takes', async () => {
      const challenge: StateKey = { entity: 'challenge', id: '1' };
      expect(await state.get(challenge)).toBeNull();
      await state.put(challenge, 'first', 10_000);
      await state.put(challenge, 'answer', 10_000);
      expect(await state.get(challenge)).toBe('answer');
      const taken = await Promise.all(Array.from({ length: 200 }, () => state.take(challenge)));
      expect(taken.filter((v) => v !== null)).toEqual(['answer']);
      expect(await state.get(challenge)).toBeNull();
      expect(await state.take(challenge)).toBeNull();

      // An id with braces of its own (a client's made-up session_id) is just an id.
      const odd: StateKey = { entity: 'session', id: '{s1}' };
      await state.put(odd, 'short-lived', 100);
      expect(await state.get(odd)).toBe('short-lived');
      await sleep(250);
      expect(await state.get(odd)).toBeNull();
      expect(await state.take(odd)).toBeNull();
    });

    it('increments a fixed-window counter: later increments do not extend the window', async () => {
      const rate = (id: string) => of('ip', id, 'rate');
      expect(await state.increment(rate('1'), 400)).toBe(1);
      expect(await state.increment(rate('1'), 400)).toBe(2);
      expect(await state.increment(rate('2'), 400)).toBe(1);
      await sleep(250);
      // A sliding window would now last until ~650 ms; the fixed one ends at ~400 ms.
      expect(await state.increment(rate('1'), 400)).toBe(3);
      await sleep(250);
      expect(await state.increment(rate('1'), 400)).toBe(1);
      const parallel = await Promise.all(Array.from({ length: 100 }, () => state.increment(rate('3'), 10_000)));
      expect(new Set(parallel).size).toBe(100);
      expect(Math.max(...parallel)).toBe(100);
    });

    it('reads a counter back with get, without counting (the slider try limits check it at start)', async () => {
      const tries: StateKey = { entity: 'network', id: '192.0.2.0/24', facet: 'slider_answers' };
      expect(await state.get(tries)).toBeNull();
      await state.increment(tries, 10_000);
      await state.increment(tries, 10_000);
      expect(Number(await state.get(tries))).toBe(2);
      expect(Number(await state.get(tries))).toBe(2);
    });

    it('keeps apart keys that differ in one part: app, entity, id or facet (issue 14)', async () => {
      const windowsMs = [HOUR];
      // Counted i + 1 times each: any two that shared an entry would read more.
      const counters: StateKey[] = [
        of('device', 'd1', 'login'),
        { ...of('device', 'd1', 'login'), app: 'other' },
        { entity: 'device', id: 'd1', facet: 'login' },
        of('account', 'd1', 'login'),
        of('device', 'd2', 'login'),
        of('device', 'd1', 'register'),
        of('device', 'd1', 'passed'),
        of('device', 'd1', 'failed'),
        of('network', 'd1', 'enrolled'),
        of('network', 'd1', 'puzzles'),
        of('device', 'd1', 'requests'),
        of('device', 'd1'),
      ];
      for (const [i, key] of counters.entries()) {
        for (let n = 0; n <= i; n++) await state.observe(batch({ at: T, counters: [{ ...key, windowsMs }] }));
      }
      const read = await state.observe(batch({ at: T, counters: counters.map((key) => ({ ...key, windowsMs, record: false })) }));
      expect(read.counters).toEqual(counters.map((_, i) => [i + 1]));

      // Sets: i + 1 members each.
      const sets: StateKey[] = [of('device', 'd1', 'mobiles'), of('device', 'd1', 'sms_mobiles'), of('ip', 'd1', 'mobiles'), of('ip', 'd1', 'sms_countries'), of('device', 'd1', 'accounts')];
      let sizes: number[] = [];
      for (const [i, key] of sets.entries()) {
        for (let n = 0; n <= i; n++) sizes = (await state.observe(batch({ at: T, distinct: [{ ...key, member: `m${n}`, windowsMs }] }))).distinct[0]!;
        expect(sizes).toEqual([i + 1]);
      }
      // Marks: each one new once.
      const marks: StateKey[] = [of('device', 'd1', 'seen'), of('template', 'd1', 'seen'), of('device', 'd1', 'enrolled'), { ...of('device', 'd1', 'seen'), app: 'other' }];
      const seen = (keys: StateKey[]) => state.observe(batch({ at: T, firstSeen: keys.map((key) => ({ ...key, ttlMs: DAY })) }));
      expect((await seen(marks)).firstSeen).toEqual(marks.map(() => true));
      expect((await seen(marks)).firstSeen).toEqual(marks.map(() => false));

      // Values, rate limits and claims: each its own.
      const values: StateKey[] = [
        { entity: 'session', id: 'x' },
        { entity: 'challenge', id: 'x' },
        { entity: 'challenge_token', id: 'x' },
        { entity: 'mobile', id: 'x', facet: 'sms_hour' },
        { entity: 'mobile', id: 'x', facet: 'sms_day' },
        { entity: 'ip', id: 'x', facet: 'sms_hour' },
        { entity: 'ip', id: 'x', facet: 'challenge_starts' },
        { entity: 'device', id: 'x', facet: 'slider_answers' },
        { entity: 'network', id: 'x', facet: 'slider_answers' },
        { entity: 'app', id: 'x', facet: 'sms_hour' },
        of('session', 'x'),
      ];
      for (const [i, key] of values.entries()) await state.put(key, `value ${i}`, 10_000);
      for (const [i, key] of values.entries()) expect(await state.get(key)).toBe(`value ${i}`);
      const claims: StateKey[] = [token('x'), sessionUsed('x'), { entity: 'puzzle', id: 'x', facet: 'used' }, { ...token('x'), app: 'app' }];
      for (const key of claims) expect(await state.claimOnce(key, 10_000)).toBe(true);
      for (const key of claims) expect(await state.claimOnce(key, 10_000)).toBe(false);
    });

    it('leaves no key without an expiry', async () => {
      const windowsMs = [5 * MINUTE, HOUR, DAY];
      const now = Date.now();
      for (let i = 0; i < 3; i++) {
        await state.observe(
          batch({
            at: now + i * 1000,
            counters: [
              { ...of('ip', '192.0.2.9', 'login'), windowsMs },
              { entity: 'app', id: 'app', facet: 'evaluations', windowsMs },
            ],
            distinct: [{ ...of('ip', '192.0.2.9', 'accounts'), member: `u${i}`, windowsMs }],
            firstSeen: [{ ...of('device', 'dev-9', 'seen'), ttlMs: 90 * DAY }],
          }),
        );
      }
      await state.claimOnce(token('ttl'), 60_000);
      await state.put({ entity: 'challenge', id: 'ttl' }, 'x', 60_000);
      await state.put({ entity: 'challenge', id: 'taken' }, 'x', 60_000);
      await state.take({ entity: 'challenge', id: 'taken' });
      await state.increment(of('ip', 'ttl', 'rate'), 60_000);
      await state.increment(of('ip', 'ttl', 'rate'), 60_000);

      const ttls = await harness.keyTtls();
      expect(ttls.size).toBeGreaterThanOrEqual(6);
      const withoutExpiry = [...ttls].filter(([, ttl]) => !(ttl > 0 && ttl <= 90 * DAY));
      expect(withoutExpiry).toEqual([]);
    });
  });
}
