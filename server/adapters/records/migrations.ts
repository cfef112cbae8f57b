/**
 * The durable schema, as ordered migrations shared by SQLite and PostgreSQL.
 *
 * Portable SQL only: TEXT, INTEGER, BIGINT epoch milliseconds, JSON kept as TEXT,
 * ids made in code (`newRecordId`) so neither AUTOINCREMENT nor SERIAL is needed.
 * Never edit an applied migration; append a new one.
 */
export interface Migration {
  readonly id: number;
  readonly name: string;
  readonly sql: string;
}

/** Created before any migration runs; it records which ones were applied. */
export const MIGRATIONS_TABLE_SQL = `
CREATE TABLE IF NOT EXISTS schema_migrations (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at BIGINT NOT NULL
)`;

export const MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'lists, decisions, audit log',
    sql: `
CREATE TABLE list_entries (
  id TEXT PRIMARY KEY,
  app_id TEXT NOT NULL,
  list TEXT NOT NULL CHECK (list IN ('black', 'white')),
  dimension TEXT NOT NULL,
  value_key TEXT NOT NULL,
  display_value TEXT NOT NULL,
  reason TEXT,
  created_by TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT,
  deleted_at BIGINT,
  deleted_by TEXT
);
CREATE INDEX list_entries_lookup ON list_entries (app_id, dimension, value_key);

CREATE TABLE decisions (
  sequence_id TEXT PRIMARY KEY,
  app_id TEXT NOT NULL,
  event TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  score DOUBLE PRECISION NOT NULL,
  level INTEGER NOT NULL,
  decision TEXT NOT NULL,
  rules_version TEXT NOT NULL,
  device_id TEXT,
  record TEXT NOT NULL
);
CREATE INDEX decisions_app_time ON decisions (app_id, created_at);

CREATE TABLE audit_log (
  id TEXT PRIMARY KEY,
  app_id TEXT NOT NULL,
  at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX audit_log_app_time ON audit_log (app_id, at);
`,
  },
  {
    id: 2,
    name: 'shared secrets',
    // Distributed mode keeps the token key set and the identifier hash key here,
    // so every instance decrypts every token and hashes identifiers alike
    // (adapters/keys/shared-secrets.ts). Unused, and harmless, in SQLite.
    sql: `
CREATE TABLE shared_secrets (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
`,
  },
];
