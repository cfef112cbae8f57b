/**
 * The `token` and `device` families: what checking the black_box left
 * (engine/token/decode.ts), as the rules see it, and the readers the other
 * families and the evaluator share: the failure, the opened token whose payload
 * can be read, the device it names.
 *
 * Pure.
 */
import type { TokenFailure } from '../../../shared/constants.js';
import type { DecodeResult } from '../token/decode.js';
import type { Features, TokenStatus } from './features.js';

/**
 * The token as decoding left it: a result (a failure is a value), the
 * missing-token placeholder, or undefined when it could not be checked (a
 * decoder failed).
 */
export type CheckedToken = DecodeResult | { ok: false; failure: 'TOKEN_MISSING' } | undefined;

/** The placeholder for a request without a black_box. */
export const MISSING_TOKEN = Object.freeze({ ok: false, failure: 'TOKEN_MISSING' } as const);

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

/** The `token` group: its status, failure, age and the SDK's own degraded flag. */
export function tokenFeatures(token: CheckedToken): Features['token'] {
  const failure = tokenFailureOf(token);
  const opened = openedToken(token);
  return {
    status: token === undefined ? 'unavailable' : tokenStatus(failure),
    failure: failure ?? '',
    age_s: opened ? opened.ageSeconds : -1,
    degraded: opened?.payload.degraded ?? false,
  };
}

/** The `device` group: the token's device, and whether this app had not seen it before (from the hot state). */
export function deviceFeatures(token: CheckedToken, firstSeen: boolean): Features['device'] {
  return { id: deviceIdOf(token), new: firstSeen };
}
