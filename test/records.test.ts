import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IdentifierKeys, maskIdentifier, maskRequest, newRecordId } from '../server/records/identifiers.js';
import { MIGRATIONS } from '../server/records/migrations.js';
import type { NewListEntry } from '../server/records/records.js';
import { SqliteRecords } from '../server/records/sqlite.js';
import type { DecisionRecord } from '../shared/schemas.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHILD = fileURLToPath(new URL('./fixtures/records-kill-child.ts', import.meta.url));

describe('IdentifierKeys', () => {
  const keys = new IdentifierKeys(randomBytes(32));

  it('rejects a short secret', () => {
    expect(() => new IdentifierKeys(randomBytes(16))).toThrow(/32 bytes/);
  });

  it('normalises mobile spellings to one value', () => {
    const spellings = ['+86 138-0013-8000', '0086-13800138000', '8613800138000', '13800138000', ' 138 0013 8000 '];
    for (const s of spellings) expect(keys.normalize('mobile', s)).toBe('8613800138000');
    expect(new Set(spellings.map((s) => keys.key('mobile', s))).size).toBe(1);
    expect(keys.normalize('mobile', '+1 (415) 555-0100')).toBe('14155550100');
  });

  it('normalises email, ip, device and account', () => {
    expect(keys.normalize('email', '  Alice@Example.COM ')).toBe('alice@example.com');
    expect(keys.normalize('ip', ' ::ffff:192.0.2.1 ')).toBe('192.0.2.1');
    expect(keys.normalize('ip', '2001:0DB8:0000:0000:0000:0000:0000:0001')).toBe('2001:db8::1');
    expect(keys.normalize('ip', '192.0.2.1')).toBe('192.0.2.1');
    expect(keys.normalize('ip', 'not-an-ip')).toBe('not-an-ip');
    expect(keys.normalize('device', ' Dev-1 ')).toBe('Dev-1');
    expect(keys.normalize('account', ' User42 ')).toBe('User42');
  });

  it('keys mobile and email by a short keyed hash, others by the value', () => {
    const m = keys.key('mobile', '13800138000');
    const e = keys.key('email', 'Alice@example.com');
    expect(m).toMatch(/^m:[A-Za-z0-9_-]{22}$/);
    expect(e).toMatch(/^e:[A-Za-z0-9_-]{22}$/);
    expect(m).not.toContain('13800138000');
    expect(e).not.toContain('alice');
    expect(e).toBe(keys.key('email', 'alice@EXAMPLE.com'));
    // Another secret gives other keys: the hash is keyed, not a plain digest.
    expect(new IdentifierKeys(randomBytes(32)).key('mobile', '13800138000')).not.toBe(m);
    expect(keys.key('ip', '::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(keys.key('account', ' u1 ')).toBe('u1');
  });

  it('masks without ever showing a full mobile or email', () => {
    expect(keys.mask('mobile', '+86 138-0013-8000')).toBe('138****8000');
    expect(keys.mask('email', 'Alice@Example.com')).toBe('a***@example.com');
    expect(keys.mask('email', 'a@example.com')).toBe('***@example.com');
    for (const mobile of ['13800138000', '+14155550100', '12345', '1234']) {
      const digits = mobile.replace(/\D/g, '');
      expect(keys.mask('mobile', mobile)).not.toContain(digits);
      expect(keys.mask('mobile', mobile)).toContain('*');
    }
    expect(maskIdentifier('device', 'dev-1')).toBe('dev-1');
  });

  it('masks an evaluate request for storage', () => {
    const token = 'x'.repeat(1234);
    const req = {
      event: 'register' as const,
      account_id: 'u1',
      mobile: '13800138000',
      email: 'alice@example.com',
      nickname: '张三丰',
      black_box: token,
      ip: '192.0.2.1',
      ext: { a: 1 },
      event_detail: { coupon: 'c1' },
    };
    const masked = maskRequest(req);
    expect(masked).toEqual({
      event: 'register',
      account_id: 'u1',
      mobile: '138****8000',
      email: 'a***@example.com',
      nickname: '张***',
      black_box: '<token 1234 chars>',
      ip: '192.0.2.1',
      ext: { a: 1 },
      event_detail: { coupon: 'c1' },
    });
    expect(req.mobile).toBe('13800138000');
    expect(JSON.stringify(masked)).not.toMatch(/13800138000|alice@|张三丰/);
  });

  it('makes sortable unique record ids', () => {
    const a = newRecordId(1_000);
    const b = newRecordId(2_000);
    expect(a).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(a < b).toBe(true);
    expect(newRecordId(1_000)).not.toBe(a);
    const burst = Array.from({ length: 100 }, () => newRecordId(3_000));
    expect([...burst].sort()).toEqual(burst);
    expect(new Set(burst).size).toBe(100);
  });
});

describe('SqliteRecords', () => {
  let dir: string;
  let file: string;
  const open: SqliteRecords[] = [];
  const openStore = (opts?: Parameters<typeof SqliteRecords.open>[1]) => {
    const store = SqliteRecords.open(file, opts);
    open.push(store);
    return store;
  };
  const raw = () => {
    const db = new Database(file, { readonly: true });
    return db;
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

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'riskgate-records-'));
    file = join(dir, 'data', 'riskgate.db');
  });
  afterEach(async () => {
    for (const store of open.splice(0)) await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('applies migrations once and is idempotent on reopen', async () => {
    const first = openStore();
    const added = await first.addListEntry(entry());
    await first.close();
    const second = openStore();
    expect(await second.ping()).toBe(true);
    expect(await second.findListEntries({ appId: 'app1', limit: 10 })).toEqual([added]);
    const db = raw();
    const applied = db.prepare('SELECT id FROM schema_migrations ORDER BY id').all();
    expect(applied).toEqual(MIGRATIONS.map((m) => ({ id: m.id })));
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('adds, finds and deletes list entries, with audit rows', async () => {
    const store = openStore();
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

    const db = raw();
    const audit = db.prepare('SELECT app_id, actor, action, target, detail FROM audit_log ORDER BY id').all() as {
      action: string;
      detail: string;
    }[];
    db.close();
    expect(audit.map((r) => r.action)).toEqual(['list.add', 'list.add', 'list.add', 'list.delete']);
    expect(audit[3]).toMatchObject({ app_id: 'app1', actor: 'ops@app1', target: a.id });
    expect(JSON.parse(audit[1]!.detail)).toMatchObject({ list: 'white', dimension: 'mobile', value: '138****8000' });
  });

  it('matches live entries only, per app and per list', async () => {
    const store = openStore();
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
    const store = openStore();
    await store.addListEntry(entry({ dimension: 'ip', valueKey: 'ip-11' }));
    const lookups = Array.from({ length: 12 }, (_, i) => ({ dimension: 'ip' as const, valueKey: `ip-${i}` }));
    expect(await store.matchLists('app1', lookups, Date.now())).toEqual({ black: ['ip'], white: [] });
  });

  it('matchLists is fast with 10k entries', async () => {
    const store = openStore();
    await store.close();
    const db = new Database(file);
    const insert = db.prepare(`INSERT INTO list_entries (id, app_id, list, dimension, value_key, display_value, reason, created_by, created_at, expires_at)
      VALUES (?, ?, ?, ?, ?, ?, NULL, 'bench', ?, NULL)`);
    const dims = ['ip', 'device', 'account', 'mobile', 'email'] as const;
    db.transaction(() => {
      for (let i = 0; i < 10_000; i++) {
        const dim = dims[i % dims.length]!;
        insert.run(newRecordId(), `app${i % 4}`, i % 10 === 0 ? 'white' : 'black', dim, `${dim}-${i}`, `${dim}-${i}`, Date.now());
      }
    })();
    db.close();
    const bench = openStore();
    const now = Date.now();
    const lookups = dims.map((d, i) => ({ dimension: d, valueKey: `${d}-${i * 401}` }));
    for (let i = 0; i < 2_000; i++) await bench.matchLists('app0', lookups, now);
    const runs = 20_000;
    const start = process.hrtime.bigint();
    for (let i = 0; i < runs; i++) await bench.matchLists('app0', lookups, now);
    const usPerOp = Number(process.hrtime.bigint() - start) / 1e3 / runs;
    console.log(`matchLists: ${usPerOp.toFixed(1)} µs/op (10k entries, 5 lookups)`);
    expect(usPerOp).toBeLessThan(500);
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
    const countRows = () => {
      const db = raw();
      const n = (db.prepare('SELECT COUNT(*) AS n FROM decisions').get() as { n: number }).n;
      db.close();
      return n;
    };

    it('serves queued decisions before the flush and persists them on close', async () => {
      const store = openStore({ flushIntervalMs: 60_000 });
      store.logDecision(decision('s1'));
      store.logDecision(decision('s2', 'app2'));
      expect(await store.getDecision('app1', 's1')).toEqual(decision('s1'));
      expect(await store.getDecision('app1', 's2')).toBeNull();
      expect(countRows()).toBe(0);
      await store.close();
      expect(countRows()).toBe(2);

      const reopened = openStore();
      expect(await reopened.getDecision('app1', 's1')).toEqual(decision('s1'));
      expect(await reopened.getDecision('app2', 's2')).toEqual(decision('s2', 'app2'));
      expect(await reopened.getDecision('app2', 's1')).toBeNull();
      expect(await reopened.getDecision('app1', 'missing')).toBeNull();
    });

    it('writes a full batch off the request path, and on the timer', async () => {
      const store = openStore({ flushIntervalMs: 60_000, batchSize: 3 });
      for (const id of ['a', 'b', 'c', 'd']) store.logDecision(decision(id));
      expect(countRows()).toBe(0);
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      expect(countRows()).toBe(4);
      expect(store.queuedDecisions).toBe(0);

      const timed = openStore({ flushIntervalMs: 20 });
      timed.logDecision(decision('t1'));
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(countRows()).toBe(5);
    });

    it('drops the oldest decisions when the queue is full', async () => {
      const store = openStore({ flushIntervalMs: 60_000, maxQueuedDecisions: 3 });
      for (const id of ['1', '2', '3', '4', '5']) store.logDecision(decision(id));
      expect(store.droppedDecisions).toBe(2);
      expect(store.queuedDecisions).toBe(3);
      expect(await store.getDecision('app1', '1')).toBeNull();
      expect(await store.getDecision('app1', '5')).not.toBeNull();
      await store.close();
      expect(countRows()).toBe(3);
    });
  });

  it('keeps an acknowledged list entry across kill -9', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const id = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n')) resolve(out.trim());
      });
      child.on('exit', (code) => reject(new Error(`child exited (${code}) before printing: ${stderr}`)));
    });
    const exited = new Promise((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    const store = openStore();
    const found = await store.findListEntries({ appId: 'app1', valueKey: 'dev-killed', limit: 10 });
    expect(found.map((e) => e.id)).toEqual([id]);
    expect(await store.matchLists('app1', [{ dimension: 'device', valueKey: 'dev-killed' }], Date.now())).toEqual({
      black: ['device'],
      white: [],
    });
  });
});
