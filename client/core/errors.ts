/**
 * The SDKs' one error class (web and mini-program). Collection problems never
 * throw (they mark the token `degraded`); these are the cases where no token
 * can be made at all, and the ways a challenge can end without a `session_id`.
 * A caller's own mistake (a missing `appKey`, a malformed `publicKey`, a
 * `challengeToken` that is not a string) is a `TypeError`, as in jose.
 */

/**
 * - `key_unavailable`: no server key: `GET {endpoint}/v1/keys` failed twice
 *   (network, CORS, HTTP error or no usable P-256 key) and none was cached.
 * - `crypto_unavailable`: no WebCrypto (`crypto.subtle` exists only in secure
 *   contexts: HTTPS or localhost) or it refused P-256; in a mini-program, an
 *   engine without BigInt (iOS before 14) or a failed signature.
 *
 * From `challenge()` and `slider()`:
 * - `challenge_failed`: the user used up the attempts (wrong slider drags or
 *   SMS codes). Treat it as the risk decision stands: refuse or hold the action.
 * - `challenge_cancelled`: the user closed the dialog (× button, Escape, or the
 *   backdrop). Let them try the action again.
 * - `challenge_expired`: the challenge_token or the challenge was unknown, used
 *   or too old (tokens and challenges live 10 minutes by default). Evaluate again
 *   for a fresh token.
 * - `challenge_unavailable`: RiskGate could not be reached or answered with an
 *   error (network, CORS/origin not allowed, 5xx, rate limit on starts), or the
 *   challenge UI script could not be loaded. Your fallback policy decides.
 */
export type RiskGateErrorCode =
  | 'key_unavailable'
  | 'crypto_unavailable'
  | 'challenge_failed'
  | 'challenge_cancelled'
  | 'challenge_expired'
  | 'challenge_unavailable';

export class RiskGateError extends Error {
  override readonly name = 'RiskGateError';

  constructor(
    readonly code: RiskGateErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message);
    if (options && 'cause' in options) (this as { cause?: unknown }).cause = options.cause;
  }
}
