/**
 * The `request` family: which identifiers the business backend sent, and
 * whether its user agent is the one the token saw.
 *
 * Pure.
 */
import type { EvaluateRequest } from '../../../shared/schemas.js';
import type { Features } from './features.js';
import { userAgentMismatch } from './identity.js';

/** The `request` group; `tokenUserAgent` is the user agent in the token's signals, if any. */
export function requestFeatures(request: EvaluateRequest, tokenUserAgent: string | undefined): Features['request'] {
  return {
    has_account: Boolean(request.account_id),
    has_mobile: Boolean(request.mobile),
    has_email: Boolean(request.email),
    has_ip: Boolean(request.ip),
    has_user_agent: Boolean(request.user_agent),
    ua_mismatch: userAgentMismatch(request.user_agent, tokenUserAgent),
  };
}
