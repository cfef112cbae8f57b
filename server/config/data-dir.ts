/**
 * The data directory: created on first start with the token keys, the key for
 * hashing identifiers and, when the configuration lists no app, a demo app.
 * Secret files are mode 0600 in a 0700 directory.
 *
 * Distributed mode (`databaseUrl` set): token keys and the identifier hash key
 * that the configuration does not give are shared through PostgreSQL
 * (adapters/keys/shared-secrets.ts), not kept here, so no key file is created.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { loadOrCreateKeyFile } from '../adapters/keys/key-file.js';
import type { StoredTokenKey } from '../engine/token/key-ring.js';
import { DEFAULT_IDENTIFIER_RULES } from '../engine/identifiers/identifiers.js';
import { ConfigError, hashSecret, type AppSettings, type RiskGateConfig } from './config.js';

export const TOKEN_KEY_FILE = 'token-keys.json';
export const HASH_KEY_FILE = 'identifier-hash-key';
export const DEMO_APP_FILE = 'demo-app.json';
export const DATABASE_FILE = 'riskgate.sqlite';
/** Memory mode's replay claims, kept across restarts (adapters/hot-state/claim-journal.ts). */
export const CLAIMS_DIR = 'claims';

const DemoAppFile = z.object({
  id: z.string(),
  name: z.string(),
  key: z.string(),
  secret: z.string().min(16),
  origins: z.array(z.string()),
});
export type DemoApp = z.infer<typeof DemoAppFile>;

export interface DataDirectory {
  readonly dir: string;
  /** Token keys from config or the key file; undefined when they are shared through PostgreSQL. */
  readonly tokenKeys: StoredTokenKey[] | undefined;
  /** Path of the key file the keys came from, or undefined when they came from config. */
  readonly tokenKeyFile: string | undefined;
  /** From config or the data directory; undefined when it is shared through PostgreSQL. */
  readonly identifierHashKey: Buffer | undefined;
  /** Config apps, or the demo app when the config lists none. */
  readonly apps: readonly AppSettings[];
  /** The demo app with its secret, when in use (the demo backend and the first-start banner need it). */
  readonly demoApp: DemoApp | undefined;
  /** What was created now, for the first-start banner. */
  readonly created: readonly string[];
}

function writeSecretFile(file: string, content: string): void {
  writeFileSync(file, content, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
}

export function prepareDataDirectory(config: RiskGateConfig): DataDirectory {
  const dir = config.dataDir;
  const created: string[] = [];
  if (!existsSync(dir)) created.push(dir);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new ConfigError(`cannot create data directory ${dir}: ${(error as Error).message}`);
  }

  const shared = config.databaseUrl !== undefined;

  let tokenKeys: StoredTokenKey[] | undefined;
  let tokenKeyFile: string | undefined;
  if (config.token.keys) {
    tokenKeys = config.token.keys;
  } else if (!shared) {
    tokenKeyFile = join(dir, TOKEN_KEY_FILE);
    if (!existsSync(tokenKeyFile)) created.push(tokenKeyFile);
    tokenKeys = loadOrCreateKeyFile(tokenKeyFile);
  }

  let identifierHashKey: Buffer | undefined;
  if (config.identifierHashKey) {
    identifierHashKey = Buffer.from(config.identifierHashKey, 'utf8');
  } else if (!shared) {
    const file = join(dir, HASH_KEY_FILE);
    if (!existsSync(file)) {
      writeSecretFile(file, randomBytes(32).toString('base64url'));
      created.push(file);
    }
    identifierHashKey = Buffer.from(readFileSync(file, 'utf8').trim(), 'utf8');
    if (identifierHashKey.length < 32) throw new ConfigError(`${file}: identifier hash key is shorter than 32 characters`);
  }

  let apps = config.apps;
  let demoApp: DemoApp | undefined;
  if (apps.length === 0) {
    const file = join(dir, DEMO_APP_FILE);
    if (!existsSync(file)) {
      const origin = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`;
      const fresh: DemoApp = {
        id: 'demo',
        name: 'Demo shop',
        key: `pk_${randomBytes(12).toString('base64url')}`,
        secret: `sk_${randomBytes(24).toString('base64url')}`,
        origins: [...new Set([origin, `http://localhost:${config.port}`, `http://127.0.0.1:${config.port}`])],
      };
      writeSecretFile(file, `${JSON.stringify(fresh, null, 2)}\n`);
      created.push(file);
    }
    const parsed = DemoAppFile.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (!parsed.success) throw new ConfigError(`${file}: ${parsed.error.issues[0]!.message} at ${parsed.error.issues[0]!.path.join('.')}`);
    demoApp = parsed.data;
    apps = [
      Object.freeze({
        id: demoApp.id,
        name: demoApp.name,
        key: demoApp.key,
        secretHash: hashSecret(demoApp.secret),
        origins: Object.freeze(demoApp.origins.map((o) => new URL(o).origin)),
        identifiers: DEFAULT_IDENTIFIER_RULES,
        scoring: config.defaultScoring,
      }),
    ];
  }

  return { dir, tokenKeys, tokenKeyFile, identifierHashKey, apps, demoApp, created };
}
