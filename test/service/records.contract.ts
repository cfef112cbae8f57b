/**
 * The behaviour every Records implementation must show, as one suite that each
 * implementation's test file runs against its own store (records.test.ts for
 * SQLite, records.postgres.test.ts for PostgreSQL).
 */
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { newRecordId } from '../../server/adapters/records/record-id.js';
import { MIGRATIONS } from '../../server/adapters/records/migrations.js';
import type { NewListEntry, Records } from '../../server/adapters/records/records.js';
import type { DecisionRecord } from '../../shared/schemas.js';

/** The child of both stores' kill -9 tests: adds one list entry, prints its id, waits to be killed. */
export const KILL_CHILD = fileURLToPath(new URL('../fixtures/records-kill-child.ts', import.meta.url));

export interface RecordsUnderTest extends Records {
  readonly queuedDecisions: number;
  readonly droppedDecisions: number;
}

export interface DecisionQueueOptions {
  flushIntervalMs?: number;
  batchSize?: number;
  maxQueuedDecisions?: number;
  onError?: (error: unknown) => void;
}

export interface AuditRow {
  app_id: string;
  actor: string;
  action: string;
  target: string;
  detail: string;
}

/** A list entry as stored, for bulk loading. */
export interface RawListEntry {
  id: string;
  app_id: string;
  list: 'black' | 'white';
  dimension: string;
  value_key: string;
  display_value: string;
  created_at: number;
}

export interface RecordsHarness {
  /** Before each test: a fresh, empty place for the store (a directory, a schema). */
  setup(): Promise<void>;
  /** After each test, once every store opened in it is closed. */
  teardown(): Promise<void>;
  /** Opens a store on the current place (several may be open on it at once). */
  open(options?: DecisionQueueOptions): Promise<RecordsUnderTest>;
  appliedMigrations(): Promise<number[]>;
  /** Audit rows, oldest first. */
  auditRows(): Promise<AuditRow[]>;
  countDecisions(): Promise<number>;
  insertEntries(rows: readonly RawListEntry[]): Promise<void>;
  /** Most µs per matchLists call allowed with 10k entries. */
  matchBudgetUs: number;
  /** Timed matchLists calls (default 20,000; after a tenth as many to warm up). */
  matchRuns?: number;
}

export interface RecordsSuiteOptions {
  skip?: boolean;
}

export function describeRecords(name: string, harness: RecordsHarness, options: RecordsSuiteOptions = {}): void {
  describe.skipIf(options.skip ?? false)(`Records contract: ${name}`, () => {
    const open: RecordsUnderTest[] = [];
    const openStore = async (opts?: DecisionQueueOptions) => {
      const store = await harness.open(opts);
      open.push(store);
      return store;
    };
    const entry = (over: Partial<NewListEntry> = {}): NewListEntry => ({
      appId: 'app1',
      list: 'black',
      dimension: 'device',
      valueKey: 'dev-1',
      displayValue: 'dev-1',
      reason: 'fraud ring',
      createdBy: 'ops@app1',
      expiresAt: null,
      ...over,
    });

    beforeEach(async () => {
      await harness.setup();
    });
    afterEach(async () => {
      for (const store of open.splice(0)) await store.close();
      await harness.teardown();
    });

    it('applies migrations once and is idempotent on reopen', async () => {
      const first = await openStore();
      const added = await first.addListEntry(entry());
      await first.close();
      const second = await openStore();
      expect(await second.ping()).toBe(true);
      expect(await second.findListEntries({ appId: 'app1', limit: 10 })).toEqual([added]);
      expect(await harness.appliedMigrations()).toEqual(MIGRATIONS.map((m) => m.id));
    });

    it('adds, finds and deletes list entries, with audit rows', async () => {
      const store = await openStore();
      const a = await store.addListEntry(entry());
      const b = await store.addListEntry(entry({ list: 'white', dimension: 'mobile', valueKey: 'm:abc', displayValue: '138****8000', reason: null }));
      await store.addListEntry(entry({ appId: 'app2' }));
      expect(a).toMatchObject({ list: 'black', dimension: 'device', value: 'dev-1', reason: 'fraud ring', created_by: 'ops@app1', expires_at: null });
      expect(new Date(a.created_at).toISOString()).toBe(a.created_at);

      expect((await store.findListEntries({ appId: 'app1', limit: 10 })).map((e) => e.id)).toEqual([b.id, a.id]);
      expect(await store.findListEntries({ appId: 'app1', limit: 1 })).toHaveLength(1);
      expect(await store.findListEntries({ appId: 'app1', list: 'white', limit: 10 })).toEqual([b]);
      expect(await store.findListEntries({ appId: 'app1', dimension: 'device', valueKey: 'dev-1', limit: 10 })).toEqual([a]);
      expect(await store.findListEntries({ appId: 'app1', valueKey: 'nope', limit: 10 })).toEqual([]);

      expect(await store.deleteListEntry('app2', a.id, 'ops@app2')).toBe(false);
      expect(await store.deleteListEntry('app1', a.id, 'ops@app1')).toBe(true);
      expect(await store.deleteListEntry('app1', a.id, 'ops@app1')).toBe(false);
      expect(await store.findListEntries({ appId: 'app1', limit: 10 })).toEqual([b]);

      const audit = await harness.auditRows();
      expect(audit.map((r) => r.action)).toEqual(['list.add', 'list.add', 'list.add', 'list.delete']);
      expect(audit[3]).toMatchObject({ app_id: 'app1', actor: 'ops@app1', target: a.id });
      expect(JSON.parse(audit[1]!.detail)).toMatchObject({ list: 'white', dimension: 'mobile', value: '138****8000' });
      expect(JSON.parse(audit[3]!.detail)).toEqual({ list: 'black', dimension: 'device', value: 'dev-1' });
    });

    it('matches live entries only, per app and per list', async () => {
      const store = await openStore();
      const now = Date.now();
      await store.addListEntry(entry({ dimension: 'ip', valueKey: '192.0.2.1' }));
      await store.addListEntry(entry({ list: 'white', dimension: 'account', valueKey: 'vip' }));
      await store.addListEntry(entry({ dimension: 'device', valueKey: 'old', expiresAt: now - 1 }));
      await store.addListEntry(entry({ dimension: 'device', valueKey: 'soon', expiresAt: now + 60_000 }));
      const gone = await store.addListEntry(entry({ dimension: 'mobile', valueKey: 'm:x' }));
      await store.deleteListEntry('app1', gone.id, 'ops');
      await store.addListEntry(entry({ appId: 'app2', dimension: 'email', valueKey: 'e:y' }));

      const lookups = [
        { dimension: 'ip', valueKey: '192.0.2.1' },
        { dimension: 'account', valueKey: 'vip' },
        { dimension: 'device', valueKey: 'old' },
        { dimension: 'mobile', valueKey: 'm:x' },
        { dimension: 'email', valueKey: 'e:y' },
      ] as const;
      expect(await store.matchLists('app1', lookups, now)).toEqual({ black: ['ip'], white: ['account'] });
      expect(await store.matchLists('app1', [{ dimension: 'device', valueKey: 'soon' }], now)).toEqual({ black: ['device'], white: [] });
      expect(await store.matchLists('app1', [{ dimension: 'device', valueKey: 'soon' }], now + 60_000)).toEqual({ black: [], white: [] });
      expect(await store.matchLists('app2', lookups, now)).toEqual({ black: ['email'], white: [] });
      // The value alone does not match: the dimension must agree too.
      expect(await store.matchLists('app1', [{ dimension: 'device', valueKey: '192.0.2.1' }], now)).toEqual({ black: [], white: [] });
      expect(await store.matchLists('app1', [], now)).toEqual({ black: [], white: [] });
      // Expired and deleted entries are not listed either.
      expect((await store.findListEntries({ appId: 'app1', limit: 10 })).map((e) => e.value).sort()).toEqual(['dev-1', 'dev-1', 'dev-1']);
      expect(await store.findListEntries({ appId: 'app1', valueKey: 'old', limit: 10 })).toEqual([]);
    });

    it('matches more lookups than one query holds', async () => {
      const store = await openStore();
      await store.addListEntry(entry({ dimension: 'ip', valueKey: 'ip-11' }));
      const lookups = Array.from({ length: 12 }, (_, i) => ({ dimension: 'ip' as const, valueKey: `ip-${i}` }));
      expect(await store.matchLists('app1', lookups, Date.now())).toEqual({ black: ['ip'], white: [] });
    });

    it('matchLists is fast with 10k entries', async () => {
      const bench = await openStore();
      const dims = ['ip', 'device', 'account', 'mobile', 'email'] as const;
      const rows: RawListEntry[] = [];
      for (let i = 0; i < 10_000; i++) {
        const dim = dims[i % dims.length]!;
        rows.push({
          id: newRecordId(),
          app_id: `app${i % 4}`,
          list: i % 10 === 0 ? 'white' : 'black',
          dimension: dim,
          value_key: `${dim}-${i}`,
          display_value: `${dim}-${i}`,
          created_at: Date.now(),
        });
      }
      await harness.insertEntries(rows);
      const now = Date.now();
      const lookups = dims.map((d, i) => ({ dimension: d, valueKey: `${d}-${i * 401}` }));
      // i * 401 for i = 0…4: entries 0, 401, 802, 1203, 1604, of apps 0, 1, 2, 3, 0 by i % 4.
      expect(await bench.matchLists('app0', lookups, now)).toEqual({ black: ['email'], white: ['ip'] });
      const runs = harness.matchRuns ?? 20_000;
      for (let i = 0; i < runs / 10; i++) await bench.matchLists('app0', lookups, now);
      const start = process.hrtime.bigint();
      for (let i = 0; i < runs; i++) await bench.matchLists('app0', lookups, now);
      const usPerOp = Number(process.hrtime.bigint() - start) / 1e3 / runs;
      console.log(`${name} matchLists: ${usPerOp.toFixed(1)} µs/op (10k entries, 5 lookups, one call at a time)`);
      expect(usPerOp).toBeLessThan(harness.matchBudgetUs);
    });

    describe('decision log', () => {
      const decision = (sequenceId: string, appId = 'app1'): DecisionRecord => ({
        sequence_id: sequenceId,
        app_id: appId,
        event: 'login',
        event_time: '2025-01-01T00:00:00.000Z',
        created_at: '2025-01-01T00:00:00.100Z',
        score: 42,
        level: 2,
        decision: 'accept',
        challenge: 'slider',
        reasons: [{ id: 'R1', reason: 'because' }],
        tags: ['new_device'],
        device_id: 'dev-1',
        degraded: false,
        rules_version: 'v1',
        rules_hit: [{ id: 'r1', state: 'online', score: 42 }],
        request: { event: 'login', mobile: '138****8000' },
        features: { ip_5m: 1 },
        latency_ms: 3.5,
      });

      it('serves queued decisions before the flush and persists them on close', async () => {
        const store = await openStore({ flushIntervalMs: 60_000 });
        store.logDecision(decision('s1'));
        store.logDecision(decision('s2', 'app2'));
        expect(await store.getDecision('app1', 's1')).toEqual(decision('s1'));
        expect(await store.getDecision('app1', 's2')).toBeNull();
        expect(await harness.countDecisions()).toBe(0);
        await store.close();
        expect(await harness.countDecisions()).toBe(2);

        const reopened = await openStore();
        expect(await reopened.getDecision('app1', 's1')).toEqual(decision('s1'));
        expect(await reopened.getDecision('app2', 's2')).toEqual(decision('s2', 'app2'));
        expect(await reopened.getDecision('app2', 's1')).toBeNull();
        expect(await reopened.getDecision('app1', 'missing')).toBeNull();
      });

      it('writes a full batch off the request path, and on the timer', async () => {
        const store = await openStore({ flushIntervalMs: 60_000, batchSize: 3 });
        for (const id of ['a', 'b', 'c', 'd']) store.logDecision(decision(id));
        // Nothing is written while logging: all four wait in the queue.
        expect(store.queuedDecisions).toBe(4);
        // A full batch starts the writer at once, long before the 60 s timer.
        await vi.waitFor(async () => expect(await harness.countDecisions()).toBe(4), { timeout: 2000, interval: 5 });
        // The rows are visible before the writer's acknowledgement arrives.
        await vi.waitFor(() => expect(store.queuedDecisions).toBe(0), { timeout: 2000, interval: 5 });

        const timed = await openStore({ flushIntervalMs: 20 });
        timed.logDecision(decision('t1'));
        await vi.waitFor(async () => expect(await harness.countDecisions()).toBe(5), { timeout: 2000, interval: 10 });
      });

      it('drops a record that cannot be serialised on its own, never its batch', async () => {
        const errors: unknown[] = [];
        const store = await openStore({ flushIntervalMs: 60_000, onError: (e) => errors.push(e) });
        store.logDecision(decision('ok1'));
        // BigInt has no JSON form: JSON.stringify throws.
        store.logDecision({ ...decision('bad'), features: { n: 1n } });
        store.logDecision(decision('ok2'));
        expect(store.droppedDecisions).toBe(1);
        expect(errors).toHaveLength(1);
        expect(await store.getDecision('app1', 'bad')).toBeNull();
        await store.close();
        expect(await harness.countDecisions()).toBe(2);
      });

      it('drops the oldest decisions when the queue is full', async () => {
        const store = await openStore({ flushIntervalMs: 60_000, maxQueuedDecisions: 3 });
        for (const id of ['1', '2', '3', '4', '5']) store.logDecision(decision(id));
        expect(store.droppedDecisions).toBe(2);
        expect(store.queuedDecisions).toBe(3);
        expect(await store.getDecision('app1', '1')).toBeNull();
        expect(await store.getDecision('app1', '5')).not.toBeNull();
        await store.close();
        expect(await harness.countDecisions()).toBe(3);
        // After close, a decision is dropped and counted, not queued forever.
        store.logDecision(decision('late'));
        expect(store.droppedDecisions).toBe(3);
      });
    });
  });
}
