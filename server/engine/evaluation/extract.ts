/**
 * Feature extraction: everything one evaluation knows, as the rules see it
 * (features/features.ts), from the request, the decoded token, what the hot
 * state counted, the list hits and the device certificate.
 *
 * Pure: the evaluator (services/evaluator.ts) gathers the inputs from the
 * stores; a re-scoring job can pass recorded ones.
 */
import type { TokenFailure } from '../../../shared/constants.js';
import type { EvaluateRequest } from '../../../shared/schemas.js';
import type { EnrollmentFeatures } from '../enrollment/certificate.js';
import { collectionOf } from '../features/collection.js';
import { PERSISTENT_DEVICE_KEY_STORES, wechatFeatures, type Features, type TokenStatus } from '../features/features.js';
import { readFingerprint } from '../features/fingerprint.js';
import { emailInfo, ipKind, mobileInfo, userAgentMismatch } from '../features/identity.js';
import type { DecodeResult } from '../token/decode.js';
import type { EvaluationObservations, ObservationResult } from './observations.js';

/**
 * The token as decoding left it: a result (a failure is a value), the
 * missing-token placeholder, or undefined when it could not be checked (a
 * decoder failed).
 */
export type CheckedToken = DecodeResult | { ok: false; failure: 'TOKEN_MISSING' } | undefined;

export interface FeatureInputs {
  appId: string;
  request: EvaluateRequest;
  token: CheckedToken;
  /** The evaluation's batch (its readers) and what the hot state answered; undefined when it did not. */
  observations: EvaluationObservations;
  observed: ObservationResult | undefined;
  lists: { black: boolean; white: boolean };
  enrollment: EnrollmentFeatures;
}

/** The failure of a checked token, or undefined when it decoded or could not be checked. */
export function tokenFailureOf(token: CheckedToken): TokenFailure | undefined {
  return token === undefined || token.ok ? undefined : token.failure;
}

/** The opened token (decoded, or replayed but genuine), whose payload can be read. */
export function openedToken(token: CheckedToken) {
  return token && 'payload' in token ? token : undefined;
}

/** The device the token names, or "". */
export function deviceIdOf(token: CheckedToken): string {
  return token && 'deviceId' in token && token.deviceId ? token.deviceId : '';
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

export function extractFeatures(inputs: FeatureInputs): Features {
  const { request, token, observations: batch, observed } = inputs;
  const tokenFailure = tokenFailureOf(token);
  const opened = openedToken(token);
  const signals = opened?.payload.signals ?? {};
  const behavior = opened?.payload.behavior ?? {};
  const automation = signals.automation ?? {};
  const fingerprint = readFingerprint(signals);
  const collection = opened ? collectionOf(opened.payload.platform, signals, behavior) : { missing: [], coreFailed: 0 };
  const deviceNew = observed && batch.deviceSeenIndex >= 0 ? observed.firstSeen[batch.deviceSeenIndex]! : false;
  const templateNew = observed && batch.templateSeenIndex >= 0 ? observed.firstSeen[batch.templateSeenIndex]! : false;
  const email = emailInfo(request.email);
  const mobile = mobileInfo(request.mobile);
  return {
    event: request.event,
    app: inputs.appId,
    platform: opened?.payload.platform ?? 'unknown',
    token: {
      status: token === undefined ? 'unavailable' : tokenStatus(tokenFailure),
      failure: tokenFailure ?? '',
      age_s: opened ? opened.ageSeconds : -1,
      degraded: opened?.payload.degraded ?? false,
    },
    device: { id: deviceIdOf(token), new: deviceNew },
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
    lists: inputs.lists,
    challenge: batch.challenge(observed),
    wechat: wechatFeatures(opened?.payload.platform === 'wechat' ? signals.wechat : undefined),
    enrollment: inputs.enrollment,
  };
}
