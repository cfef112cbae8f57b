/**
 * One evaluation, T+0: decode the black_box, look up lists and velocity in
 * parallel, compute features, run the rules, decide, and queue the record.
 * The deciding is the engine's (engine/evaluation/: the observation batch,
 * feature extraction, the verdict); this orchestrates it over the stores.
 *
 * Bypass (seed 004): a slow or failing dependency is skipped after its time
 * budget and the answer says `degraded: true`; nothing here answers a 5xx for
 * a store outage.
 */
import type { ListDimension, TokenFailure } from '../../shared/constants.js';
import { ENGINE_REASONS, type ReasonLanguage } from '../../shared/reasons.js';
import type { DecisionRecord, EvaluateRequest, EvaluateResponse, Reason } from '../../shared/schemas.js';
import type { AppSettings } from '../config/config.js';
import { recordOutcome } from '../engine/challenges/outcomes.js';
import { NO_ENROLLMENT } from '../engine/enrollment/certificate.js';
import { deviceIdOf, extractFeatures, openedToken, tokenFailureOf, type CheckedToken } from '../engine/evaluation/extract.js';
import { entityKeys, observationBatch } from '../engine/evaluation/observations.js';
import { newSequenceId } from '../engine/evaluation/sequence-id.js';
import { judge } from '../engine/evaluation/verdict.js';
import type { Features } from '../engine/features/features.js';
import { fingerprintKeys } from '../engine/features/fingerprint.js';
import { maskRequest, type IdentifierKeys } from '../engine/identifiers/identifiers.js';
import type { RuleError, RuleHit, RuleSet } from '../engine/rules/ruleset.js';
import { decodeBlackBox, type OpenResult } from '../engine/token/decode.js';
import { HotStateFullError, type HotState } from '../adapters/hot-state/hot-state.js';
import type { ListLookup, ListMatch, Records } from '../adapters/records/records.js';
import type { ChallengeService } from './challenges.js';
import type { EnrollmentService } from './enrollment.js';

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
  onDependencyFailure?: (dependency: 'hot_state' | 'lists' | 'token_decoder', error: unknown) => void;
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

export class Evaluator {
  private readonly deviceMemoryMs: number;

  constructor(private readonly options: EvaluatorOptions) {
    this.deviceMemoryMs = options.deviceMemoryMs ?? DEVICE_MEMORY_MS;
  }

  async evaluate(app: AppSettings, request: EvaluateRequest, language: ReasonLanguage, startedAt = performance.now()): Promise<Evaluation> {
    const { options } = this;
    const now = Date.now();
    const sequenceId = newSequenceId(now);
    const rules = options.rules();
    const scoring = app.scoring[request.event];
    const eventTime = request.event_time ? Math.min(Date.parse(request.event_time), now) : now;

    let degraded = false;
    const engineReasons: (keyof typeof ENGINE_REASONS)[] = [];

    // 1. The token. A claim failure (store down, or a memory-mode claim table full) lets the token
    //    through as not replayed, marked degraded: never a fresh token declined as a replay.
    //    A decoder that failed (a worker crashed or hung) leaves the token unchecked (undefined):
    //    neither good nor bad, decided without it, degraded.
    let decoded: CheckedToken = { ok: false, failure: 'TOKEN_MISSING' };
    if (request.black_box) {
      decoded = await decodeBlackBox(request.black_box, {
        open: options.openToken,
        appKey: app.key,
        now: Math.floor(now / 1000),
        maxAgeSeconds: options.maxTokenAgeSeconds,
        clockSkewSeconds: options.clockSkewSeconds,
        claimJti: (jti, ttlMs) =>
          withTimeout(options.hotState.claimOnce({ entity: 'token', id: jti, facet: 'used' }, ttlMs, `jti:${app.id}`), options.dependencyTimeoutMs).catch((error: unknown) => {
            degraded = true;
            // Counted by the store (riskgate_hot_state_full_total); not an outage to log on every request.
            if (error instanceof HotStateFullError) {
              engineReasons.push('replay_check_unavailable');
              return true;
            }
            if (!engineReasons.includes('state_unavailable')) engineReasons.push('state_unavailable');
            options.onDependencyFailure?.('hot_state', error);
            return true;
          }),
      }).catch((error: unknown) => {
        degraded = true;
        engineReasons.push('token_unavailable');
        options.onDependencyFailure?.('token_decoder', error);
        return undefined;
      });
    }
    const tokenFailure = tokenFailureOf(decoded);
    const opened = openedToken(decoded);
    const deviceId = deviceIdOf(decoded);

    // 2. Identifiers, then lists and velocity in parallel.
    const idKeys = entityKeys(options.identifiers, app.identifiers, request, deviceId);
    const lookups: ListLookup[] = Object.entries(idKeys).map(([dimension, valueKey]) => ({ dimension: dimension as ListDimension, valueKey }));
    const machine = opened ? fingerprintKeys(opened.payload.signals) : { visitor: '', template: '' };
    const batch = observationBatch(app.id, request.event, eventTime, idKeys, machine, this.deviceMemoryMs);

    const enrollment = options.enrollment
      ? options.enrollment.features(app.id, opened?.payload.enrollment, deviceId, request.ip, eventTime, options.dependencyTimeoutMs)
      : Promise.resolve({ ...NO_ENROLLMENT });
    const [listResult, observed] = await Promise.all([
      this.matchLists(app.id, lookups, now).then(({ match, error }) => {
        if (error !== undefined) {
          degraded = true;
          engineReasons.push('lists_unavailable');
          options.onDependencyFailure?.('lists', error);
        }
        return match;
      }),
      withTimeout(options.hotState.observe(batch.batch), options.dependencyTimeoutMs).catch((error: unknown) => {
        degraded = true;
        if (!engineReasons.includes('state_unavailable')) engineReasons.push('state_unavailable');
        options.onDependencyFailure?.('hot_state', error);
        return undefined;
      }),
    ]);

    // 3. Features.
    const features = extractFeatures({
      appId: app.id,
      request,
      token: decoded,
      observations: batch,
      observed,
      lists: { black: listResult.black.length > 0, white: listResult.white.length > 0 },
      enrollment: await enrollment,
    });

    // 4. Lists first, then rules.
    const evaluation = rules.evaluate(features);
    if (evaluation.errors.length > 0) options.onRuleErrors?.(evaluation.errors);
    const { verdict, reasons: reasonTexts, tags, escalated } = judge(features, evaluation, scoring);
    if (escalated) engineReasons.push('challenge_escalated');

    // The SDK needs a challenge_token to run what is advised; an SMS needs the number from this request.
    let challengeToken: string | undefined;
    const canChallenge = verdict.challenge === 'slider' || (verdict.challenge === 'sms' && request.mobile);
    if (canChallenge && options.challenges) {
      challengeToken = await withTimeout(
        options.challenges.issueToken({
          appId: app.id,
          type: verdict.challenge as 'slider' | 'sms',
          event: request.event,
          ...(request.account_id ? { accountId: request.account_id, accountKey: idKeys.account! } : {}),
          ...(request.mobile ? { mobile: request.mobile } : {}),
          ...(deviceId ? { deviceId } : {}),
          sequenceId,
        }),
        options.dependencyTimeoutMs,
      ).catch((error: unknown) => {
        degraded = true;
        if (!engineReasons.includes('state_unavailable')) engineReasons.push('state_unavailable');
        options.onDependencyFailure?.('hot_state', error);
        return undefined;
      });
    }

    // Remember the SMS advised, so that asking again does not get a weaker challenge (features.challenge.sms_pending).
    if (verdict.challenge === 'sms' && (idKeys.device || idKeys.account)) {
      const entities = { ...(idKeys.device ? { device: idKeys.device } : {}), ...(idKeys.account ? { account: idKeys.account } : {}) };
      await withTimeout(
        options.hotState.observe({ at: now, counters: recordOutcome(app.id, entities, 'sms_advised'), distinct: [], firstSeen: [] }),
        options.dependencyTimeoutMs,
      ).catch((error: unknown) => {
        degraded = true;
        if (!engineReasons.includes('state_unavailable')) engineReasons.push('state_unavailable');
        options.onDependencyFailure?.('hot_state', error);
      });
    }

    // Engine reasons last: the steps above may add some (a store that failed while issuing or recording).
    for (const id of engineReasons) reasonTexts.push({ id, text: ENGINE_REASONS[id] });
    const reasons: Reason[] = reasonTexts.map((r) => ({ id: r.id, reason: r.text[language] }));
    const response: EvaluateResponse = {
      code: 200,
      message: 'ok',
      sequence_id: sequenceId,
      score: verdict.score,
      level: verdict.level,
      decision: verdict.decision,
      challenge: verdict.challenge,
      ...(challengeToken ? { challenge_token: challengeToken } : {}),
      reasons,
      tags,
      ...(deviceId ? { device_id: deviceId } : {}),
      degraded,
    };

    const record: DecisionRecord = {
      sequence_id: sequenceId,
      app_id: app.id,
      event: request.event,
      event_time: new Date(eventTime).toISOString(),
      created_at: new Date(now).toISOString(),
      score: verdict.score,
      level: verdict.level,
      decision: verdict.decision,
      challenge: verdict.challenge,
      reasons,
      tags,
      device_id: deviceId || null,
      degraded,
      rules_version: evaluation.version,
      rules_hit: evaluation.hits.map((h: RuleHit) => ({ id: h.id, state: h.state, score: h.score })),
      ...(evaluation.errors.length > 0 ? { rules_errors: evaluation.errors.map((e) => ({ id: e.id, message: e.message.slice(0, 300) })) } : {}),
      request: maskRequest(request) as Record<string, unknown>,
      features: features as unknown as Record<string, unknown>,
      latency_ms: Math.round((performance.now() - startedAt) * 1000) / 1000,
    };
    options.records.logDecision(record);
    return { response, record, features, tokenFailure };
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
