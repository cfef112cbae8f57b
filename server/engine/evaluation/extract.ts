/**
 * Feature extraction: everything one evaluation knows, as the rules see it
 * (features/features.ts), composed from one pure function per feature family
 * (features/: token and device, signals, fingerprint, behavior, request,
 * identity, what the hot state observed, wechat) over the request, the checked
 * token, what the hot state counted, the list hits and the device certificate.
 *
 * Pure: the evaluator (services/evaluator.ts) gathers the inputs from the
 * stores; a re-scoring job can pass recorded ones.
 */
import type { EvaluateRequest } from '../../../shared/schemas.js';
import type { EnrollmentFeatures } from '../enrollment/certificate.js';
import { behaviorFeatures } from '../features/behavior.js';
import type { Features } from '../features/features.js';
import { fingerprintFeatures, readFingerprint } from '../features/fingerprint.js';
import { identityFeatures } from '../features/identity.js';
import { observedFeatures } from '../features/observed.js';
import { requestFeatures } from '../features/request.js';
import { signalsFeatures } from '../features/signals.js';
import { deviceFeatures, openedToken, tokenFeatures, type CheckedToken } from '../features/token.js';
import { wechatFeatures } from '../features/wechat.js';
import type { EvaluationObservations, ObservationResult } from './observations.js';

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

export function extractFeatures(inputs: FeatureInputs): Features {
  const { request, token } = inputs;
  const payload = openedToken(token)?.payload;
  const signals = payload?.signals ?? {};
  const fingerprint = readFingerprint(signals);
  const observed = observedFeatures(inputs.observations, inputs.observed);
  return {
    event: request.event,
    app: inputs.appId,
    platform: payload?.platform ?? 'unknown',
    token: tokenFeatures(token),
    device: deviceFeatures(token, observed.deviceNew),
    signals: signalsFeatures(payload, fingerprint.software_renderer),
    fingerprint: fingerprintFeatures(fingerprint, observed),
    behavior: behaviorFeatures(payload),
    request: requestFeatures(request, signals.user_agent),
    ...identityFeatures(request),
    velocity: observed.velocity,
    distinct: observed.distinct,
    lists: inputs.lists,
    challenge: observed.challenge,
    wechat: wechatFeatures(payload?.platform === 'wechat' ? signals.wechat : undefined),
    enrollment: inputs.enrollment,
  };
}
