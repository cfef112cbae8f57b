/**
 * Records in PostgreSQL: the distributed store, shared by every instance.
 *
 * Same schema and migrations as SQLite (`migrations.ts`), applied at start-up
 * in one transaction under an advisory lock, so instances starting together
 * apply each migration once. An acknowledged list entry is committed (one
 * statement with its audit row). Decisions go through the write-behind
 * DecisionQueue (decision-queue.ts), as in `sqlite.ts`, one multi-row INSERT
 * per batch.
 *
 * Outages: every call after start-up waits at most `timeoutMs` for a
 * connection and as long again for its statement, then fails with a
 * StoreUnavailableError (as does any connection failure), so a database that
 * is down or hangs costs callers a bounded wait, never a hung request. A pool
 * connection whose statement timed out is discarded, and the pool reconnects by
 * itself once the database answers again.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { CustomTypesConfig, Pool, PoolClient } from 'pg';
import type { ListDimension, ListKind } from '../../../shared/constants.js';
import type { DecisionRecord, ListEntry } from '../../../shared/schemas.js';
import { DECISION_COLUMNS, DecisionQueue, type DecisionQueueOptions, type DecisionRow } from './decision-queue.js';
import { newRecordId } from './record-id.js';
import { MIGRATIONS, MIGRATIONS_TABLE_SQL, type Migration } from './migrations.js';
import {
  StoreUnavailableError,
  throttledWarning,
  type ListFilter,
  type ListLookup,
  type ListMatch,
  type NewListEntry,
  type Records,
  type RecordsLogger,
} from './records.js';

/** Enough of a logger for connection trouble (pino's logger fits). */
export type PostgresRecordsLogger = RecordsLogger;

export interface PostgresRecordsOptions {
  /** Schema holding the tables, created when missing. Default `public`. Lower-case letters, digits and `_`. */
  schema?: string;
  /** The decision log's queue: flush interval, batch size (rows per INSERT), bound. */
  flushIntervalMs?: DecisionQueueOptions['flushIntervalMs'];
  batchSize?: DecisionQueueOptions['batchSize'];
  maxQueuedDecisions?: DecisionQueueOptions['maxQueuedDecisions'];
  /** Called when a batch of decisions could not be written (they are dropped and counted). */
  onError?: (err: unknown) => void;
  /** Most connections in the pool. Default 10. */
  poolSize?: number;
  /** How long to wait for a connection before a query fails (ms). Default: `timeoutMs`. */
  connectionTimeoutMs?: number;
  /**
   * How long a call may wait for a connection, and then for its statement, before it fails with
   * a StoreUnavailableError (ms). Default 2000. Start-up (migrations, shared secrets) is not bounded by it.
   */
  timeoutMs?: number;
  logger?: PostgresRecordsLogger;
}

/** `pg_advisory_xact_lock(class, id)` class for RiskGate's locks ("RGAT"). */
export const ADVISORY_LOCK_CLASS = 0x52474154;
/** Lock ids within the class, per schema (see `advisoryLockId`). */
export const MIGRATION_LOCK = 'migrations';

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const PING_TIMEOUT_MS = 1000;
const DEFAULT_TIMEOUT_MS = 2000;

/**
 * SQLSTATE classes that say the database cannot serve now, whatever the
 * statement: connection exception (08), insufficient resources (53), operator
 * intervention (57: shutdown, statement timeout), system error (58).
 */
const OUTAGE_CLASSES = new Set(['08', '53', '57', '58']);

/**
 * Whether an error from pg is an outage rather than a problem with the statement:
 * an error the server answered is one only in the classes above; the others pg
 * raises (refused or reset connection, connection or read timeout, connection
 * ended) are, except a caller's mistake (TypeError, RangeError).
 */
export function isOutage(error: unknown): boolean {
  if (error instanceof pg.DatabaseError) return OUTAGE_CLASSES.has(error.code?.slice(0, 2) ?? '');
  return error instanceof Error && !(error instanceof TypeError) && !(error instanceof RangeError);
}

/** BIGINT (epoch ms) as a JS number rather than pg's default string. */
const INT8_OID = 20;
const TYPES: CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as CustomTypesConfig['getTypeParser'],
};

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

const LIVE = (now: string) => `deleted_at IS NULL AND (expires_at IS NULL OR expires_at > ${now})`;

const INSERT_ENTRY_SQL = `
  WITH entry AS (
    INSERT INTO list_entries (id, app_id, list, dimension, value_key, display_value, reason, created_by, created_at, expires_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
  )
  INSERT INTO audit_log (id, app_id, at, actor, action, target, detail)
  VALUES ($11, $2, $9, $8, 'list.add', $1, $12)`;

// The audit detail is built in SQL with the key order and spacing of JSON.stringify, as SQLite stores it.
const DELETE_ENTRY_SQL = `
  WITH gone AS (
    UPDATE list_entries SET deleted_at = $3, deleted_by = $4
    WHERE id = $1 AND app_id = $2 AND ${LIVE('$3')}
    RETURNING list, dimension, display_value
  ), audit AS (
    INSERT INTO audit_log (id, app_id, at, actor, action, target, detail)
    SELECT $5, $2, $3, $4, 'list.delete', $1,
      '{"list":' || to_json(list)::text || ',"dimension":' || to_json(dimension)::text || ',"value":' || to_json(display_value)::text || '}'
    FROM gone
  )
  SELECT count(*) AS n FROM gone`;

/** Any number of (dimension, value) pairs in one indexed query. */
const MATCH_SQL = `
  SELECT DISTINCT list, dimension FROM list_entries
  WHERE app_id = $1 AND (dimension, value_key) IN (SELECT d, v FROM unnest($2::text[], $3::text[]) AS lookup (d, v))
    AND ${LIVE('$4')}`;

export class PostgresRecords implements Records {
  readonly #pool: Pool;
  readonly #warn: (message: string) => void;
  readonly #decisions: DecisionQueue;
  readonly #timeoutMs: number;
  #closed = false;

  /** Connects, applies pending migrations, and returns the store. */
  static async open(url: string, opts: PostgresRecordsOptions = {}): Promise<PostgresRecords> {
    const schema = opts.schema ?? 'public';
    if (!SCHEMA_NAME.test(schema)) throw new TypeError(`PostgreSQL schema "${schema}": use lower-case letters, digits and _ only`);
    const pool = new pg.Pool({
      connectionString: url,
      max: opts.poolSize ?? 10,
      connectionTimeoutMillis: opts.connectionTimeoutMs ?? opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      // Every connection resolves unqualified names in this schema only.
      options: `-c search_path=${schema}`,
      application_name: 'riskgate',
      types: TYPES,
    });
    const store = new PostgresRecords(pool, opts);
    try {
      await migrate(pool, schema, MIGRATIONS);
      return store;
    } catch (error) {
      await store.close();
      throw error;
    }
  }

  private constructor(pool: Pool, opts: PostgresRecordsOptions) {
    this.#pool = pool;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#warn = throttledWarning(opts.logger);
    this.#decisions = new DecisionQueue((batch) => this.#insertDecisions(batch), {
      ...opts,
      onError: (error, dropped) => {
        this.#warn(
          dropped > 0
            ? `postgres: ${dropped} decisions not logged (${(error as Error).message})`
            : `postgres: ${this.#decisions.size} decisions kept queued until the database answers (${(error as Error).message})`,
        );
        opts.onError?.(error);
      },
    });
    // An idle connection that breaks (server restart) emits 'error' on the pool; unheard, it would crash the process.
    pool.on('error', (error) => this.#warn(`postgres: idle connection failed (${error.message})`));
  }

  /** The connection pool, for what shares the database (shared secrets; see adapters/keys/shared-secrets.ts). */
  get pool(): Pool {
    return this.#pool;
  }

  /** Decisions dropped because the queue was full or their batch failed to write. */
  get droppedDecisions(): number {
    return this.#decisions.dropped;
  }

  /** Decisions not written yet (queued or being written). */
  get queuedDecisions(): number {
    return this.#decisions.size;
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
    const detail = JSON.stringify({
      list: entry.list,
      dimension: entry.dimension,
      value: entry.displayValue,
      reason: entry.reason,
      expires_at: entry.expiresAt,
    });
    // One statement, so entry and audit row commit together; it resolves after COMMIT.
    await this.#query(INSERT_ENTRY_SQL, [
      row.id,
      entry.appId,
      entry.list,
      entry.dimension,
      entry.valueKey,
      entry.displayValue,
      entry.reason,
      entry.createdBy,
      row.created_at,
      entry.expiresAt,
      newRecordId(row.created_at),
      detail,
    ]);
    return toListEntry(row);
  }

  async findListEntries(filter: ListFilter): Promise<ListEntry[]> {
    // No entry holds a NUL (see matchLists); the API refuses one before this.
    if (filter.valueKey?.includes('\0')) return [];
    const params: unknown[] = [filter.appId, Date.now()];
    const conditions = ['app_id = $1', LIVE('$2')];
    const add = (column: string, value: unknown) => {
      params.push(value);
      conditions.push(`${column} = $${params.length}`);
    };
    if (filter.list !== undefined) add('list', filter.list);
    if (filter.dimension !== undefined) add('dimension', filter.dimension);
    if (filter.valueKey !== undefined) add('value_key', filter.valueKey);
    params.push(filter.limit);
    const { rows } = await this.#query<ListRow>(
      `SELECT id, list, dimension, display_value, reason, created_by, created_at, expires_at FROM list_entries
       WHERE ${conditions.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
      params,
    );
    return rows.map(toListEntry);
  }

  async deleteListEntry(appId: string, id: string, deletedBy: string): Promise<boolean> {
    const now = Date.now();
    const { rows } = await this.#query<{ n: number }>(DELETE_ENTRY_SQL, [id, appId, now, deletedBy, newRecordId(now)]);
    return (rows[0]?.n ?? 0) > 0;
  }

  async matchLists(appId: string, lookups: readonly ListLookup[], now: number): Promise<ListMatch> {
    // PostgreSQL's text cannot hold a NUL, so no entry has one, and a NUL would fail the whole query.
    if (lookups.some((l) => l.valueKey.includes('\0'))) lookups = lookups.filter((l) => !l.valueKey.includes('\0'));
    if (lookups.length === 0) return { black: [], white: [] };
    const { rows } = await this.#query<{ list: ListKind; dimension: ListDimension }>({
      name: 'riskgate_match_lists',
      text: MATCH_SQL,
      values: [appId, lookups.map((l) => l.dimension), lookups.map((l) => l.valueKey), now],
    });
    const black: ListDimension[] = [];
    const white: ListDimension[] = [];
    for (const hit of rows) (hit.list === 'black' ? black : white).push(hit.dimension);
    return { black, white };
  }

  logDecision(record: DecisionRecord): void {
    this.#decisions.add(record);
  }

  async getDecision(appId: string, sequenceId: string): Promise<DecisionRecord | null> {
    const pending = this.#decisions.get(sequenceId);
    if (pending !== undefined) return pending.app_id === appId ? pending : null;
    const { rows } = await this.#query<{ record: string }>({
      name: 'riskgate_get_decision',
      text: 'SELECT record FROM decisions WHERE sequence_id = $1 AND app_id = $2',
      values: [sequenceId, appId],
    });
    const row = rows[0];
    return row === undefined ? null : (JSON.parse(row.record) as DecisionRecord);
  }

  async ping(): Promise<boolean> {
    if (this.#closed) return false;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS);
    });
    const query = this.#pool.query('SELECT 1').then(
      () => true,
      () => false,
    );
    try {
      return await Promise.race([query, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#decisions.close();
    await this.#pool.end();
  }

  /**
   * A statement on a pool connection, bounded by `timeoutMs` once it has one
   * (pg then discards the connection); an outage rejects as StoreUnavailableError.
   */
  async #query<R extends pg.QueryResultRow>(statement: string | pg.QueryConfig, values?: unknown[]): Promise<pg.QueryResult<R>> {
    const config: pg.QueryConfig & { query_timeout: number } =
      typeof statement === 'string' ? { text: statement, values: values ?? [], query_timeout: this.#timeoutMs } : { ...statement, query_timeout: this.#timeoutMs };
    try {
      return await this.#pool.query<R>(config);
    } catch (error) {
      if (!isOutage(error)) throw error;
      this.#warn(`postgres: unavailable (${(error as Error).message})`);
      throw new StoreUnavailableError(`the database is unavailable (${(error as Error).message})`, { cause: error });
    }
  }

  /** One multi-row INSERT per batch (see DecisionQueue). */
  async #insertDecisions(batch: DecisionRow[]): Promise<void> {
    const values: unknown[] = [];
    const rows: string[] = [];
    for (const row of batch) {
      const base = values.length;
      rows.push(`(${Array.from({ length: DECISION_COLUMNS }, (_, i) => `$${base + i + 1}`).join(', ')})`);
      values.push(...row);
    }
    await this.#query(
      `INSERT INTO decisions (sequence_id, app_id, event, created_at, score, level, decision, rules_version, device_id, record)
       VALUES ${rows.join(', ')} ON CONFLICT (sequence_id) DO NOTHING`,
      values,
    );
  }
}

/** A 32-bit lock id for `name` within `schema`, so tests in separate schemas do not wait on each other. */
export function advisoryLockId(schema: string, name: string): number {
  return createHash('sha256').update(`${schema}\0${name}`).digest().readInt32BE(0);
}

/** Runs `work` in a transaction holding RiskGate's advisory lock `name` (released at COMMIT or ROLLBACK). */
export async function withAdvisoryLock<T>(pool: Pool, name: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<{ schema: string }>('SELECT current_schema() AS schema');
    // current_schema() is null until the schema exists; the lock still serialises its creation.
    await client.query('SELECT pg_advisory_xact_lock($1, $2)', [ADVISORY_LOCK_CLASS, advisoryLockId(rows[0]?.schema ?? '', name)]);
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

/** Applies pending migrations in one transaction under an advisory lock, so concurrent starters apply each once. */
async function migrate(pool: Pool, schema: string, migrations: readonly Migration[]): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1, $2)', [ADVISORY_LOCK_CLASS, advisoryLockId(schema, MIGRATION_LOCK)]);
    const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    if (exists.rowCount === 0) await client.query(`CREATE SCHEMA "${schema}"`);
    await client.query(MIGRATIONS_TABLE_SQL);
    const applied = new Set((await client.query<{ id: number }>('SELECT id FROM schema_migrations')).rows.map((r) => r.id));
    for (const m of [...migrations].sort((a, b) => a.id - b.id)) {
      if (applied.has(m.id)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (id, name, applied_at) VALUES ($1, $2, $3)', [m.id, m.name, Date.now()]);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
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
