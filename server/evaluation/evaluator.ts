/**
 * One evaluation, T+0: decode the black_box, look up lists and velocity in
 * parallel, compute features, run the rules, decide, and queue the record.
 *
 * Bypass (seed 004): a slow or failing dependency is skipped after its time
 * budget and the answer says `degraded: true`; nothing here answers a 5xx for
 * a store outage.
 */
import { randomUUID } from 'node:crypto';
import type { ListDimension, TokenFailure } from '../../shared/constants.js';
import { ENGINE_REASONS, type ReasonLanguage, type ReasonText } from '../../shared/reasons.js';
import type { DecisionRecord, EvaluateRequest, EvaluateResponse, Reason } from '../../shared/schemas.js';
import type { AppSettings } from '../config/config.js';
import {
  DISTINCT_PAIRS,
  PERSISTENT_DEVICE_KEY_STORES,
  VELOCITY_DIMENSIONS,
  WINDOW_NAMES,
  WINDOWS,
  wechatFeatures,
  type DistinctFeature,
  type Features,
  type TokenStatus,
  type VelocityFeature,
} from '../features/features.js';
import { collectionOf } from '../features/collection.js';
import { fingerprintKeys, readFingerprint, type FingerprintKeys } from '../features/fingerprint.js';
import { emailInfo, ipKind, mobileInfo, userAgentMismatch } from '../features/identity.js';
import type { IdentifierKeys } from '../records/identifiers.js';
import { maskRequest } from '../records/identifiers.js';
import type { ListLookup, ListMatch, Records } from '../records/records.js';
import type { RuleError, RuleHit, RuleSet } from '../rules/ruleset.js';
import { atLeastChallenge, listVerdict, scoreHits, type Verdict } from '../scoring/decide.js';
import { HotStateFullError, type HotState, type ObservationBatch, type ObservationResult } from '../state/hot-state.js';
import { decodeBlackBox, type DecodeResult, type OpenResult } from '../token/decode.js';
import { OUTCOME_WINDOWS_MS, outcomeKey, recordOutcome, type ChallengeOutcome, type EscalationMark, type OutcomeEntity } from '../challenges/outcomes.js';
import type { ChallengeService } from '../challenges/service.js';
import type { EnrollmentService } from '../enrollment/service.js';
import { NO_ENROLLMENT } from '../enrollment/service.js';

export interface EvaluatorOptions {
  /** Decrypts and verifies a black_box (server/token/openers.ts). */
  openToken: (token: string) => Promise<OpenResult>;
  /** Issues challenge_tokens when a slider or SMS is advised. */
  challenges?: Pick<ChallengeService, 'issueToken'>;
  /** Checks a token's device certificate (server/enrollment). */
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

const WINDOW_LENGTHS = WINDOW_NAMES.map((w) => WINDOWS[w]);
const DEVICE_MEMORY_MS = 90 * 86_400_000;

class DependencyTimeout extends Error {}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DependencyTimeout(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Time-ordered and unique: 12 hex digits of milliseconds and 20 random ones
 * (TongDun's 32-character form). randomUUID draws from a cached entropy pool,
 * several times cheaper per call than randomBytes on this hot path.
 */
export function newSequenceId(now = Date.now()): string {
  return (now.toString(16).padStart(12, '0') + randomUUID().replaceAll('-', '').slice(0, 20)).toUpperCase();
}

function tokenStatus(failure: TokenFailure | undefined): TokenStatus {
  switch (failure) {
    case undefined:
      return 'ok';
    case 'TOKEN_MISSING':
      return 'missing';
    case 'TOKEN_EXPIRED':
      return 'expired';
    case 'TOKEN_REPLAYED':
      return 'replayed';
    default:
      return 'invalid';
  }
}

const zeroes = <K extends string>(names: readonly K[]): Readonly<Record<K, number>> =>
  Object.freeze(Object.fromEntries(names.map((n) => [n, 0])) as Record<K, number>);
const NO_VELOCITY = zeroes(VELOCITY_DIMENSIONS.flatMap((d) => WINDOW_NAMES.map((w) => `${d}_${w}` as VelocityFeature)));
const NO_DISTINCT = zeroes(DISTINCT_PAIRS.flatMap(([of, what]) => WINDOW_NAMES.map((w) => `${of}_${what}_${w}` as DistinctFeature)));

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
    let decoded: DecodeResult | { ok: false; failure: 'TOKEN_MISSING' } | undefined = { ok: false, failure: 'TOKEN_MISSING' };
    if (request.black_box) {
      decoded = await decodeBlackBox(request.black_box, {
        open: options.openToken,
        appKey: app.key,
        now: Math.floor(now / 1000),
        maxAgeSeconds: options.maxTokenAgeSeconds,
        clockSkewSeconds: options.clockSkewSeconds,
        claimJti: (jti, ttlMs) =>
          withTimeout(options.hotState.claimOnce(`jti:${jti}`, ttlMs, `jti:${app.id}`), options.dependencyTimeoutMs).catch((error: unknown) => {
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
    const tokenFailure = decoded === undefined || decoded.ok ? undefined : decoded.failure;
    const opened = decoded && 'payload' in decoded ? decoded : undefined;
    const deviceId = decoded && 'deviceId' in decoded && decoded.deviceId ? decoded.deviceId : '';

    // 2. Identifiers, then lists and velocity in parallel.
    const { identifiers } = options;
    const idKeys: Partial<Record<ListDimension, string>> = {};
    if (request.ip) idKeys.ip = identifiers.key('ip', request.ip);
    if (deviceId) idKeys.device = deviceId;
    if (request.account_id) idKeys.account = identifiers.key('account', request.account_id, app.identifiers);
    if (request.mobile) idKeys.mobile = identifiers.key('mobile', request.mobile);
    if (request.email) idKeys.email = identifiers.key('email', request.email);

    const lookups: ListLookup[] = Object.entries(idKeys).map(([dimension, valueKey]) => ({ dimension: dimension as ListDimension, valueKey }));
    const machine = opened ? fingerprintKeys(opened.payload.signals) : { visitor: '', template: '' };
    const batch = this.observationBatch(app.id, request.event, eventTime, idKeys, machine);

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
    const signals = opened?.payload.signals ?? {};
    const behavior = opened?.payload.behavior ?? {};
    const automation = signals.automation ?? {};
    const fingerprint = readFingerprint(signals);
    const collection = opened ? collectionOf(opened.payload.platform, signals, behavior) : { missing: [], coreFailed: 0 };
    const deviceNew = observed && batch.deviceSeenIndex >= 0 ? observed.firstSeen[batch.deviceSeenIndex]! : false;
    const templateNew = observed && batch.templateSeenIndex >= 0 ? observed.firstSeen[batch.templateSeenIndex]! : false;
    const email = emailInfo(request.email);
    const mobile = mobileInfo(request.mobile);
    const features: Features = {
      event: request.event,
      app: app.id,
      platform: opened?.payload.platform ?? 'unknown',
      token: {
        status: decoded === undefined ? 'unavailable' : tokenStatus(tokenFailure),
        failure: tokenFailure ?? '',
        age_s: opened ? opened.ageSeconds : -1,
        degraded: opened?.payload.degraded ?? false,
      },
      device: { id: deviceId, new: deviceNew },
      signals: {
        webdriver: automation.webdriver ?? false,
        headless_ua: automation.headless_ua ?? false,
        cdp: automation.cdp ?? false,
        cdp_inspector: automation.cdp_signs?.some((sign) => sign === 'stack_format' || sign === 'error_name') ?? false,
        cdp_eval: automation.cdp_signs?.includes('eval_stack') ?? false,
        automation_globals: automation.automation_globals?.length ?? 0,
        missing_chrome_objects: automation.missing_chrome_objects?.length ?? 0,
        permissions_inconsistent: automation.permissions_inconsistent ?? false,
        no_plugins: automation.no_plugins ?? false,
        window_anomaly: automation.window_anomaly ?? false,
        // Read from the renderer strings here; the SDK's own verdict (automation.software_renderer) is not trusted.
        software_renderer: fingerprint.software_renderer,
        lies: signals.lies?.length ?? 0,
        inconsistencies: signals.inconsistencies?.length ?? 0,
        device_key_fallback: signals.device_key_store !== undefined && !PERSISTENT_DEVICE_KEY_STORES.includes(signals.device_key_store),
        source_errors: signals.errors ? Object.keys(signals.errors).length : 0,
        missing_sources: collection.missing.length,
        core_source_errors: collection.coreFailed,
      },
      fingerprint: { ...fingerprint, template_new: templateNew && deviceNew },
      behavior: {
        present: opened !== undefined && Object.keys(behavior).length > 0,
        pointer_moves: behavior.pointer_moves ?? 0,
        clicks: behavior.clicks ?? 0,
        touches: behavior.touches ?? 0,
        key_presses: behavior.key_presses ?? 0,
        pastes: behavior.pastes ?? 0,
        focus_changes: behavior.focus_changes ?? 0,
        dwell_ms: behavior.dwell_ms ?? 0,
        untrusted_events: behavior.untrusted_events ?? 0,
        move_interval_mean_ms: behavior.move_interval_mean_ms ?? -1,
        move_interval_sd_ms: behavior.move_interval_sd_ms ?? -1,
        key_interval_mean_ms: behavior.key_interval_mean_ms ?? -1,
        key_interval_sd_ms: behavior.key_interval_sd_ms ?? -1,
      },
      request: {
        has_account: Boolean(request.account_id),
        has_mobile: Boolean(request.mobile),
        has_email: Boolean(request.email),
        has_ip: Boolean(request.ip),
        has_user_agent: Boolean(request.user_agent),
        ua_mismatch: userAgentMismatch(request.user_agent, signals.user_agent),
      },
      ip: { kind: ipKind(request.ip) },
      email: { domain: email.domain, disposable: email.disposable },
      mobile: { country_code: mobile.country_code, virtual_operator: mobile.virtual_operator },
      velocity: batch.velocity(observed),
      distinct: batch.distinct(observed),
      lists: { black: listResult.black.length > 0, white: listResult.white.length > 0 },
      challenge: batch.challenge(observed),
      wechat: wechatFeatures(opened?.payload.platform === 'wechat' ? signals.wechat : undefined),
      enrollment: await enrollment,
    };

    // 4. Lists first, then rules.
    const evaluation = rules.evaluate(features);
    if (evaluation.errors.length > 0) options.onRuleErrors?.(evaluation.errors);
    let verdict: Verdict;
    const reasonTexts: { id: string; text: ReasonText }[] = [];
    let tags: string[];
    if (features.lists.white || features.lists.black) {
      const list = features.lists.white ? 'white' : 'black';
      verdict = listVerdict(list, scoring);
      reasonTexts.push({ id: `list_${list}`, text: ENGINE_REASONS[`list_${list}`] });
      tags = [list === 'white' ? 'whitelist' : 'blacklist'];
    } else {
      verdict = scoreHits(evaluation.hits, scoring);
      // A missing, undecodable or unchecked black_box is never a plain accept, whatever the rules and
      // levels say. Nor is an SDK token without a valid device certificate, until a challenge passed
      // on this device or account this hour: minting a device must cost something.
      const unenrolled = opened !== undefined && features.enrollment.status !== 'ok' && features.challenge.passed_1h === 0;
      if ((tokenFailure && tokenFailure !== 'TOKEN_REPLAYED') || decoded === undefined || unenrolled) verdict = atLeastChallenge(verdict, scoring);
      // Sticky escalation: once an SMS was advised, asking again advises nothing weaker until one passes.
      if (features.challenge.sms_pending && verdict.challenge !== 'sms' && verdict.challenge !== 'block') {
        verdict = { ...atLeastChallenge(verdict, scoring), challenge: 'sms' };
        engineReasons.push('challenge_escalated');
      }
      const online = evaluation.hits.filter((h) => h.state === 'online').sort((a, b) => b.score - a.score);
      for (const hit of online) reasonTexts.push({ id: hit.id, text: hit.reason });
      tags = [...new Set(online.flatMap((h) => h.tags))];
    }

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

  /** What one evaluation counts, as one batch, with readers for its results. */
  private observationBatch(appId: string, event: string, at: number, idKeys: Partial<Record<ListDimension, string>>, machine: FingerprintKeys) {
    const counters: ObservationBatch['counters'][number][] = [];
    const counterFeatures: VelocityFeature[][] = [];
    for (const dimension of VELOCITY_DIMENSIONS) {
      const value = idKeys[dimension];
      if (!value) continue;
      // One hash tag per entity keeps a Redis Cluster script in one slot.
      counters.push({ key: `v:{${appId}:${dimension}:${value}}:${event}`, windowsMs: WINDOW_LENGTHS });
      counterFeatures.push(WINDOW_NAMES.map((w) => `${dimension}_${w}` as VelocityFeature));
    }
    const members = { accounts: idKeys.account, mobiles: idKeys.mobile, devices: idKeys.device };
    const owners = { ...idKeys, visitor: machine.visitor, template: machine.template };
    const distinct: ObservationBatch['distinct'][number][] = [];
    const distinctFeatures: DistinctFeature[][] = [];
    for (const [of, what] of DISTINCT_PAIRS) {
      const owner = owners[of];
      const member = members[what];
      if (!owner || !member) continue;
      distinct.push({ key: `d:{${appId}:${of}:${owner}}:${what}`, member, windowsMs: WINDOW_LENGTHS });
      distinctFeatures.push(WINDOW_NAMES.map((w) => `${of}_${what}_${w}` as DistinctFeature));
    }
    // The challenge loop: read (without counting) what this device and account did with challenges.
    const outcomeReads: { outcome: ChallengeOutcome | EscalationMark; index: number }[] = [];
    for (const entity of ['device', 'account'] as const satisfies readonly OutcomeEntity[]) {
      const value = idKeys[entity];
      if (!value) continue;
      for (const outcome of ['started', 'passed', 'failed', 'sms_advised', 'sms_passed'] as const) {
        outcomeReads.push({ outcome, index: counters.length });
        counters.push({ key: outcomeKey(appId, entity, value, outcome), windowsMs: OUTCOME_WINDOWS_MS, record: false });
      }
    }
    const firstSeen: ObservationBatch['firstSeen'][number][] = [];
    const deviceSeenIndex = idKeys.device ? firstSeen.push({ key: `s:{${appId}:device:${idKeys.device}}`, ttlMs: this.deviceMemoryMs }) - 1 : -1;
    const templateSeenIndex = machine.template ? firstSeen.push({ key: `s:{${appId}:template:${machine.template}}`, ttlMs: this.deviceMemoryMs }) - 1 : -1;
    return {
      batch: { at, counters, distinct, firstSeen } satisfies ObservationBatch,
      deviceSeenIndex,
      templateSeenIndex,
      velocity(result: ObservationResult | undefined): Record<VelocityFeature, number> {
        const out = { ...NO_VELOCITY };
        if (result) counterFeatures.forEach((names, i) => names.forEach((name, w) => (out[name] = result.counters[i]![w]!)));
        return out;
      },
      challenge(result: ObservationResult | undefined): Features['challenge'] {
        const most = { started: 0, passed: 0, failed: 0, passed_1h: 0, sms_advised: 0, sms_passed: 0 };
        if (result) {
          for (const { outcome, index } of outcomeReads) {
            const [hour = 0, day = 0] = result.counters[index] ?? [];
            if (outcome === 'sms_advised' || outcome === 'sms_passed') most[outcome] = Math.max(most[outcome], hour);
            else most[outcome] = Math.max(most[outcome], day);
            if (outcome === 'passed') most.passed_1h = Math.max(most.passed_1h, hour);
          }
        }
        return {
          passed_1h: most.passed_1h,
          failed_24h: most.failed,
          abandoned_24h: Math.max(0, most.started - most.passed - most.failed),
          sms_pending: most.sms_advised > 0 && most.sms_passed === 0,
        };
      },
      distinct(result: ObservationResult | undefined): Record<DistinctFeature, number> {
        const out = { ...NO_DISTINCT };
        if (result) distinctFeatures.forEach((names, i) => names.forEach((name, w) => (out[name] = result.distinct[i]![w]!)));
        return out;
      },
    };
  }
}
