/**
 * Chooses the stores from configuration: in-process memory and SQLite in the
 * data directory by default (embedded mode).
 */
import { join } from 'node:path';
import type { RiskGateConfig } from './config/config.js';
import { DATABASE_FILE } from './config/data-dir.js';
import type { Records } from './records/records.js';
import { SqliteRecords } from './records/sqlite.js';
import type { HotState } from './state/hot-state.js';
import { MemoryHotState } from './state/memory.js';

export interface Stores {
  hotState: HotState;
  records: Records;
}

export async function openStores(config: RiskGateConfig): Promise<Stores> {
  return {
    hotState: new MemoryHotState({ maxKeys: config.stateMaxKeys }),
    records: SqliteRecords.open(join(config.dataDir, DATABASE_FILE)),
  };
}
