/**
 * One evaluation, T+0: decode the black_box; look up lists, hot state and the
 * device certificate in parallel; extract the features, score them, issue the
 * challenge_token an advised challenge needs, and queue the record. The
 * deciding is the engine's (engine/features/: one module per feature family;
 * engine/evaluation/: the observation batch, extraction, `scoreEvent`); this
 * orchestrates it over the stores.
 *
 * Bypass (seed 004): a slow or failing dependency is skipped after its time
 * budget and the answer says `degraded: true`; nothing here answers a 5xx for
 * a store outage.
 */
import type { ChallengeKind, ListDimension, TokenFailure } from '../../shared/constants.js';
import { ENGINE_REASONS, type EngineReasonId, type ReasonLanguage, type ReasonText } from '../../shared/reasons.js';
import type { DecisionRecord, EvaluateRequest, EvaluateResponse, Reason } from '../../shared/schemas.js';
import type { AppSettings } from '../config/config.js';
import { recordOutcome } from '../engine/challenges/outcomes.js';
import { NO_ENROLLMENT, type EnrollmentFeatures } from '../engine/enrollment/certificate.js';
import { extractFeatures } from '../engine/evaluation/extract.js';
import { entityKeys, observationBatch, type EntityKeys, type ObservationBatch, type ObservationResult } from '../engine/evaluation/observations.js';
import { scoreEvent } from '../engine/evaluation/score.js';
import { newSequenceId } from '../engine/evaluation/sequence-id.js';
import type { Features } from '../engine/features/features.js';
import { fingerprintKeys } from '../engine/features/fingerprint.js';
import { deviceIdOf, MISSING_TOKEN, openedToken, tokenFailureOf, type CheckedToken } from '../engine/features/token.js';
import { maskRequest, type IdentifierKeys } from '../engine/identifiers/identifiers.js';
import type { RuleError, RuleEvaluation, RuleHit, RuleSet } from '../engine/rules/ruleset.js';
import { decodeBlackBox, type OpenResult } from '../engine/token/decode.js';
import { HotStateFullError, type HotState } from '../adapters/hot-state/hot-state.js';
import type { ListLookup, ListMatch, Records } from '../adapters/records/records.js';
import type { ChallengeService } from './challenges.js';
import type { EnrollmentService } from './enrollment.js';

type Dependency = 'hot_state' | 'lists' | 'token_decoder';

export interface EvaluatorOptions {
  /** Decrypts and verifies a black_box (adapters/token/openers.ts). */
  openToken: (token: string) => Promise<OpenResult>;
  /** Issues challenge_tokens when a slider or SMS is advised. */
  challenges?: Pick<ChallengeService, 'issueToken'>;
  /** Checks a token's device certificate (services/enrollment.ts). */
  enrollment?: Pick<EnrollmentService, 'features'>;
  rules: () => RuleSet;
  hotState: HotState;
  records: Records;
  identifiers: IdentifierKeys;
  maxTokenAgeSeconds: number;
  clockSkewSeconds: number;
  /** Budget for each store call on the request path before it is skipped. */
  dependencyTimeoutMs: number;
  /** How long a device stays "known" after it was last seen. */
  deviceMemoryMs?: number;
  onDependencyFailure?: (dependency: Dependency, error: unknown) => void;
  /** Rules whose condition failed at run time: never silent (logged, counted, recorded). */
  onRuleErrors?: (errors: readonly RuleError[]) => void;
}

export interface Evaluation {
  response: EvaluateResponse;
  record: DecisionRecord;
  features: Features;
  tokenFailure: TokenFailure | undefined;
}

const DEVICE_MEMORY_MS = 90 * 86_400_000;

class DependencyTimeout extends Error {}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DependencyTimeout(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The engine reason each skipped dependency gives. */
const SKIPPED: Readonly<Record<Dependency, EngineReasonId>> = { hot_state: 'state_unavailable', lists: 'lists_unavailable', token_decoder: 'token_unavailable' };

/**
 * What one evaluation had to do without: a dependency that failed or ran out
 * of its budget is skipped, the answer is degraded and names its reason (once),
 * and the failure is reported (counted and logged by the app).
 */
class Degradation {
  degraded = false;
  /** Engine reasons, in the order they arose; they follow the rules' reasons in the answer. */
  readonly reasons: EngineReasonId[] = [];

  constructor(private readonly report: EvaluatorOptions['onDependencyFailure']) {}

  failed(dependency: Dependency, error: unknown): void {
    this.skipped(SKIPPED[dependency]);
    this.report?.(dependency, error);
  }

  /** Degraded for `reason`, without reporting a failure. */
  skipped(reason: EngineReasonId): void {
    this.degraded = true;
    this.note(reason);
  }

  /** An engine reason that degrades nothing (an escalation). */
  note(reason: EngineReasonId): void {
    if (!this.reasons.includes(reason)) this.reasons.push(reason);
  }
}

export class Evaluator {
  private readonly deviceMemoryMs: number;

  constructor(private readonly options: EvaluatorOptions) {
    this.deviceMemoryMs = options.deviceMemoryMs ?? DEVICE_MEMORY_MS;
  }

  async evaluate(app: AppSettings, request: EvaluateRequest, language: ReasonLanguage, startedAt = performance.now()): Promise<Evaluation> {
    const now = Date.now();
    const sequenceId = newSequenceId(now);
    const rules = this.options.rules();
    const eventTime = request.event_time ? Math.min(Date.parse(request.event_time), now) : now;
    const degradation = new Degradation(this.options.onDependencyFailure);

    // 1. The token, then the identifiers it and the request name, and what to count of them.
    const token = request.black_box ? await this.decode(app, request.black_box, now, degradation) : MISSING_TOKEN;
    const opened = openedToken(token);
    const deviceId = deviceIdOf(token);
    const idKeys = entityKeys(this.options.identifiers, app.identifiers, request, deviceId);
    const machine = opened ? fingerprintKeys(opened.payload.signals) : { visitor: '', template: '' };
    const observations = observationBatch(app.id, request.event, eventTime, idKeys, machine, this.deviceMemoryMs);

    // 2. The device certificate, lists and hot state in parallel.
    const [enrollment, lists, observed] = await Promise.all([
      this.enrollment(app.id, token, request.ip, eventTime),
      this.lists(app.id, idKeys, now, degradation),
      this.observe(observations.batch, degradation),
    ]);

    // 3. Features, then the score: lists first, then rules.
    const features = extractFeatures({ appId: app.id, request, token, observations, observed, lists, enrollment });
    const score = scoreEvent(features, rules, app.scoring[request.event]);
    if (score.evaluation.errors.length > 0) this.options.onRuleErrors?.(score.evaluation.errors);
    if (score.escalated) degradation.note('challenge_escalated');

    // 4. What the advised challenge needs: its challenge_token, and an SMS remembered.
    const { challenge } = score.verdict;
    const challengeToken = await this.issueChallenge(app.id, request, challenge, idKeys, deviceId, sequenceId, degradation);
    if (challenge === 'sms') await this.rememberSmsAdvised(app.id, idKeys, now, degradation);

    // 5. The answer, with the engine reasons last (the steps above may add some), and its record.
    const reasons = reasonsIn(language, score.reasons, degradation.reasons);
    const response: EvaluateResponse = {
      code: 200,
      message: 'ok',
      sequence_id: sequenceId,
      score: score.verdict.score,
      level: score.verdict.level,
      decision: score.verdict.decision,
      challenge,
      ...(challengeToken ? { challenge_token: challengeToken } : {}),
      reasons,
      tags: score.tags,
      ...(deviceId ? { device_id: deviceId } : {}),
      degraded: degradation.degraded,
    };
    const record = decisionRecord({ app, request, eventTime, now, response, evaluation: score.evaluation, features, startedAt });
    this.options.records.logDecision(record);
    return { response, record, features, tokenFailure: tokenFailureOf(token) };
  }

  /**
   * The checked token. A claim failure (store down, or a memory-mode claim table full) lets the token
   * through as not replayed, marked degraded: never a fresh token declined as a replay.
   * A decoder that failed (a worker crashed or hung) leaves the token unchecked (undefined):
   * neither good nor bad, decided without it, degraded.
   */
  private decode(app: AppSettings, blackBox: string, now: number, degradation: Degradation): Promise<CheckedToken> {
    const { options } = this;
    return decodeBlackBox(blackBox, {
      open: options.openToken,
      appKey: app.key,
      now: Math.floor(now / 1000),
      maxAgeSeconds: options.maxTokenAgeSeconds,
      clockSkewSeconds: options.clockSkewSeconds,
      claimJti: (jti, ttlMs) =>
        withTimeout(options.hotState.claimOnce({ entity: 'token', id: jti, facet: 'used' }, ttlMs, `jti:${app.id}`), options.dependencyTimeoutMs).catch((error: unknown) => {
          // Counted by the store (riskgate_hot_state_full_total); not an outage to log on every request.
          if (error instanceof HotStateFullError) degradation.skipped('replay_check_unavailable');
          else degradation.failed('hot_state', error);
          return true;
        }),
    }).catch((error: unknown) => {
      degradation.failed('token_decoder', error);
      return undefined;
    });
  }

  /** The token's device certificate (neutral without an enrollment service). */
  private enrollment(appId: string, token: CheckedToken, ip: string | undefined, at: number): Promise<EnrollmentFeatures> {
    const { enrollment, dependencyTimeoutMs } = this.options;
    if (!enrollment) return Promise.resolve({ ...NO_ENROLLMENT });
    return enrollment.features(appId, openedToken(token)?.payload.enrollment, deviceIdOf(token), ip, at, dependencyTimeoutMs);
  }

  /** Whether any identifier is on the black or the white list; none when the lists could not be read. */
  private lists(appId: string, idKeys: EntityKeys, now: number, degradation: Degradation): Promise<{ black: boolean; white: boolean }> {
    const lookups: ListLookup[] = Object.entries(idKeys).map(([dimension, valueKey]) => ({ dimension: dimension as ListDimension, valueKey }));
    return this.matchLists(appId, lookups, now).then(({ match, error }) => {
      if (error !== undefined) degradation.failed('lists', error);
      return { black: match.black.length > 0, white: match.white.length > 0 };
    });
  }

  /** The hot state's answer to the evaluation's batch; undefined when it failed or ran out of time. */
  private observe(batch: ObservationBatch, degradation: Degradation): Promise<ObservationResult | undefined> {
    return withTimeout(this.options.hotState.observe(batch), this.options.dependencyTimeoutMs).catch((error: unknown) => {
      degradation.failed('hot_state', error);
      return undefined;
    });
  }

  /** The challenge_token the SDK needs to run what is advised; an SMS needs the number from this request. */
  private async issueChallenge(
    appId: string,
    request: EvaluateRequest,
    challenge: ChallengeKind,
    idKeys: EntityKeys,
    deviceId: string,
    sequenceId: string,
    degradation: Degradation,
  ): Promise<string | undefined> {
    const { challenges, dependencyTimeoutMs } = this.options;
    if (!(challenge === 'slider' || (challenge === 'sms' && request.mobile)) || !challenges) return undefined;
    return withTimeout(
      challenges.issueToken({
        appId,
        type: challenge,
        event: request.event,
        ...(request.account_id ? { accountId: request.account_id, accountKey: idKeys.account! } : {}),
        ...(request.mobile ? { mobile: request.mobile } : {}),
        ...(deviceId ? { deviceId } : {}),
        sequenceId,
      }),
      dependencyTimeoutMs,
    ).catch((error: unknown) => {
      degradation.failed('hot_state', error);
      return undefined;
    });
  }

  /** Remember the SMS advised, so that asking again does not get a weaker challenge (features.challenge.sms_pending). */
  private async rememberSmsAdvised(appId: string, idKeys: EntityKeys, now: number, degradation: Degradation): Promise<void> {
    if (!idKeys.device && !idKeys.account) return;
    const entities = { ...(idKeys.device ? { device: idKeys.device } : {}), ...(idKeys.account ? { account: idKeys.account } : {}) };
    await withTimeout(
      this.options.hotState.observe({ at: now, counters: recordOutcome(appId, entities, 'sms_advised'), distinct: [], firstSeen: [] }),
      this.options.dependencyTimeoutMs,
    ).catch((error: unknown) => degradation.failed('hot_state', error));
  }

  /**
   * The lists of every identifier in one batched lookup. When that fails (not
   * when it times out: the store is slow, and the budget is spent), each
   * dimension is looked up on its own, so one identifier the store cannot take
   * does not skip the lists of the others (issue 13). `error` is set when any
   * lookup failed: the answer is then degraded.
   */
  private async matchLists(appId: string, lookups: readonly ListLookup[], now: number): Promise<{ match: ListMatch; error?: unknown }> {
    const { records, dependencyTimeoutMs } = this.options;
    try {
      return { match: await withTimeout(records.matchLists(appId, lookups, now), dependencyTimeoutMs) };
    } catch (error) {
      if (error instanceof DependencyTimeout || lookups.length < 2) return { match: { black: [], white: [] }, error: error ?? new Error('list lookup failed') };
      const settled = await Promise.allSettled(lookups.map((lookup) => withTimeout(records.matchLists(appId, [lookup], now), dependencyTimeoutMs)));
      const match: ListMatch = { black: [], white: [] };
      let failure: unknown;
      for (const result of settled) {
        if (result.status === 'rejected') failure ??= result.reason ?? new Error('list lookup failed');
        else {
          match.black.push(...result.value.black);
          match.white.push(...result.value.white);
        }
      }
      return failure === undefined ? { match } : { match, error: failure };
    }
  }
}

/** The rules' (or the list's) reasons, then the engine's, in the caller's language. */
function reasonsIn(language: ReasonLanguage, reasons: readonly { id: string; text: ReasonText }[], engine: readonly EngineReasonId[]): Reason[] {
  const all = [...reasons, ...engine.map((id) => ({ id, text: ENGINE_REASONS[id] }))];
  return all.map((r) => ({ id: r.id, reason: r.text[language] }));
}

/** The decision log's entry for an answer: masked request, features, rules hit, version and latency. */
function decisionRecord(d: {
  app: AppSettings;
  request: EvaluateRequest;
  eventTime: number;
  now: number;
  response: EvaluateResponse;
  evaluation: RuleEvaluation;
  features: Features;
  startedAt: number;
}): DecisionRecord {
  const { response, evaluation } = d;
  return {
    sequence_id: response.sequence_id,
    app_id: d.app.id,
    event: d.request.event,
    event_time: new Date(d.eventTime).toISOString(),
    created_at: new Date(d.now).toISOString(),
    score: response.score,
    level: response.level,
    decision: response.decision,
    challenge: response.challenge,
    reasons: response.reasons,
    tags: response.tags,
    device_id: response.device_id ?? null,
    degraded: response.degraded,
    rules_version: evaluation.version,
    rules_hit: evaluation.hits.map((h: RuleHit) => ({ id: h.id, state: h.state, score: h.score })),
    ...(evaluation.errors.length > 0 ? { rules_errors: evaluation.errors.map((e) => ({ id: e.id, message: e.message.slice(0, 300) })) } : {}),
    request: maskRequest(d.request) as Record<string, unknown>,
    features: d.features as unknown as Record<string, unknown>,
    latency_ms: Math.round((performance.now() - d.startedAt) * 1000) / 1000,
  };
}
