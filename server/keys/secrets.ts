/**
 * Where this instance's token keys and identifier hash key come from: the
 * configuration, the data directory (embedded), or PostgreSQL (shared by every
 * instance in distributed mode, created by the first one).
 */
import type { Pool } from 'pg';
import { ConfigError, type RiskGateConfig } from '../config/config.js';
import type { DataDirectory } from '../config/data-dir.js';
import { loadSharedSecrets } from './shared-secrets.js';
import type { StoredTokenKey } from './token-keys.js';

export interface InstanceSecrets {
  tokenKeys: StoredTokenKey[];
  identifierHashKey: Buffer;
}

export async function resolveSecrets(
  dataDirectory: DataDirectory,
  config: RiskGateConfig,
  database: Pool | undefined,
  log: { info(obj: object, msg: string): void },
): Promise<InstanceSecrets> {
  const { tokenKeys, identifierHashKey } = dataDirectory;
  if (tokenKeys && identifierHashKey) return { tokenKeys, identifierHashKey };
  if (!database) throw new ConfigError('token keys and the identifier hash key must be configured, or shared through database_url');
  const shared = await loadSharedSecrets(database, { tokenKeys: config.token.keys, identifierHashKey: config.identifierHashKey });
  if (shared.created.length > 0) log.info({ created: shared.created }, 'shared secrets created in PostgreSQL');
  return { tokenKeys: shared.tokenKeys, identifierHashKey: shared.identifierHashKey };
}
