/**
 * The SDK's one error class. Collection problems never throw (they mark the
 * token `degraded`); these are the cases where no token can be made at all.
 * A caller's own mistake (a missing `appKey`, a malformed `publicKey`) is a
 * `TypeError` at `init`, as in jose.
 */

/**
 * - `key_unavailable`: no server key: `GET {endpoint}/v1/keys` failed twice
 *   (network, CORS, HTTP error or no usable P-256 key) and none was cached.
 * - `crypto_unavailable`: no WebCrypto (`crypto.subtle` exists only in secure
 *   contexts: HTTPS or localhost) or it refused P-256.
 */
export type RiskGateErrorCode = 'key_unavailable' | 'crypto_unavailable';

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
