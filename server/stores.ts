/**
 * Chooses the stores from configuration: in-process memory and SQLite in the
 * data directory by default (embedded mode); Redis when `redisUrl` is set and
 * PostgreSQL when `databaseUrl` is set (distributed mode), each independently.
 */
import { join } from 'node:path';
import type { Pool } from 'pg';
import type { RiskGateConfig } from './config/config.js';
import { CLAIMS_DIR, DATABASE_FILE } from './config/data-dir.js';
import { PostgresRecords, type PostgresRecordsOptions } from './adapters/records/postgres.js';
import type { Records } from './adapters/records/records.js';
import { SqliteRecords } from './adapters/records/sqlite.js';
import type { HotState } from './adapters/hot-state/hot-state.js';
import { FileClaimJournal } from './adapters/hot-state/claim-journal.js';
import { MemoryHotState } from './adapters/hot-state/memory.js';
import { RedisHotState } from './adapters/hot-state/redis.js';

export interface Stores {
  hotState: HotState;
  records: Records;
  /** The PostgreSQL pool in distributed mode, for shared secrets (adapters/keys/shared-secrets.ts); else undefined. */
  database: Pool | undefined;
}

/** Where connection trouble is reported (pino's logger fits). */
export interface StoresLogger {
  warn(message: string): void;
  info(message: string): void;
}

export interface OpenStoresOptions {
  logger?: StoresLogger;
  /** PostgreSQL settings the configuration does not carry (tests use their own schema). */
  postgres?: Pick<PostgresRecordsOptions, 'schema' | 'poolSize'>;
}

export async function openStores(config: RiskGateConfig, options: OpenStoresOptions = {}): Promise<Stores> {
  const { logger } = options;
  const hotState: HotState = config.redisUrl
    ? await RedisHotState.open({ url: config.redisUrl, keyPrefix: config.redisKeyPrefix, ...(logger ? { logger } : {}) })
    : new MemoryHotState({ maxKeys: config.stateMaxKeys, journal: new FileClaimJournal(join(config.dataDir, CLAIMS_DIR)) });
  try {
    if (config.databaseUrl) {
      const records = await PostgresRecords.open(config.databaseUrl, {
        schema: config.databaseSchema,
        timeoutMs: config.databaseTimeoutMs,
        ...options.postgres,
        ...(logger ? { logger } : {}),
      });
      return { hotState, records, database: records.pool };
    }
    return { hotState, records: SqliteRecords.open(join(config.dataDir, DATABASE_FILE), logger ? { logger } : {}), database: undefined };
  } catch (error) {
    await hotState.close();
    throw error;
  }
}
