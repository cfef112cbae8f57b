/**
 * Where this instance's token keys and identifier hash key come from: the
 * configuration, the data directory (embedded), or PostgreSQL (shared by every
 * instance in distributed mode, created by the first one, sealed with the
 * key-encryption key the configuration gives).
 */
import type { Pool } from 'pg';
import { ConfigError, type RiskGateConfig } from '../../config/config.js';
import type { DataDirectory } from '../../config/data-dir.js';
import type { KeyEncryptionKeys } from './key-encryption.js';
import { loadSharedSecrets, readSharedTokenKeys } from './shared-secrets.js';
import type { StoredTokenKey } from '../../engine/token/key-ring.js';

export interface InstanceSecrets {
  tokenKeys: StoredTokenKey[];
  identifierHashKey: Buffer;
  /** Re-reads the token keys when they are shared through PostgreSQL (rotations by the CLI); undefined otherwise. */
  readSharedTokenKeys: (() => Promise<StoredTokenKey[]>) | undefined;
}

export const NO_KEK_MESSAGE =
  'the secrets kept in PostgreSQL (table shared_secrets) are sealed with a key-encryption key, and none is given: ' +
  'make one with `npm run keys -- new-kek` and give it as RISKGATE_SECRETS_KEK, or in a file named by secrets.kek_file ' +
  '(keep it out of the database and its backups); or give token.keys and identifier_hash_key in the configuration';

/** The configured key-encryption keys, or a ConfigError that says how to make one. */
export function requireKeyEncryptionKeys(config: RiskGateConfig): KeyEncryptionKeys {
  if (!config.secretsKeks) throw new ConfigError(NO_KEK_MESSAGE);
  return config.secretsKeks;
}

export async function resolveSecrets(
  dataDirectory: DataDirectory,
  config: RiskGateConfig,
  database: Pool | undefined,
  log: { info(obj: object, msg: string): void },
): Promise<InstanceSecrets> {
  const { tokenKeys, identifierHashKey } = dataDirectory;
  if (tokenKeys && identifierHashKey) return { tokenKeys, identifierHashKey, readSharedTokenKeys: undefined };
  if (!database) throw new ConfigError('token keys and the identifier hash key must be configured, or shared through database_url');
  const keks = requireKeyEncryptionKeys(config);
  const shared = await loadSharedSecrets(database, keks, { tokenKeys: config.token.keys, identifierHashKey: config.identifierHashKey });
  if (shared.created.length > 0) log.info({ created: shared.created, kek: keks.currentId }, 'shared secrets created in PostgreSQL');
  if (shared.sealed.length > 0) log.info({ sealed: shared.sealed, kek: keks.currentId }, 'shared secrets sealed with the current key-encryption key');
  return {
    tokenKeys: shared.tokenKeys,
    identifierHashKey: shared.identifierHashKey,
    readSharedTokenKeys: config.token.keys ? undefined : () => readSharedTokenKeys(database, keks),
  };
}
