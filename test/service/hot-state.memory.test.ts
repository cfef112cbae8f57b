import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileClaimJournal, type ClaimJournal } from '../../server/adapters/hot-state/claim-journal.js';
import type { LRUCache } from 'lru-cache';
import { HotStateFullError, type ObservationBatch, type StateKey } from '../../server/adapters/hot-state/hot-state.js';
import { keyName } from '../../server/adapters/hot-state/keys.js';
import { MemoryHotState, type MemorySpace } from '../../server/adapters/hot-state/memory.js';
import { describeHotState } from './hot-state.contract.js';

/** The store's bounded caches (private fields, read here for the TTL check only). */
type Bounded = { cache: LRUCache<string, {}> };
type Space = { counters: Bounded; sets: Bounded; seen: Bounded };

describeHotState('MemoryHotState', async () => {
  const state = new MemoryHotState();
  return {
    state,
    async keyTtls() {
      const ttls = new Map<string, number>();
      const fields = state as unknown as { values: Map<string, Bounded>; cache: Bounded; evaluation: Space; kept: Space; claims: Map<string, Map<string, number>> };
      const caches: [string, Bounded][] = [
        ...[...fields.values].map(([scope, b]) => [`values.${scope}`, b] as [string, Bounded]),
        ['cache', fields.cache],
        ...Object.entries(fields.evaluation).map(([name, b]) => [`evaluation.${name}`, b] as [string, Bounded]),
        ...Object.entries(fields.kept).map(([name, b]) => [`kept.${name}`, b] as [string, Bounded]),
      ];
      for (const [name, { cache }] of caches) for (const key of cache.keys()) ttls.set(`${name}:${key}`, cache.getRemainingTTL(key));
      for (const [scope, claims] of fields.claims) for (const [key, until] of claims) ttls.set(`claims:${scope}:${key}`, until - Date.now());
      return ttls;
    },
    dispose: () => state.close(),
  };
});

const MINUTE = 60_000;
const HOUR = 3_600_000;

/** One evaluation's worth of evaluation traffic for identifier `i`. */
const evaluation = (i: number, at: number): ObservationBatch => ({
  at,
  counters: [{ app: 'app', entity: 'ip', id: String(i), facet: 'login', windowsMs: [MINUTE, HOUR] }],
  distinct: [{ app: 'app', entity: 'ip', id: String(i), facet: 'accounts', member: `u${i}`, windowsMs: [HOUR] }],
  firstSeen: [{ app: 'app', entity: 'device', id: String(i), facet: 'seen', ttlMs: HOUR }],
});

/** A replay claim on a token (`shop:1`: its app and jti), a session's claim, and the values and rate limits of challenges. */
const token = (id: string): StateKey => ({ entity: 'token', id, facet: 'used' });
const sessionUsed = (id: string): StateKey => ({ entity: 'session', id, facet: 'used' });
const session = (id: string): StateKey => ({ entity: 'session', id });
const challenge = (id: string): StateKey => ({ entity: 'challenge', id });
const challengeToken = (id: string): StateKey => ({ entity: 'challenge_token', id });
const smsHour = (mobile: string): StateKey => ({ entity: 'mobile', id: mobile, facet: 'sms_hour' });
const starts = (ip: string): StateKey => ({ entity: 'ip', id: ip, facet: 'challenge_starts' });
const enrolled = (device: string): StateKey => ({ app: 'app', entity: 'device', id: device, facet: 'enrolled' });

function recorder(state: MemoryHotState): Map<string, number> {
  const events = new Map<string, number>();
  state.listener = (event: 'evicted' | 'full', space: MemorySpace) => events.set(`${event}:${space}`, (events.get(`${event}:${space}`) ?? 0) + 1);
  return events;
}

describe('MemoryHotState bounds (issue 13)', () => {
  it('never evicts a live claim, never answers "claimed" for want of room: a full scope throws, other scopes are untouched', async () => {
    let now = 1_000_000;
    const state = new MemoryHotState({ maxKeys: 1000, now: () => now });
    const events = recorder(state);
    for (let i = 0; i < 1000; i++) expect(await state.claimOnce(token(`shop:${i}`), 60_000, 'jti:shop')).toBe(true);
    // Flooding other keys cannot push the old claims out.
    for (let i = 0; i < 5000; i++) await state.put(challengeToken(`flood:${i}`), 'x', 60_000, { evictable: true });
    for (let i = 0; i < 5000; i++) await state.observe(evaluation(i, now));
    expect(await state.claimOnce(token('shop:0'), 60_000, 'jti:shop')).toBe(false);
    expect(await state.claimOnce(token('shop:999'), 60_000, 'jti:shop')).toBe(false);
    await expect(state.claimOnce(token('shop:new'), 60_000, 'jti:shop')).rejects.toBeInstanceOf(HotStateFullError);
    expect(events.get('full:claims')).toBe(1);
    // Another app, and sessions, have their own room.
    expect(await state.claimOnce(token('other:1'), 60_000, 'jti:other')).toBe(true);
    expect(await state.claimOnce(sessionUsed('1'), 60_000, 'sessu:shop')).toBe(true);
    // Once claims pass their TTL (the token's maximum age), their room is reused.
    now += 60_001;
    expect(await state.claimOnce(token('shop:new'), 60_000, 'jti:shop')).toBe(true);
    expect(await state.claimOnce(token('shop:0'), 60_000, 'jti:shop')).toBe(true);
    // Half expired, half live: the expired ones make room, the live ones still refuse.
    now += 30_000;
    for (let i = 0; i < 998; i++) expect(await state.claimOnce(token(`shop:b${i}`), 60_000, 'jti:shop')).toBe(true);
    now += 30_001;
    expect(await state.claimOnce(token('shop:c'), 60_000, 'jti:shop')).toBe(true);
    expect(await state.claimOnce(token('shop:b0'), 60_000, 'jti:shop')).toBe(false);
  });

  it('evaluation traffic never evicts rate limits, sessions or kept observations; it evicts its own kind, counted', async () => {
    const state = new MemoryHotState({ maxKeys: 1000 });
    const events = recorder(state);
    for (let i = 0; i < 100; i++) expect(await state.increment(smsHour(String(i)), HOUR)).toBe(1);
    await state.put(session('s1'), 'session', HOUR);
    await state.put(challenge('c1'), 'challenge', HOUR);
    await state.observe({ at: Date.now(), keep: true, counters: [], distinct: [], firstSeen: [{ ...enrolled('d1'), ttlMs: HOUR }] });

    for (let i = 0; i < 3000; i++) {
      await state.observe(evaluation(i, Date.now()));
      await state.put(challengeToken(String(i)), 'origin', HOUR, { evictable: true });
    }
    expect(events.get('evicted:evaluation')).toBeGreaterThan(0);
    expect(events.get('evicted:kept')).toBeUndefined();
    // The evaluation space kept its newest entries and dropped the oldest.
    expect(await state.get(challengeToken('2999'))).toBe('origin');
    expect(await state.get(challengeToken('0'))).toBeNull();

    for (let i = 0; i < 100; i++) expect(await state.increment(smsHour(String(i)), HOUR)).toBe(2);
    expect(await state.get(session('s1'))).toBe('session');
    expect(await state.take(challenge('c1'))).toBe('challenge');
    const mark = await state.observe({ at: Date.now(), keep: true, counters: [], distinct: [], firstSeen: [{ ...enrolled('d1'), ttlMs: HOUR }] });
    expect(mark.firstSeen).toEqual([false]);
  });

  it('a full kept space fails closed (HotStateFullError) instead of evicting, and frees room as entries expire', async () => {
    let now = 1_000_000;
    const state = new MemoryHotState({ maxKeys: 1000, maxKeptKeys: 10, now: () => now });
    const events = recorder(state);
    for (let i = 0; i < 10; i++) await state.increment(smsHour(String(i)), MINUTE);
    await expect(state.increment(smsHour('new'), MINUTE)).rejects.toBeInstanceOf(HotStateFullError);
    await expect(state.put(session('new'), 'x', MINUTE)).rejects.toBeInstanceOf(HotStateFullError);
    // Existing entries still count; nothing was pushed out.
    for (let i = 0; i < 10; i++) expect(await state.increment(smsHour(String(i)), MINUTE)).toBe(2);
    // Kept observations: all or nothing.
    for (let i = 0; i < 10; i++) await state.observe({ at: now, keep: true, counters: [], distinct: [], firstSeen: [{ ...enrolled(String(i)), ttlMs: MINUTE }] });
    const two = { at: now, keep: true, counters: [], distinct: [], firstSeen: [{ ...enrolled('0'), ttlMs: MINUTE }, { ...enrolled('new'), ttlMs: MINUTE }] };
    await expect(state.observe(two)).rejects.toBeInstanceOf(HotStateFullError);
    expect(events.get('full:kept')).toBe(3);
    // Evaluation traffic does not need kept room.
    expect((await state.observe(evaluation(1, now))).firstSeen).toEqual([true]);
    // Each scope of kept values has its own room: a flood of one kind does not block another.
    for (let i = 0; i < 10; i++) await state.increment(starts(String(i)), MINUTE, 'rl:start');
    await expect(state.increment(starts('new'), MINUTE, 'rl:start')).rejects.toBeInstanceOf(HotStateFullError);
    await state.put(session('s1'), 'session', MINUTE, { scope: 'sess' });
    expect(await state.get(session('s1'))).toBe('session');
    expect(await state.take(session('s1'))).toBe('session');
    expect(await state.get(session('s1'))).toBeNull();
    expect(events.get('full:kept')).toBe(4);
    now += MINUTE + 1;
    // lru-cache caches the clock until its next timer tick.
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await state.increment(smsHour('new'), MINUTE)).toBe(1);
    expect((await state.observe(two)).firstSeen).toEqual([true, true]);
  });

  it('a busy key keeps counting as long as it is busy: each write renews its TTL (a counter no longer resets a day after its first event)', async () => {
    let now = 1_000_000;
    const state = new MemoryHotState({ maxKeys: 1000, now: () => now });
    const DAY = 24 * HOUR;
    let last: { counters: number[][]; distinct: number[][] } | undefined;
    for (let hour = 0; hour < 30; hour++) {
      last = await state.observe({ at: now, counters: [{ app: 'app', entity: 'ip', id: 'ip', facet: 'login', windowsMs: [HOUR, DAY] }], distinct: [{ app: 'app', entity: 'ip', id: 'ip', facet: 'accounts', member: `u${hour % 3}`, windowsMs: [DAY] }], firstSeen: [] });
      now += HOUR;
      // lru-cache caches the clock until its next timer tick.
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    // 30 hourly events: the day window holds the last 24 (give or take its twelfth-of-a-day buckets), the hour window one.
    expect(last!.counters[0]![1]).toBeGreaterThanOrEqual(24);
    expect(last!.counters[0]![1]).toBeLessThanOrEqual(26);
    expect(last!.counters[0]![0]).toBe(1);
    expect(last!.distinct[0]).toEqual([3]);
  });

  it('counts a late event (re-scoring by event time) in its own bucket, and drops buckets no window can reach', async () => {
    const state = new MemoryHotState({ maxKeys: 1000 });
    const at = 100 * HOUR;
    const observe = (when: number, record = true) => state.observe({ at: when, counters: [{ app: 'app', entity: 'ip', id: 'x', facet: 'login', windowsMs: [HOUR], record }], distinct: [], firstSeen: [] });
    await observe(at);
    await observe(at + 30 * MINUTE);
    // The hour ending at the late event holds only itself; the hour ending at the last event, all three.
    expect((await observe(at - 10 * MINUTE)).counters[0]).toEqual([1]);
    expect((await observe(at + 30 * MINUTE, false)).counters[0]).toEqual([3]);
    expect((await observe(at + 10 * HOUR, false)).counters[0]).toEqual([0]);
    expect((await observe(at + 10 * HOUR)).counters[0]).toEqual([1]);
    expect((await observe(at + 30 * MINUTE, false)).counters[0]).toEqual([0]);
  });

  it('bounds the distinct sets by their members in all: big sets push out the least recent ones (counted), a kept space refuses', async () => {
    const state = new MemoryHotState({ maxKeys: 1000, maxMembersPerSet: 100, maxMembersPerSpace: 500 });
    const events = recorder(state);
    const fields = state as unknown as { evaluation: Space; kept: Space };
    /** A set of accounts seen from one address, and its name in the store. */
    const accounts = (ip: string): StateKey => ({ app: 'app', entity: 'ip', id: ip, facet: 'accounts' });
    const stored = (ip: string) => keyName(accounts(ip), '', '');
    for (let set = 0; set < 20; set++) {
      for (let member = 0; member < 100; member++) {
        const result = await state.observe({ at: Date.now(), counters: [], distinct: [{ ...accounts(String(set)), member: `m${member}`, windowsMs: [HOUR] }], firstSeen: [] });
        expect(result.distinct[0]).toEqual([member + 1]);
      }
    }
    const sets = fields.evaluation.sets.cache;
    expect(sets.calculatedSize).toBeLessThanOrEqual(500);
    expect(sets.has(stored('19'))).toBe(true);
    expect(sets.has(stored('0'))).toBe(false);
    expect(events.get('evicted:evaluation')).toBeGreaterThanOrEqual(15);
    // Kept sets (security checks) are never pushed out: the space refuses once its members are spent.
    const keep = (member: string) => state.observe({ at: Date.now(), keep: true, counters: [], distinct: [{ ...accounts('kept'), member, windowsMs: [HOUR] }], firstSeen: [] });
    for (let member = 0; member < 100; member++) await keep(`m${member}`);
    for (let set = 0; set < 3; set++) for (let member = 0; member < 100; member++) await state.observe({ at: Date.now(), keep: true, counters: [], distinct: [{ ...accounts(`k${set}`), member: `m${member}`, windowsMs: [HOUR] }], firstSeen: [] });
    expect(fields.kept.sets.cache.calculatedSize).toBe(404);
    for (let member = 0; member < 95; member++) await state.observe({ at: Date.now(), keep: true, counters: [], distinct: [{ ...accounts('k3'), member: `m${member}`, windowsMs: [HOUR] }], firstSeen: [] });
    expect(fields.kept.sets.cache.calculatedSize).toBe(500);
    await expect(keep('one-more-set-member')).resolves.toBeDefined(); // a full set drops its oldest member: no new unit
    await expect(state.observe({ at: Date.now(), keep: true, counters: [], distinct: [{ ...accounts('k3'), member: 'new', windowsMs: [HOUR] }], firstSeen: [] })).rejects.toBeInstanceOf(HotStateFullError);
    expect(fields.kept.sets.cache.has(stored('kept'))).toBe(true);
  });

  it('keeps the claims journalled before keys were structured: their names are the same (issue 14)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'riskgate-claims-'));
    try {
      const now = 1_000_000;
      const file = join(dir, 'claims');
      // What the version before wrote: the key strings its callers built.
      const before = new FileClaimJournal(file);
      for (const [scope, key] of [
        ['jti:shop', 'jti:shop:t1'],
        ['sessu:shop', 'sessu:s1'],
        ['enr:shop', 'enr:used:n1'],
      ] as const) {
        before.record({ scope, key, expiresAt: now + HOUR }, now);
      }
      before.close();
      const state = new MemoryHotState({ now: () => now + MINUTE, journal: new FileClaimJournal(file) });
      expect(await state.claimOnce(token('shop:t1'), HOUR, 'jti:shop')).toBe(false);
      expect(await state.claimOnce(sessionUsed('s1'), HOUR, 'sessu:shop')).toBe(false);
      expect(await state.claimOnce({ entity: 'puzzle', id: 'n1', facet: 'used' }, HOUR, 'enr:shop')).toBe(false);
      expect(await state.claimOnce(token('shop:t2'), HOUR, 'jti:shop')).toBe(true);
      await state.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('claims written to a journal hold after a restart until they expire; a journal that cannot write fails the claim loudly (issue 13, item 9)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'riskgate-claims-'));
    try {
      let now = 1_000_000;
      const file = join(dir, 'claims');
      const before = new MemoryHotState({ now: () => now, journal: new FileClaimJournal(file) });
      expect(await before.claimOnce(token('a'), MINUTE, 'jti:shop')).toBe(true);
      expect(await before.claimOnce(token('b'), HOUR, 'jti:shop')).toBe(true);
      expect(await before.claimOnce(sessionUsed('s'), HOUR, 'sessu:shop')).toBe(true);
      // No close: the process dies here. A new store on the same journal still knows the claims.
      now += 30_000;
      const after = new MemoryHotState({ now: () => now, journal: new FileClaimJournal(file) });
      expect(await after.claimOnce(token('a'), MINUTE, 'jti:shop')).toBe(false);
      expect(await after.claimOnce(sessionUsed('s'), HOUR, 'sessu:shop')).toBe(false);
      expect(await after.claimOnce(token('c'), MINUTE, 'jti:shop')).toBe(true);
      // Past its TTL a claim is gone after a restart, as it would be without one.
      now += MINUTE;
      const later = new MemoryHotState({ now: () => now, journal: new FileClaimJournal(file) });
      expect(await later.claimOnce(token('a'), MINUTE, 'jti:shop')).toBe(true);
      expect(await later.claimOnce(token('b'), HOUR, 'jti:shop')).toBe(false);
      await Promise.all([before.close(), after.close(), later.close()]);

      // Segments roll over and go once all their claims have expired; a line torn by a crash is skipped.
      const rolling = join(dir, 'rolling');
      const journal = new FileClaimJournal(rolling, { segmentMs: 1000 });
      for (let i = 0; i < 5; i++) journal.record({ scope: 's', key: `k${i}`, expiresAt: now + 1000 * i + 1500 }, now + 1000 * i);
      expect(readdirSync(rolling)).toHaveLength(2);
      journal.close();
      appendFileSync(join(rolling, readdirSync(rolling).sort().at(-1)!), '[99999999999999,"s","torn');
      const reopened = new FileClaimJournal(rolling, { segmentMs: 1000 });
      expect(reopened.live(now + 4000).map((c) => c.key)).toEqual(['k3', 'k4']);
      expect(readdirSync(rolling)).toHaveLength(2);
      reopened.close();

      const broken: ClaimJournal = { live: () => [], record: () => { throw new Error('disk full'); }, close() {} };
      const state = new MemoryHotState({ journal: broken });
      await expect(state.claimOnce(token('x'), MINUTE, 'jti:shop')).rejects.toThrow('disk full');
      // The claim still holds in this process.
      expect(await state.claimOnce(token('x'), MINUTE, 'jti:shop')).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
