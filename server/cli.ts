/**
 * `riskgate keys <command>`: manage the token encryption keys in the data
 * directory. A running server picks the change up by itself.
 *
 *   keys list            the keys, newest first, with their state
 *   keys rotate          add a new primary key (older ones stay live)
 *   keys retire <kid>    stop advertising a key; it still decrypts tokens in flight
 *   keys remove <kid>    delete a key; its tokens then fail as TOKEN_UNKNOWN_KEY
 *   keys new-kek         print a fresh key-encryption key (for the secrets kept in PostgreSQL)
 *
 * With `database_url` set, the same commands change the key set shared through
 * PostgreSQL; they need the key-encryption key the servers use.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config/config.js';
import { TOKEN_KEY_FILE } from './config/data-dir.js';
import { generateKeyEncryptionKey, keyEncryptionKeyId, SealedSecretError, type KeyEncryptionKeys } from './adapters/keys/key-encryption.js';
import { requireKeyEncryptionKeys } from './adapters/keys/secrets.js';
import { readSharedTokenKeys, removeSharedTokenKey, retireSharedTokenKey, rotateSharedTokenKeys } from './adapters/keys/shared-secrets.js';
import { loadOrCreateKeyFile, removeKey, retireKey, rotateKeyFile } from './adapters/keys/key-file.js';
import { PostgresRecords } from './adapters/records/postgres.js';

const USAGE = 'usage: riskgate keys <list | rotate | retire <kid> | remove <kid> | new-kek>';

/**
 * `keys new-kek`: the key alone on `out` (so it can go straight to a file),
 * what to do with it on `note`.
 */
export function printNewKek(out: (line: string) => void, note: (line: string) => void): void {
  const kek = generateKeyEncryptionKey();
  out(kek);
  note(
    `key-encryption key ${keyEncryptionKeyId(Buffer.from(kek, 'base64url'))}: give it as RISKGATE_SECRETS_KEK or in the file secrets.kek_file names ` +
      '(to rotate: new key first, the old one after it, until every instance has restarted); keep it out of the database',
  );
}

export function runKeysCommand(args: string[], dataDir: string, out: (line: string) => void): number {
  const file = join(dataDir, TOKEN_KEY_FILE);
  const [command, kid] = args;
  switch (command) {
    case 'list':
    case undefined: {
      const keys = loadOrCreateKeyFile(file);
      const live = keys.filter((k) => !k.retired_at).sort((a, b) => b.created_at.localeCompare(a.created_at));
      for (const key of [...keys].sort((a, b) => b.created_at.localeCompare(a.created_at))) {
        const state = key.retired_at ? `retired ${key.retired_at}` : key === live[0] ? 'primary' : 'live';
        out(`${key.kid}\t${key.created_at}\t${state}`);
      }
      return 0;
    }
    case 'rotate': {
      const key = rotateKeyFile(file);
      out(`new primary key ${key.kid}; older keys stay live until retired`);
      return 0;
    }
    case 'retire':
    case 'remove':
      if (!kid) {
        out(USAGE);
        return 2;
      }
      if (command === 'retire') retireKey(file, kid);
      else removeKey(file, kid);
      out(`${command === 'retire' ? 'retired' : 'removed'} ${kid}`);
      return 0;
    default:
      out(USAGE);
      return 2;
  }
}

/** Distributed mode: the key set lives in PostgreSQL, shared by every instance, sealed with `keks`. */
async function runSharedKeysCommand(args: string[], databaseUrl: string, schema: string, keks: KeyEncryptionKeys, out: (line: string) => void): Promise<number> {
  const records = await PostgresRecords.open(databaseUrl, { schema });
  try {
    const [command, kid] = args;
    if (command === 'rotate') {
      out(`new primary key ${(await rotateSharedTokenKeys(records.pool, keks)).kid}; instances pick it up within 30 s, or at once on SIGHUP`);
    } else if ((command === 'retire' || command === 'remove') && kid) {
      await (command === 'retire' ? retireSharedTokenKey : removeSharedTokenKey)(records.pool, keks, kid);
      out(`${command === 'retire' ? 'retired' : 'removed'} ${kid}`);
    } else if (command === 'list' || command === undefined) {
      for (const key of await readSharedTokenKeys(records.pool, keks)) out(`${key.kid}\t${key.created_at}\t${key.retired_at ? `retired ${key.retired_at}` : 'live'}`);
    } else {
      out('usage: riskgate keys <list | rotate | retire <kid> | remove <kid>> (shared keys)');
      return 2;
    }
    return 0;
  } finally {
    await records.close();
  }
}

async function main(): Promise<number> {
  const { positionals } = parseArgs({ allowPositionals: true, strict: true });
  const [group, ...rest] = positionals;
  if (group !== 'keys') {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const out = (line: string) => process.stdout.write(`${line}\n`);
  if (rest[0] === 'new-kek') {
    printNewKek(out, (line) => process.stderr.write(`${line}\n`));
    return 0;
  }
  try {
    const config = loadConfig();
    if (config.token.keys) {
      process.stderr.write('riskgate: token keys come from the configuration file; rotate them there\n');
      return 2;
    }
    if (config.databaseUrl) return await runSharedKeysCommand(rest, config.databaseUrl, config.databaseSchema, requireKeyEncryptionKeys(config), out);
    return runKeysCommand(rest, config.dataDir, out);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof TypeError || error instanceof SealedSecretError) {
      process.stderr.write(`riskgate: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = await main();
