/**
 * Records in one SQLite file: the embedded default store.
 *
 * better-sqlite3 is synchronous, so every method does its work before its
 * promise resolves: an acknowledged list entry is already fsynced (WAL with
 * synchronous=FULL). Decisions are the exception by design: they go through
 * the write-behind DecisionQueue (decision-queue.ts) and are written in
 * batches by a worker thread with its own connection
 * (sqlite-decision-writer.ts), so neither the inserts nor the fsync of each
 * batch hold the event loop. Where the compiled worker is absent (tests run
 * the TypeScript sources) or for `:memory:`, batches are written inline.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { ListDimension, ListKind } from '../../../shared/constants.js';
import type { DecisionRecord, ListEntry } from '../../../shared/schemas.js';
import { DecisionQueue, type DecisionQueueOptions, type DecisionRow } from './decision-queue.js';
import { newRecordId } from './record-id.js';
import type { DecisionWriterMessage, DecisionWriterReply } from './sqlite-decision-writer.js';
import { MIGRATIONS, MIGRATIONS_TABLE_SQL, type Migration } from './migrations.js';
import { throttledWarning, type ListFilter, type ListLookup, type ListMatch, type NewListEntry, type Records, type RecordsLogger } from './records.js';

export interface SqliteRecordsOptions {
  /** The decision log's queue: flush interval, batch size (rows per transaction), bound. */
  flushIntervalMs?: DecisionQueueOptions['flushIntervalMs'];
  batchSize?: DecisionQueueOptions['batchSize'];
  maxQueuedDecisions?: DecisionQueueOptions['maxQueuedDecisions'];
  /** Called when a batch of decisions could not be written (they are dropped and counted). */
  onError?: (err: unknown) => void;
  /** Write decisions from a worker thread when the compiled worker exists. Default true. */
  writerThread?: boolean;
  /** Told when decisions could not be logged, or the writer thread stopped. */
  logger?: RecordsLogger;
}

interface ListRow {
  id: string;
  list: ListKind;
  dimension: ListDimension;
  display_value: string;
  reason: string | null;
  created_by: string;
  created_at: number;
  expires_at: number | null;
}

type DeletedRow = Pick<ListRow, 'list' | 'dimension' | 'display_value'>;

const LIVE = 'deleted_at IS NULL AND (expires_at IS NULL OR expires_at > @now)';

export class SqliteRecords implements Records {
  readonly #db: Database.Database;
  readonly #decisions: DecisionQueue;
  readonly #insertDecisions: (rows: readonly DecisionRow[]) => void;
  #writer: DecisionWriterThread | undefined;
  readonly #logger: RecordsLogger | undefined;
  readonly #warn: (message: string) => void;
  readonly #findStatements = new Map<string, Database.Statement>();
  #closed = false;

  readonly #insertEntry: Database.Statement;
  readonly #deleteEntry: Database.Statement<{ id: string; appId: string; now: number; deletedBy: string }, DeletedRow>;
  readonly #insertAudit: Database.Statement;
  /** List-matching statements by number of identifiers (see `matchLists`). */
  readonly #matchStatements: Database.Statement<unknown[], [ListKind, ListDimension]>[] = [];
  readonly #getDecision: Database.Statement<[string, string], { record: string }>;
  readonly #ping: Database.Statement;

  static open(file: string, opts: SqliteRecordsOptions = {}): SqliteRecords {
    const db = openDatabase(file);
    try {
      migrate(db, MIGRATIONS);
      return new SqliteRecords(db, file, opts);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  private constructor(db: Database.Database, file: string, opts: SqliteRecordsOptions) {
    this.#db = db;
    this.#insertDecisions = prepareDecisionInsert(db);
    const writerUrl = new URL('./sqlite-decision-writer.js', import.meta.url);
    if (opts.writerThread !== false && file !== ':memory:' && existsSync(fileURLToPath(writerUrl))) {
      this.#writer = new DecisionWriterThread(writerUrl, file);
    }
    this.#logger = opts.logger;
    this.#warn = throttledWarning(opts.logger);
    this.#decisions = new DecisionQueue((batch) => this.#writeDecisions(batch), {
      ...opts,
      onError: (error, dropped) => {
        this.#warn(`sqlite: ${dropped} decisions not logged (${(error as Error).message})`);
        opts.onError?.(error);
      },
    });
    this.#insertEntry = db.prepare(`
      INSERT INTO list_entries (id, app_id, list, dimension, value_key, display_value, reason, created_by, created_at, expires_at)
      VALUES (@id, @appId, @list, @dimension, @valueKey, @displayValue, @reason, @createdBy, @createdAt, @expiresAt)`);
    this.#deleteEntry = db.prepare(`
      UPDATE list_entries SET deleted_at = @now, deleted_by = @deletedBy
      WHERE id = @id AND app_id = @appId AND ${LIVE}
      RETURNING list, dimension, display_value`);
    this.#insertAudit = db.prepare(`
      INSERT INTO audit_log (id, app_id, at, actor, action, target, detail)
      VALUES (@id, @appId, @at, @actor, @action, @target, @detail)`);
    this.#getDecision = db.prepare('SELECT record FROM decisions WHERE sequence_id = ? AND app_id = ?');
    this.#ping = db.prepare('SELECT 1');
  }

  /** Decisions dropped because the queue was full or their batch failed to write. */
  get droppedDecisions(): number {
    return this.#decisions.dropped;
  }

  /** Decisions not written yet (queued or being written). */
  get queuedDecisions(): number {
    return this.#decisions.size;
  }

  /** Where decision batches are written: the writer thread, or this thread. */
  get decisionWriter(): 'thread' | 'inline' {
    return this.#writer && !this.#writer.failed ? 'thread' : 'inline';
  }

  async addListEntry(entry: NewListEntry): Promise<ListEntry> {
    const row: ListRow = {
      id: newRecordId(),
      list: entry.list,
      dimension: entry.dimension,
      display_value: entry.displayValue,
      reason: entry.reason,
      created_by: entry.createdBy,
      created_at: Date.now(),
      expires_at: entry.expiresAt,
    };
    this.#db.transaction(() => {
      this.#insertEntry.run({ ...entry, id: row.id, createdAt: row.created_at });
      this.#audit(entry.appId, entry.createdBy, 'list.add', row.id, row.created_at, {
        list: entry.list,
        dimension: entry.dimension,
        value: entry.displayValue,
        reason: entry.reason,
        expires_at: entry.expiresAt,
      });
    })();
    return toListEntry(row);
  }

  async findListEntries(filter: ListFilter): Promise<ListEntry[]> {
    const conditions = ['app_id = @appId', LIVE];
    if (filter.list !== undefined) conditions.push('list = @list');
    if (filter.dimension !== undefined) conditions.push('dimension = @dimension');
    if (filter.valueKey !== undefined) conditions.push('value_key = @valueKey');
    const sql = `
      SELECT id, list, dimension, display_value, reason, created_by, created_at, expires_at FROM list_entries
      WHERE ${conditions.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT @limit`;
    let statement = this.#findStatements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#findStatements.set(sql, statement);
    }
    const rows = statement.all({ ...filter, now: Date.now() }) as ListRow[];
    return rows.map(toListEntry);
  }

  async deleteListEntry(appId: string, id: string, deletedBy: string): Promise<boolean> {
    const now = Date.now();
    return this.#db.transaction(() => {
      const entry = this.#deleteEntry.get({ id, appId, now, deletedBy });
      if (entry === undefined) return false;
      this.#audit(appId, deletedBy, 'list.delete', id, now, {
        list: entry.list,
        dimension: entry.dimension,
        value: entry.display_value,
      });
      return true;
    })();
  }

  async matchLists(appId: string, lookups: readonly ListLookup[], now: number): Promise<ListMatch> {
    const black = new Set<ListDimension>();
    const white = new Set<ListDimension>();
    if (lookups.length === 0) return { black: [], white: [] };
    const params: unknown[] = [];
    for (const { dimension, valueKey } of lookups) params.push(appId, dimension, valueKey, now);
    for (const [list, dimension] of this.#matchStatement(lookups.length).all(...params)) (list === 'black' ? black : white).add(dimension);
    return { black: [...black], white: [...white] };
  }

  logDecision(record: DecisionRecord): void {
    this.#decisions.add(record);
  }

  async getDecision(appId: string, sequenceId: string): Promise<DecisionRecord | null> {
    const pending = this.#decisions.get(sequenceId);
    if (pending !== undefined) return pending.app_id === appId ? pending : null;
    const row = this.#getDecision.get(sequenceId, appId);
    return row === undefined ? null : (JSON.parse(row.record) as DecisionRecord);
  }

  async ping(): Promise<boolean> {
    try {
      this.#ping.get();
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#decisions.close();
    await this.#writer?.close();
    this.#db.close();
  }

  /**
   * One equality lookup on list_entries_lookup per identifier, joined with
   * UNION ALL: one statement (one WAL read transaction) of ~4 µs for a usual
   * request, where a `(dimension, value_key) IN (VALUES …)` query cost ~40 µs
   * (temporary B-tree and bloom filter) and separate statements ~3 µs each.
   */
  #matchStatement(count: number): Database.Statement<unknown[], [ListKind, ListDimension]> {
    let statement = this.#matchStatements[count];
    if (statement === undefined) {
      const lookup = `SELECT list, dimension FROM list_entries
        WHERE app_id = ? AND dimension = ? AND value_key = ? AND deleted_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`;
      statement = this.#db.prepare<unknown[], [ListKind, ListDimension]>(Array.from({ length: count }, () => lookup).join(' UNION ALL ')).raw(true);
      this.#matchStatements[count] = statement;
    }
    return statement;
  }

  #audit(appId: string, actor: string, action: string, target: string, at: number, detail: unknown): void {
    this.#insertAudit.run({ id: newRecordId(at), appId, at, actor, action, target, detail: JSON.stringify(detail) });
  }

  /** One batch: on the writer thread, or inline when there is none (or it died). */
  async #writeDecisions(rows: DecisionRow[]): Promise<void> {
    const writer = this.#writer;
    if (writer && !writer.failed) return writer.write(rows);
    if (writer) {
      // Once: from now on this connection writes the decisions.
      this.#logger?.warn(`sqlite: decision writer thread stopped (${writer.failed!.message}); decisions are now written on the main thread`);
      this.#writer = undefined;
    }
    this.#insertDecisions(rows);
  }
}

/**
 * Opens (creating if needed) the database file with the settings every connection uses.
 * The decision log holds IPs, account ids and user agents: the file is the owner's
 * alone (0600), and SQLite gives its WAL and shared-memory files the same mode.
 */
export function openDatabase(file: string): Database.Database {
  if (file !== ':memory:') {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    closeSync(openSync(file, 'a', 0o600));
    // Files an older version created with the umask's mode are tightened too.
    for (const path of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(path)) chmodSync(path, 0o600);
  }
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    // FULL, not WAL's usual NORMAL: an acknowledged list entry must survive power loss too.
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** Inserts decision rows in one transaction. */
export function prepareDecisionInsert(db: Database.Database): (rows: readonly DecisionRow[]) => void {
  const insert = db.prepare<DecisionRow>(`
    INSERT INTO decisions (sequence_id, app_id, event, created_at, score, level, decision, rules_version, device_id, record)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (sequence_id) DO NOTHING`);
  return db.transaction((rows: readonly DecisionRow[]) => {
    for (const row of rows) insert.run(...row);
  });
}

/** The decision writer thread; one batch at a time, as DecisionQueue writes them. */
class DecisionWriterThread {
  readonly #worker: Worker;
  #nextId = 1;
  #pending: { id: number; resolve: () => void; reject: (error: Error) => void } | undefined;
  #failed: Error | undefined;

  constructor(url: URL, file: string) {
    this.#worker = new Worker(url, { workerData: { file } });
    this.#worker.unref();
    this.#worker.on('message', (reply: DecisionWriterReply) => {
      const pending = this.#pending;
      if (!pending || pending.id !== reply.id) return;
      this.#pending = undefined;
      if (reply.error === undefined) pending.resolve();
      else pending.reject(new Error(`decision log: ${reply.error}`));
    });
    const fail = (error: Error) => {
      this.#failed ??= error;
      this.#pending?.reject(error);
      this.#pending = undefined;
    };
    this.#worker.on('error', fail);
    this.#worker.on('exit', (code) => fail(new Error(`decision writer thread exited with code ${code}`)));
  }

  /** Set once the thread has died or been closed; the store then writes inline. */
  get failed(): Error | undefined {
    return this.#failed;
  }

  write(rows: DecisionRow[]): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise<void>((resolve, reject) => {
      const id = this.#nextId++;
      this.#pending = { id, resolve, reject };
      this.#worker.postMessage({ id, rows } satisfies DecisionWriterMessage);
    });
  }

  async close(): Promise<void> {
    this.#failed ??= new Error('decision writer thread closed');
    await this.#worker.terminate();
  }
}

/** Applies pending migrations in one write transaction, so concurrent openers apply each once. */
function migrate(db: Database.Database, migrations: readonly Migration[]): void {
  db.exec(MIGRATIONS_TABLE_SQL);
  db.transaction(() => {
    const applied = new Set(
      (db.prepare('SELECT id FROM schema_migrations').all() as { id: number }[]).map((r) => r.id),
    );
    const record = db.prepare('INSERT INTO schema_migrations (id, name, applied_at) VALUES (?, ?, ?)');
    for (const m of [...migrations].sort((a, b) => a.id - b.id)) {
      if (applied.has(m.id)) continue;
      db.exec(m.sql);
      record.run(m.id, m.name, Date.now());
    }
  }).immediate();
}

function toListEntry(row: ListRow): ListEntry {
  return {
    id: row.id,
    list: row.list,
    dimension: row.dimension,
    value: row.display_value,
    reason: row.reason,
    created_by: row.created_by,
    created_at: new Date(row.created_at).toISOString(),
    expires_at: row.expires_at === null ? null : new Date(row.expires_at).toISOString(),
  };
}
