/**
 * The composition root: builds the stores, the engine's services and one
 * Fastify plugin per route group, each given exactly the dependencies it
 * uses. `main.ts` (the server) and `demo/main.ts` (the demo) call `listen`;
 * tests use `inject` on what this returns. Anything here can be replaced
 * through BuildAppOptions, so tests inject what they need.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Pool } from 'pg';
import type { HotState } from './adapters/hot-state/hot-state.js';
import { MemoryHotState } from './adapters/hot-state/memory.js';
import { KeyBook, type TokenKeySource } from './adapters/keys/key-book.js';
import { resolveSecrets, type InstanceSecrets } from './adapters/keys/secrets.js';
import type { Records } from './adapters/records/records.js';
import { RuleBook } from './adapters/rules/rule-book.js';
import { smsProviderFor } from './adapters/sms/from-config.js';
import type { SmsLogger } from './adapters/sms/log.js';
import type { SmsProvider } from './adapters/sms/provider.js';
import { createTokenOpener } from './adapters/token/openers.js';
import type { RiskGateConfig } from './config/config.js';
import { prepareDataDirectory, type DataDirectory } from './config/data-dir.js';
import type { SliderPuzzle } from './engine/challenges/slider/puzzle.js';
import { IdentifierKeys } from './engine/identifiers/identifiers.js';
import type { OpenResult } from './engine/token/decode.js';
import { AppRegistry } from './http/apps.js';
import { ApiError, installErrorHandling } from './http/errors.js';
import { challengeRoutes } from './http/routes/challenges.js';
import { decisionRoutes } from './http/routes/decisions.js';
import { enrollmentRoutes } from './http/routes/enrollment.js';
import { evaluateRoutes } from './http/routes/evaluate.js';
import { healthRoutes } from './http/routes/health.js';
import { keyRoutes } from './http/routes/keys.js';
import { listRoutes } from './http/routes/lists.js';
import { sdkRoutes } from './http/routes/sdk.js';
import { zodValidatorCompiler } from './http/validation.js';
import { RiskMetrics } from './observability/metrics.js';
import { ChallengeService } from './services/challenges.js';
import { EnrollmentService } from './services/enrollment.js';
import { Evaluator } from './services/evaluator.js';
import { openStores } from './stores.js';

export const DEFAULT_RULES_FILE = join(dirname(fileURLToPath(import.meta.url)), 'engine', 'rules', 'default-rules.yaml');

/**
 * What code outside the app may reach of it, as `app.riskgate`: the routes
 * never read it (they get their dependencies as plugin options).
 */
export interface RiskGateHandle {
  /** The data directory as prepared at start (the start banner shows it, and the generated app's key). */
  readonly dataDirectory: DataDirectory;
  /** The rules in force; `reload()` on SIGHUP. */
  readonly rules: RuleBook;
  /** The token keys in force; `reload()` on SIGHUP. */
  readonly keys: KeyBook;
  /** Evaluations without HTTP: what a re-scoring job (T+1) runs, with no request schema in front. */
  readonly evaluator: Pick<Evaluator, 'evaluate'>;
}

export interface BuildAppOptions {
  config: RiskGateConfig;
  /** Defaults to the configuration's: in-process memory, or Redis. */
  hotState?: HotState;
  /** Defaults to the configuration's: SQLite in the data directory, or PostgreSQL. */
  records?: Records;
  /**
   * The PostgreSQL pool the token keys and identifier hash key are shared
   * through, when `records` is given and the configuration shares them
   * (`database_url` without `token.keys`). Opened with the stores otherwise.
   */
  database?: Pool;
  logger?: FastifyServerOptions['logger'];
  /** Budget for each store call on the evaluate path (ms). */
  dependencyTimeoutMs?: number;
  /**
   * Replaces the configured SMS provider: a provider, or a function of the
   * app's logger that makes one (the demo keeps the development `log`
   * provider it makes, to show its codes).
   */
  smsProvider?: SmsProvider | ((logger: SmsLogger) => SmsProvider);
  /** Replaces the slider puzzle generator (tests that must know the answer). */
  puzzles?: () => SliderPuzzle;
  /** Replaces the enrollment puzzle settings (tests). */
  enrollment?: { baseDerivations?: number; cost?: number; maxMultiplier?: number; now?: () => number };
  /** Replaces the token decode worker script (tests: one that crashes or hangs on command). */
  decodeWorker?: URL;
}

export type RiskGateApp = FastifyInstance & { readonly riskgate: RiskGateHandle };

export async function buildApp(options: BuildAppOptions): Promise<RiskGateApp> {
  const { config } = options;
  const dataDirectory = prepareDataDirectory(config);

  const app = Fastify({
    trustProxy: config.trustProxy,
    logger: options.logger ?? {
      level: config.logLevel,
      // Requests are logged by method and path only: no body, header or query
      // string (list look-ups carry phone numbers there) reaches the log.
      serializers: {
        req: (request: { method: string; url: string; id: string }) => ({ method: request.method, path: request.url.split('?')[0], id: request.id }),
      },
    },
    bodyLimit: config.bodyLimitBytes,
    // Slow clients (a body dripped byte by byte) must not hold connections open: Node answers 408
    // and closes once a request outlives these. Fastify's own default turns requestTimeout off.
    requestTimeout: config.http.requestTimeoutMs,
    keepAliveTimeout: config.http.keepAliveTimeoutMs,
    // Those bound requests; a connection that never sends a byte is no request yet. Socket
    // inactivity bounds it: as long as headers may take (no legitimate client is silent longer).
    connectionTimeout: config.http.headersTimeoutMs,
    http: {
      requestTimeout: config.http.requestTimeoutMs,
      headersTimeout: config.http.headersTimeoutMs,
      keepAliveTimeout: config.http.keepAliveTimeoutMs,
      connectionsCheckingInterval: config.http.checkIntervalMs,
    },
    // Router-level failures (bad percent-encoding, over-long path parameters)
    // happen before the error handler; answer them from the same table.
    frameworkErrors: (error, _request, reply: FastifyReply) => {
      const apiError =
        error.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? new ApiError('FIELD_TOO_LONG', 'a path parameter is too long', 'path')
          : new ApiError('FIELD_INVALID', 'the request path is not valid', 'path');
      reply.status(apiError.statusCode).send(apiError.toBody());
    },
    return503OnClosing: true,
  }).withTypeProvider<ZodTypeProvider>();

  if (config.trustProxy === true) {
    app.log.warn(
      'trust_proxy is true: X-Forwarded-For is believed from every client, so anyone can choose the IP that rate limits and enrollment see; list your proxies\' addresses instead',
    );
  }

  // The API speaks JSON only: without this, text/plain bodies would reach validation as strings.
  app.removeContentTypeParser('text/plain');
  app.setValidatorCompiler(zodValidatorCompiler);
  // Responses are built from typed objects; docs still get the response schemas.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  installErrorHandling(app);

  const metrics = new RiskMetrics();
  const stores = options.hotState && options.records ? undefined : await openStores(config, { logger: app.log });
  const records = options.records ?? stores!.records;
  const hotState = options.hotState ?? stores!.hotState;
  // A store opened here that the options replace is not used: close it.
  if (stores && options.records) await stores.records.close();
  if (stores && options.hotState) await stores.hotState.close();
  if (hotState instanceof MemoryHotState) {
    hotState.listener = (event, space) => (event === 'evicted' ? metrics.hotStateEvictions : metrics.hotStateFull).inc({ space });
  }
  const database = options.database ?? (options.records ? undefined : stores?.database);

  let secrets: InstanceSecrets;
  try {
    secrets = await resolveSecrets(dataDirectory, config, database, app.log);
  } catch (error) {
    await Promise.allSettled([records.close(), hotState.close()]);
    throw error;
  }
  const identifiers = new IdentifierKeys(secrets.identifierHashKey);
  const rules = await RuleBook.open(config.rulesFile ?? DEFAULT_RULES_FILE, app.log);

  // How a rotation reaches this instance (adapters/keys/key-book.ts); every key set the book reads goes to the decoders.
  const keySource: TokenKeySource = dataDirectory.tokenKeyFile
    ? { kind: 'file', file: dataDirectory.tokenKeyFile }
    : secrets.readSharedTokenKeys
      ? { kind: 'shared', read: secrets.readSharedTokenKeys }
      : { kind: 'fixed' };
  const tokenKeys = KeyBook.open(secrets.tokenKeys, keySource, { logger: app.log, onKeys: (keys) => tokenOpener.setKeys(keys) });
  const tokenOpener = createTokenOpener(config.token.decode_threads, secrets.tokenKeys, {
    timeoutMs: config.token.decode_timeout_ms,
    ...(options.decodeWorker ? { workerUrl: options.decodeWorker } : {}),
    onWorkerFailure: (error, cause) => {
      metrics.decodeWorkerFailures.inc({ cause });
      app.log.error({ err: error.message, cause }, 'token decode worker failed; replaced');
    },
  });
  const dependencyTimeoutMs = options.dependencyTimeoutMs ?? config.dependencyTimeoutMs;
  // A token for a kid this instance does not know may be for a key another instance already offers.
  const openToken = async (token: string): Promise<OpenResult> => {
    const opened = await tokenOpener.open(token);
    if (opened.ok || opened.failure !== 'TOKEN_UNKNOWN_KEY') return opened;
    return (await tokenKeys.rereadForUnknownKid(dependencyTimeoutMs)) ? tokenOpener.open(token) : opened;
  };

  const smsProvider =
    typeof options.smsProvider === 'function' ? options.smsProvider(app.log) : (options.smsProvider ?? smsProviderFor(config.challenges, app.log));
  const challenges = new ChallengeService({
    hotState,
    settings: config.challenges,
    sms: smsProvider,
    ...(options.puzzles ? { puzzles: options.puzzles } : {}),
    identifiers,
    secret: secrets.identifierHashKey,
    log: app.log,
    metrics: {
      outcome: (type, outcome) => metrics.challengeOutcomes.inc({ type, outcome }),
      smsSent: () => metrics.smsSent.inc(),
      smsRefused: (reason) => metrics.smsRefused.inc({ reason }),
    },
  });

  const enrollment = new EnrollmentService({ hotState, secret: secrets.identifierHashKey, log: app.log, ...options.enrollment });

  const ruleErrorLogged = new Map<string, number>();
  const evaluator = new Evaluator({
    openToken,
    challenges,
    enrollment,
    rules: () => rules.current(),
    hotState,
    records,
    identifiers,
    maxTokenAgeSeconds: config.token.max_age_seconds,
    clockSkewSeconds: config.token.clock_skew_seconds,
    dependencyTimeoutMs,
    onDependencyFailure: (dependency, error) => {
      metrics.degraded.inc({ dependency });
      app.log.warn({ dependency, err: (error as Error).message }, 'dependency skipped on the evaluate path');
    },
    onRuleErrors: (errors) => {
      const now = Date.now();
      for (const { id, message } of errors) {
        metrics.ruleErrors.inc({ rule: id });
        // At most one line per rule a minute: a broken rule fails on every evaluation.
        if ((ruleErrorLogged.get(id) ?? 0) + 60_000 > now) continue;
        ruleErrorLogged.set(id, now);
        app.log.error({ rule: id, err: message }, 'rule condition failed at run time; counted as not hit');
      }
    },
  });

  const handle: RiskGateHandle = { dataDirectory, rules, keys: tokenKeys, evaluator };
  app.decorate('riskgate', handle);
  app.decorateRequest('riskApp', null);

  app.addHook('onResponse', async (request, reply) => {
    metrics.requests.inc({ route: request.routeOptions.url ?? 'unmatched', method: request.method, status: reply.statusCode });
  });
  app.addHook('onClose', async () => {
    tokenKeys.close();
    rules.close();
    await Promise.allSettled([records.close(), hotState.close(), tokenOpener.close()]);
  });

  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'RiskGate API', version: '1', description: 'Self-hosted risk control: evaluate events, manage lists, read decisions.' },
      components: { securitySchemes: { appSecret: { type: 'http', scheme: 'bearer', description: 'The app secret' } } },
    },
    transform: jsonSchemaTransform,
    // Fills components.schemas with the schemas the routes $ref (those with a zod `.meta({ id })`).
    transformObject: jsonSchemaTransformObject,
  });
  if (config.docs) await app.register(fastifySwaggerUi, { routePrefix: '/docs' });

  const apps = new AppRegistry(dataDirectory.apps);
  await app.register(evaluateRoutes, { apps, evaluator, metrics, reasonLanguage: config.reasonLanguage });
  await app.register(listRoutes, { apps, records, identifiers });
  await app.register(decisionRoutes, { apps, records });
  await app.register(keyRoutes, { keys: tokenKeys });
  await app.register(healthRoutes, { records, hotState, metrics, metricsToken: config.metricsToken });
  await app.register(sdkRoutes);
  await app.register(challengeRoutes, { apps, challenges });
  await app.register(enrollmentRoutes, { apps, enrollment });
  return app as unknown as RiskGateApp;
}
