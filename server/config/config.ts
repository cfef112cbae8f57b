/**
 * Configuration: a YAML or JSON file (`RISKGATE_CONFIG`), environment
 * variables over it, defaults under both. Validated once at start-up; an
 * invalid value stops start-up with a message naming the field. The result is
 * frozen.
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import {
  CHALLENGES,
  DECISIONS,
  DEFAULT_LEVEL_CHALLENGES,
  DEFAULT_LEVEL_DECISIONS,
  DEFAULT_LEVEL_FLOORS,
  EVENTS,
  type RiskEvent,
} from '../../shared/constants.js';
import { REASON_LANGUAGES } from '../../shared/reasons.js';
import { webhookUrlProblem, WebhookTargetPolicy } from '../adapters/sms/webhook-target.js';
import { KeyEncryptionKeys } from '../adapters/keys/key-encryption.js';
import type { IdentifierRules } from '../engine/identifiers/identifiers.js';
import type { EventScoring } from '../engine/scoring/decide.js';
import { StoredTokenKeys } from '../engine/token/key-ring.js';
import { networkProblem } from './networks.js';

const byLevel = <T extends z.ZodType>(value: T) =>
  z.object({ 0: value, 1: value, 2: value, 3: value, 4: value });

/** Score → level → decision → challenge for one event; every part optional in overrides. */
const ScoringSettings = z.object({
  /** Lowest score of levels 0–4, ascending, starting at 0. */
  level_floors: z
    .tuple([z.literal(0), z.number(), z.number(), z.number(), z.number()])
    .refine((f) => f.every((v, i) => i === 0 || (v > f[i - 1]! && v <= 100)), 'must ascend strictly from 0 and stay ≤ 100')
    .optional(),
  decisions: byLevel(z.enum(DECISIONS)).partial().optional(),
  challenges: byLevel(z.enum(CHALLENGES)).partial().optional(),
});
type ScoringSettingsInput = z.infer<typeof ScoringSettings>;

/** Names Fastify's trustProxy (proxy-addr) accepts for well-known ranges. */
const TRUST_PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

const eventMap = <T extends z.ZodType>(value: T) => z.partialRecord(z.enum(EVENTS), value);

const secretText = z.string().min(16, 'must be at least 16 characters');

/** A URL with one of the given schemes; the message never repeats the value (it may hold a password). */
const storeUrl = (schemes: readonly string[], env: string) => {
  const message = `must be a ${schemes.map((s) => `${s}//`).join(' or ')} URL (also settable with ${env})`;
  return z.string().refine((value) => {
    try {
      return schemes.includes(new URL(value).protocol);
    } catch {
      return false;
    }
  }, message);
};

const AppConfig = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
    name: z.string().min(1).max(128),
    /** Public app key the SDK sends; it is not a secret. */
    key: z.string().regex(/^[A-Za-z0-9_-]{8,128}$/),
    /** Server-to-server secret; give it in clear or as its SHA-256 (hex). */
    secret: secretText.optional(),
    secret_sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
    /** Origins allowed to call browser-facing endpoints, e.g. https://shop.example. */
    origins: z.array(z.url()).default([]),
    /** `insensitive`: account ids differing only in case are one account (lists, velocity, verify). */
    account_case: z.enum(['sensitive', 'insensitive']).default('sensitive'),
    events: eventMap(ScoringSettings).default({}),
  })
  .refine((a) => Boolean(a.secret) !== Boolean(a.secret_sha256), { message: 'give exactly one of secret and secret_sha256', path: ['secret'] });

/** Where SMS codes are POSTed, signed; see adapters/sms/webhook.ts for the contract. */
const SmsWebhookSettings = z
  .object({
    url: z.url(),
    secret: secretText,
    /** Plain http: URLs are refused unless this is true (development only: codes would cross the network in clear). */
    allow_insecure_http: z.boolean().default(false),
    /**
     * Non-public addresses or CIDRs the webhook may connect to (a gateway on
     * the private network, e.g. 10.20.0.0/16); every other target must be a
     * public address, checked on each connection's DNS answer.
     */
    allowed_networks: z
      .array(z.string().refine((entry) => networkProblem(entry) === undefined, { error: (issue) => `${networkProblem(String(issue.input))} (names are not accepted: their answer can change)` }))
      .default([]),
    /** Per attempt, until the response's status (ms); one retry after a timeout, network error or 5xx. */
    timeout_ms: z.number().int().min(100).max(30_000).default(3000),
    /** Per attempt, to have a connection ready: DNS, TCP, TLS (ms); at most timeout_ms. Default: 1000, or timeout_ms when shorter. */
    connect_timeout_ms: z.number().int().min(50).max(30_000).optional(),
  })
  .superRefine((webhook, ctx) => {
    if (webhook.connect_timeout_ms !== undefined && webhook.connect_timeout_ms > webhook.timeout_ms) ctx.addIssue({ code: 'custom', path: ['connect_timeout_ms'], message: 'must not exceed timeout_ms' });
    // allowed_networks has its own issues when invalid; the URL is judged with a valid list only.
    if (webhook.allowed_networks.some((entry) => networkProblem(entry) !== undefined)) return;
    const problem = webhookUrlProblem(webhook.url, { allowInsecureHttp: webhook.allow_insecure_http, policy: new WebhookTargetPolicy(webhook.allowed_networks) });
    if (problem) ctx.addIssue({ code: 'custom', path: ['url'], message: problem });
  });

const SmsSettings = z
  .object({
    /** `log` writes codes to the server log (development, demo); `webhook` POSTs them, signed, to your SMS gateway. */
    provider: z.enum(['log', 'webhook']).default('log'),
    webhook: SmsWebhookSettings.optional(),
    /** Country calling codes numbers may belong to (SMS pumping targets premium destinations). */
    allowed_countries: z.array(z.string().regex(/^\d{1,4}$/)).min(1).default(['86']),
    code_ttl_seconds: z.number().int().min(60).max(3600).default(300),
    max_wrong_codes: z.number().int().min(1).max(20).default(5),
    resend_seconds: z.number().int().min(10).max(600).default(60),
    /** Sends allowed per identifier per hour (mobile also per day). */
    limits: z
      .object({
        per_mobile_hour: z.number().int().min(1).default(5),
        per_mobile_day: z.number().int().min(1).default(10),
        per_ip_hour: z.number().int().min(1).default(20),
        per_device_hour: z.number().int().min(1).default(5),
        per_app_hour: z.number().int().min(1).default(1000),
      })
      .prefault({}),
    /** SMS-pumping signs: beyond these, sends are refused silently to the browser and loudly in logs and metrics. */
    pumping: z
      .object({
        mobiles_per_ip_hour: z.number().int().min(1).default(3),
        mobiles_per_device_day: z.number().int().min(1).default(3),
        countries_per_ip_day: z.number().int().min(1).default(2),
      })
      .prefault({}),
  })
  .refine((sms) => sms.provider !== 'webhook' || sms.webhook, { message: 'the webhook provider needs webhook.url and webhook.secret', path: ['webhook'] });

const ChallengeSettings = z.object({
  /** How long a challenge_token from evaluate, and a started challenge, stay usable. */
  ttl_seconds: z.number().int().min(60).max(3600).default(600),
  /** How long a session_id from a passed challenge can be verified. */
  session_ttl_seconds: z.number().int().min(30).max(3600).default(300),
  slider: z
    .object({
      max_attempts: z.number().int().min(1).max(20).default(5),
      tolerance_px: z.number().int().min(1).max(20).default(4),
      /**
       * Proof of work per puzzle: the client searches up to this many SHA-256
       * counters (uniform in [max/4, max]; 20,000 is ~10 ms in a desktop browser).
       */
      pow_counter_max: z.number().int().min(1).max(10_000_000).default(20_000),
      /**
       * Slider answers allowed per device and per network (IPv4 /24, IPv6 /64)
       * within `answer_window_seconds`, across all challenges: past either,
       * answers end as `too_many_attempts` and new sliders are refused (429).
       * A /24 can be a carrier NAT: keep the network limit generous.
       */
      answers_per_device: z.number().int().min(1).default(20),
      answers_per_network: z.number().int().min(1).default(120),
      answer_window_seconds: z.number().int().min(10).max(86_400).default(600),
      /** A drop on a decoy hole ends the challenge (too_many_attempts): guessing among the holes does not pay. */
      decoy_ends_challenge: z.boolean().default(true),
    })
    .prefault({}),
  sms: SmsSettings.prefault({}),
  /** Challenge starts allowed per IP per minute. */
  starts_per_ip_minute: z.number().int().min(1).default(30),
});
export type ChallengeSettings = z.infer<typeof ChallengeSettings>;

export const ConfigFile = z.object({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.coerce.number().int().min(0).max(65535).default(8080),
  data_dir: z.string().min(1).default('./.riskgate'),
  log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Language of reason texts in responses when the request does not ask (Accept-Language). */
  reason_language: z.enum(REASON_LANGUAGES).default('en'),
  body_limit_bytes: z.coerce.number().int().min(1024).max(10 * 1024 * 1024).default(64 * 1024),
  /**
   * HTTP timeouts, against clients that hold connections open (a body dripped
   * one byte at a time, headers that never end). Checked every
   * `check_interval_ms`, so a bound holds within that much.
   */
  http: z
    .object({
      /** Whole request (headers and body) must arrive within this; past it: 408 and the connection closes. */
      request_timeout_ms: z.coerce.number().int().min(100).max(600_000).default(30_000),
      /** Headers must arrive within this (≤ request_timeout_ms). */
      headers_timeout_ms: z.coerce.number().int().min(100).max(600_000).default(10_000),
      /** An idle kept-alive connection closes after this. */
      keep_alive_timeout_ms: z.coerce.number().int().min(100).max(600_000).default(5_000),
      /** How often open connections are checked against the request and headers timeouts. */
      check_interval_ms: z.coerce.number().int().min(50).max(30_000).default(1_000),
    })
    .refine((h) => h.headers_timeout_ms <= h.request_timeout_ms, { message: 'must not exceed http.request_timeout_ms', path: ['headers_timeout_ms'] })
    .prefault({}),
  /** Rules file; the default rule pack when absent. */
  rules_file: z.string().min(1).optional(),
  token: z
    .object({
      max_age_seconds: z.number().int().min(10).max(86_400).default(600),
      clock_skew_seconds: z.number().int().min(0).max(3600).default(60),
      /** Token keys given in config (shared by many instances); else the data directory's key file. */
      keys: StoredTokenKeys.optional(),
      /** Worker threads that decrypt and verify tokens (0: on the main thread). Default: one per core but one. */
      decode_threads: z.coerce.number().int().min(0).max(16).default(Math.max(0, Math.min(4, availableParallelism() - 1))),
      /**
       * A decode worker holding tokens that answers nothing for this long is hung: it is terminated
       * and replaced, and its requests are answered degraded (`token_unavailable`).
       */
      decode_timeout_ms: z.coerce.number().int().min(50).max(60_000).default(1000),
    })
    .prefault({}),
  /** Secret for keyed hashes of identifiers (≥ 32 chars); else generated into the data directory. */
  identifier_hash_key: z.string().min(32).optional(),
  /** How the secrets kept in PostgreSQL (`shared_secrets`) are sealed. */
  secrets: z
    .object({
      /** File holding the key-encryption keys, one a line, current first (or RISKGATE_SECRETS_KEK, comma-separated). */
      kek_file: z.string().min(1).optional(),
    })
    .prefault({}),
  scoring: z
    .object({ default: ScoringSettings.default({}), events: eventMap(ScoringSettings).default({}) })
    .default({ default: {}, events: {} }),
  apps: z.array(AppConfig).default([]),
  /**
   * Memory mode's hot state bounds: keys per kind of evaluation entry (evicted
   * oldest first), per room of kept entries (full: STORE_UNAVAILABLE) and
   * replay claims per app (full: degraded). Ignored with Redis.
   */
  state: z.object({ max_keys: z.number().int().min(1000).default(200_000) }).default({ max_keys: 200_000 }),
  challenges: ChallengeSettings.prefault({}),
  /**
   * Whose X-Forwarded-For to believe, so that the browser-facing routes' rate
   * limits and enrollment prefixes see client IPs behind a proxy: your proxies'
   * addresses or CIDRs (or Fastify's names `loopback`, `linklocal`,
   * `uniquelocal`). `true` believes every client (anyone can pick their IP):
   * start-up warns. Evaluate never reads it: it takes the body's `ip`.
   */
  trust_proxy: z
    .union(
      [
        z.boolean(),
        z.array(
          z.string().refine((entry) => TRUST_PROXY_NAMES.has(entry) || networkProblem(entry) === undefined, {
            error: (issue) => `${networkProblem(String(issue.input))}; give addresses, CIDRs or ${[...TRUST_PROXY_NAMES].join(', ')}`,
          }),
        ),
      ],
      { error: 'must be true, false or a list of proxy addresses and CIDRs' },
    )
    .default(false),
  /** Who may read /metrics, and whether /docs is served. */
  observability: z
    .object({
      /** When set, /metrics answers only `Authorization: Bearer <metrics_token>` (also RISKGATE_METRICS_TOKEN). */
      metrics_token: secretText.optional(),
      /** Serve the API docs at /docs (default true). */
      docs: z.boolean().default(true),
    })
    .prefault({}),
  /** Distributed mode: shared stores instead of in-process memory and SQLite (each independently). */
  stores: z
    .object({
      /** Hot state in Redis, e.g. redis://cache:6379/0 (rediss:// for TLS). */
      redis_url: storeUrl(['redis:', 'rediss:'], 'RISKGATE_REDIS_URL').optional(),
      /** Durable records in PostgreSQL, e.g. postgres://riskgate@db/riskgate. */
      database_url: storeUrl(['postgres:', 'postgresql:'], 'RISKGATE_DATABASE_URL').optional(),
      /** Prefix of every Redis key, to share one Redis between deployments. */
      redis_key_prefix: z.string().regex(/^[A-Za-z0-9:_.-]{1,32}$/, 'letters, digits and :_.- only (no braces)').default('rg:'),
      /** PostgreSQL schema of RiskGate's tables. */
      database_schema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'lower-case letters, digits and _').default('public'),
      /**
       * Budget of each store call on the evaluate path (ms): past it the call is
       * skipped and the answer says degraded. Raise it for a remote Redis.
       */
      dependency_timeout_ms: z.coerce.number().int().min(5).max(5000).default(100),
      /**
       * PostgreSQL, off the evaluate path (list routes, decision reads, the decision
       * log's batches): most time a call waits for a connection, and then for its
       * statement, before it fails (ms). List routes then answer 503 / 5030.
       */
      database_timeout_ms: z.coerce.number().int().min(50).max(60_000).default(2000),
    })
    .prefault({}),
});
export type ConfigFile = z.infer<typeof ConfigFile>;

export type { EventScoring } from '../engine/scoring/decide.js';

export interface AppSettings {
  readonly id: string;
  readonly name: string;
  readonly key: string;
  /** SHA-256 of the secret; the secret itself is not kept. */
  readonly secretHash: Buffer;
  readonly origins: readonly string[];
  /** How its identifiers are spelt canonically (account case). */
  readonly identifiers: IdentifierRules;
  readonly scoring: Readonly<Record<RiskEvent, EventScoring>>;
}

export interface RiskGateConfig {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly logLevel: ConfigFile['log_level'];
  readonly reasonLanguage: ConfigFile['reason_language'];
  readonly bodyLimitBytes: number;
  readonly http: {
    readonly requestTimeoutMs: number;
    readonly headersTimeoutMs: number;
    readonly keepAliveTimeoutMs: number;
    readonly checkIntervalMs: number;
  };
  readonly rulesFile: string | undefined;
  readonly token: ConfigFile['token'];
  readonly identifierHashKey: string | undefined;
  /** Keys that seal the rows of `shared_secrets`, current first; undefined when none is given. */
  readonly secretsKeks: KeyEncryptionKeys | undefined;
  readonly stateMaxKeys: number;
  readonly challenges: ChallengeSettings;
  readonly trustProxy: boolean | string[];
  readonly metricsToken: string | undefined;
  readonly docs: boolean;
  /** Redis for hot state (distributed mode); in-process memory when undefined. */
  readonly redisUrl: string | undefined;
  /** PostgreSQL for records and shared secrets (distributed mode); SQLite in the data directory when undefined. */
  readonly databaseUrl: string | undefined;
  readonly redisKeyPrefix: string;
  readonly databaseSchema: string;
  /** Budget of each store call on the evaluate path (ms). */
  readonly dependencyTimeoutMs: number;
  /** Most time a PostgreSQL call waits for a connection, and again for its statement (ms). */
  readonly databaseTimeoutMs: number;
  readonly apps: readonly AppSettings[];
  /** Scoring for apps the file does not list (the generated demo app). */
  readonly defaultScoring: Readonly<Record<RiskEvent, EventScoring>>;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const hashSecret = (secret: string): Buffer => createHash('sha256').update(secret, 'utf8').digest();

function mergeScoring(...layers: (ScoringSettingsInput | undefined)[]): EventScoring {
  let levelFloors: EventScoring['levelFloors'] = DEFAULT_LEVEL_FLOORS;
  let decisions: EventScoring['decisions'] = DEFAULT_LEVEL_DECISIONS;
  let challenges: EventScoring['challenges'] = DEFAULT_LEVEL_CHALLENGES;
  for (const layer of layers) {
    if (!layer) continue;
    if (layer.level_floors) levelFloors = layer.level_floors;
    if (layer.decisions) decisions = { ...decisions, ...layer.decisions };
    if (layer.challenges) challenges = { ...challenges, ...layer.challenges };
  }
  return { levelFloors, decisions, challenges };
}

function formatIssue(issue: z.core.$ZodIssue, source: string): string {
  const path = issue.path.map(String).join('.') || '(root)';
  return `invalid configuration (${source}): field "${path}": ${issue.message}`;
}

/** Environment variables that override the file. */
function environmentOverrides(env: NodeJS.ProcessEnv, raw: Record<string, unknown>): Record<string, unknown> {
  const overrides: Record<string, unknown> = {};
  if (env.HOST) overrides.host = env.HOST;
  if (env.PORT) overrides.port = env.PORT;
  if (env.RISKGATE_DATA_DIR) overrides.data_dir = env.RISKGATE_DATA_DIR;
  if (env.RISKGATE_LOG_LEVEL) overrides.log_level = env.RISKGATE_LOG_LEVEL;
  if (env.RISKGATE_RULES) overrides.rules_file = env.RISKGATE_RULES;
  if (env.RISKGATE_IDENTIFIER_HASH_KEY) overrides.identifier_hash_key = env.RISKGATE_IDENTIFIER_HASH_KEY;
  if (env.RISKGATE_SECRETS_KEK_FILE) overrides.secrets = { ...(raw.secrets as object | undefined), kek_file: env.RISKGATE_SECRETS_KEK_FILE };
  if (env.RISKGATE_METRICS_TOKEN) overrides.observability = { ...(raw.observability as object | undefined), metrics_token: env.RISKGATE_METRICS_TOKEN };
  const http = {
    ...(env.RISKGATE_REQUEST_TIMEOUT_MS ? { request_timeout_ms: env.RISKGATE_REQUEST_TIMEOUT_MS } : {}),
    ...(env.RISKGATE_HEADERS_TIMEOUT_MS ? { headers_timeout_ms: env.RISKGATE_HEADERS_TIMEOUT_MS } : {}),
    ...(env.RISKGATE_KEEP_ALIVE_TIMEOUT_MS ? { keep_alive_timeout_ms: env.RISKGATE_KEEP_ALIVE_TIMEOUT_MS } : {}),
  };
  if (Object.keys(http).length > 0) overrides.http = { ...(raw.http as object | undefined), ...http };
  if (env.RISKGATE_DECODE_THREADS) overrides.token = { ...(raw.token as object | undefined), decode_threads: env.RISKGATE_DECODE_THREADS };
  if (env.RISKGATE_SMS_WEBHOOK_URL || env.RISKGATE_SMS_WEBHOOK_SECRET) {
    const sms = (raw.challenges as { sms?: { webhook?: object } } | undefined)?.sms;
    overrides.challenges = {
      ...(raw.challenges as object | undefined),
      sms: {
        ...sms,
        provider: 'webhook',
        // Over the file's webhook section, so its allowed_networks and timeouts still apply.
        webhook: {
          ...sms?.webhook,
          ...(env.RISKGATE_SMS_WEBHOOK_URL ? { url: env.RISKGATE_SMS_WEBHOOK_URL } : {}),
          ...(env.RISKGATE_SMS_WEBHOOK_SECRET ? { secret: env.RISKGATE_SMS_WEBHOOK_SECRET } : {}),
        },
      },
    };
  }
  return overrides;
}

/** Environment variables that override fields of the file's `stores` section. */
function storeOverrides(env: NodeJS.ProcessEnv): Record<string, string> {
  const overrides: Record<string, string> = {};
  if (env.RISKGATE_REDIS_URL) overrides.redis_url = env.RISKGATE_REDIS_URL;
  if (env.RISKGATE_DATABASE_URL) overrides.database_url = env.RISKGATE_DATABASE_URL;
  if (env.RISKGATE_REDIS_KEY_PREFIX) overrides.redis_key_prefix = env.RISKGATE_REDIS_KEY_PREFIX;
  if (env.RISKGATE_DATABASE_SCHEMA) overrides.database_schema = env.RISKGATE_DATABASE_SCHEMA;
  if (env.RISKGATE_DEPENDENCY_TIMEOUT_MS) overrides.dependency_timeout_ms = env.RISKGATE_DEPENDENCY_TIMEOUT_MS;
  if (env.RISKGATE_DATABASE_TIMEOUT_MS) overrides.database_timeout_ms = env.RISKGATE_DATABASE_TIMEOUT_MS;
  return overrides;
}

/**
 * The key-encryption keys from RISKGATE_SECRETS_KEK (comma-separated) or from
 * the file `secrets.kek_file` names (one a line; blank lines and `#` comments
 * skipped), current first. Both at once is refused: which one rotates would be
 * unclear. Errors name the source, never a key.
 */
function readKeyEncryptionKeys(fromEnv: string | undefined, file: string | undefined, source: string): KeyEncryptionKeys | undefined {
  if (fromEnv !== undefined && file !== undefined) {
    throw new ConfigError(`invalid configuration (${source}): give the key-encryption keys once: RISKGATE_SECRETS_KEK or secrets.kek_file, not both`);
  }
  let texts: string[];
  let where: string;
  if (fromEnv !== undefined) {
    texts = fromEnv.split(',').map((t) => t.trim()).filter((t) => t !== '');
    where = 'RISKGATE_SECRETS_KEK';
  } else if (file !== undefined) {
    let content: string;
    try {
      content = readFileSync(file, 'utf8');
    } catch (error) {
      throw new ConfigError(`cannot read secrets.kek_file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    texts = content.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
    where = `secrets.kek_file ${file}`;
  } else {
    return undefined;
  }
  try {
    return KeyEncryptionKeys.parse(texts, where);
  } catch (error) {
    throw new ConfigError(`invalid configuration: ${(error as Error).message}`);
  }
}

/** Reads and validates configuration; `raw` (already-parsed file content) is for tests and embedding. */
export function loadConfig(options: { env?: NodeJS.ProcessEnv; raw?: unknown; cwd?: string } = {}): RiskGateConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  let raw: unknown = options.raw ?? {};
  let source = 'defaults';
  let baseDir = cwd;
  if (options.raw === undefined && env.RISKGATE_CONFIG) {
    const file = resolve(cwd, env.RISKGATE_CONFIG);
    source = file;
    baseDir = resolve(file, '..');
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new ConfigError(`cannot read configuration file ${file}: ${(error as Error).message}`);
    }
    try {
      raw = extname(file) === '.json' ? JSON.parse(text) : YAML.parse(text);
    } catch (error) {
      throw new ConfigError(`configuration file ${file} is not valid ${extname(file) === '.json' ? 'JSON' : 'YAML'}: ${(error as Error).message}`);
    }
    raw ??= {};
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`invalid configuration (${source}): expected an object at the top level`);
  const merged: Record<string, unknown> = { ...(raw as Record<string, unknown>), ...environmentOverrides(env, raw as Record<string, unknown>) };
  const stores = storeOverrides(env);
  if (Object.keys(stores).length > 0) {
    const fromFile = merged.stores;
    // A malformed `stores` section is left as it is, so validation names it.
    if (fromFile === undefined || (fromFile !== null && typeof fromFile === 'object' && !Array.isArray(fromFile))) {
      merged.stores = { ...(fromFile as object | undefined), ...stores };
    }
  }
  const parsed = ConfigFile.safeParse(merged);
  if (!parsed.success) throw new ConfigError(formatIssue(parsed.error.issues[0]!, source));
  const file = parsed.data;

  const seen = new Set<string>();
  for (const [i, app] of file.apps.entries()) {
    for (const unique of [`id:${app.id}`, `key:${app.key}`]) {
      if (seen.has(unique)) throw new ConfigError(`invalid configuration (${source}): field "apps.${i}.${unique.split(':')[0]}": duplicate value`);
      seen.add(unique);
    }
  }

  const apps = file.apps.map((app): AppSettings => {
    const scoring = Object.fromEntries(
      EVENTS.map((event) => [event, mergeScoring(file.scoring.default, file.scoring.events[event], app.events[event])]),
    ) as Record<RiskEvent, EventScoring>;
    return Object.freeze({
      id: app.id,
      name: app.name,
      key: app.key,
      secretHash: app.secret ? hashSecret(app.secret) : Buffer.from(app.secret_sha256!, 'hex'),
      origins: Object.freeze(app.origins.map((o) => new URL(o).origin)),
      identifiers: Object.freeze({ accountCase: app.account_case }),
      scoring: Object.freeze(scoring),
    });
  });

  return Object.freeze({
    host: file.host,
    port: file.port,
    dataDir: resolve(env.RISKGATE_DATA_DIR ? cwd : baseDir, file.data_dir),
    logLevel: file.log_level,
    reasonLanguage: file.reason_language,
    bodyLimitBytes: file.body_limit_bytes,
    http: Object.freeze({
      requestTimeoutMs: file.http.request_timeout_ms,
      headersTimeoutMs: file.http.headers_timeout_ms,
      keepAliveTimeoutMs: file.http.keep_alive_timeout_ms,
      checkIntervalMs: file.http.check_interval_ms,
    }),
    rulesFile: file.rules_file ? resolve(env.RISKGATE_RULES ? cwd : baseDir, file.rules_file) : undefined,
    token: file.token,
    identifierHashKey: file.identifier_hash_key,
    secretsKeks: readKeyEncryptionKeys(env.RISKGATE_SECRETS_KEK || undefined, file.secrets.kek_file && resolve(env.RISKGATE_SECRETS_KEK_FILE ? cwd : baseDir, file.secrets.kek_file), source),
    stateMaxKeys: file.state.max_keys,
    challenges: file.challenges,
    trustProxy: file.trust_proxy,
    metricsToken: file.observability.metrics_token,
    docs: file.observability.docs,
    redisUrl: file.stores.redis_url,
    databaseUrl: file.stores.database_url,
    redisKeyPrefix: file.stores.redis_key_prefix,
    databaseSchema: file.stores.database_schema,
    dependencyTimeoutMs: file.stores.dependency_timeout_ms,
    databaseTimeoutMs: file.stores.database_timeout_ms,
    apps: Object.freeze(apps),
    defaultScoring: Object.freeze(
      Object.fromEntries(EVENTS.map((e) => [e, mergeScoring(file.scoring.default, file.scoring.events[e])])) as Record<RiskEvent, EventScoring>,
    ),
  });
}
