/**
 * Sends SMS through your own HTTP endpoint (a gateway, a vendor adapter, a queue).
 *
 * The request:
 *
 *     POST <url>
 *     content-type: application/json
 *     x-riskgate-timestamp: 1767225600               (Unix seconds)
 *     x-riskgate-signature: sha256=<hex>             (HMAC-SHA256, key = the shared secret,
 *                                                     message = "<timestamp>.<raw body>")
 *
 *     {"to":"+8613812345678","text":"Your code is 493021","app_id":"shop",
 *      "challenge_id":"ch_…","sent_at":"2026-01-01T00:00:00.000Z"}
 *
 * A receiver should: verify the signature over the raw body bytes (not a
 * re-serialisation) with verifyWebhookSignature, reject timestamps more than a
 * few minutes off, answer 2xx once it has taken the message, 4xx for a request
 * it will never accept (not retried), 5xx for a passing failure (retried once).
 * A retry sends the same body (same sent_at) with a fresh timestamp and
 * signature, so `challenge_id` + `sent_at` identify a message for de-duplication.
 * Redirects are never followed: a 3xx is a rejection.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { SmsSendError, type SmsMessage, type SmsProvider, type SmsSendErrorCode } from './provider.js';

export const WEBHOOK_TIMESTAMP_HEADER = 'x-riskgate-timestamp';
export const WEBHOOK_SIGNATURE_HEADER = 'x-riskgate-signature';
/** Shorter secrets are refused: an HMAC key is only as strong as its length. */
export const MIN_WEBHOOK_SECRET_BYTES = 16;
export const DEFAULT_WEBHOOK_TOLERANCE_SECONDS = 300;

/** The JSON body a receiver gets. */
export interface SmsWebhookPayload {
  to: string;
  text: string;
  app_id: string;
  challenge_id: string;
  /** ISO 8601, when RiskGate first tried to send. */
  sent_at: string;
}

export interface WebhookSmsProviderOptions {
  /** http: or https: URL of the receiver. */
  url: string;
  /** Shared secret for the signature, at least MIN_WEBHOOK_SECRET_BYTES bytes. */
  secret: string;
  /** Per attempt, covering connect, headers and body (ms). Default 3000. */
  timeoutMs?: number;
  /** Extra attempts after a timeout, network error or 5xx. Default 1; 0–3. */
  retries?: number;
  /** Pause before a retry (ms). Default 200. */
  retryDelayMs?: number;
  /** Injected for tests; defaults to the global fetch. */
  fetch?: typeof globalThis.fetch;
  /** Clock (ms since the epoch); injected for tests. */
  now?: () => number;
}

type Attempt =
  | { ok: true }
  | { ok: false; code: SmsSendErrorCode; retryable: boolean; status?: number; cause?: unknown; message: string };

/**
 * POSTs each message, signed, to a webhook.
 *
 * @example
 * const sms = new WebhookSmsProvider({ url: 'https://sms-gw.internal/send', secret: process.env.SMS_SECRET! });
 * try { await sms.send(message); }
 * catch (error) { if (error instanceof SmsSendError && error.code === 'rejected') … }
 */
export class WebhookSmsProvider implements SmsProvider {
  readonly name = 'webhook';
  readonly #url: string;
  readonly #secret: string;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #retryDelayMs: number;
  readonly #fetch: typeof globalThis.fetch;
  readonly #now: () => number;

  constructor(options: WebhookSmsProviderOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new TypeError('WebhookSmsProvider: url is not a valid URL');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError('WebhookSmsProvider: url must be http: or https:');
    assertSecret(options.secret);
    this.#url = url.href;
    this.#secret = options.secret;
    this.#timeoutMs = integerIn('timeoutMs', options.timeoutMs ?? 3000, 1, 60_000);
    this.#retries = integerIn('retries', options.retries ?? 1, 0, 3);
    this.#retryDelayMs = integerIn('retryDelayMs', options.retryDelayMs ?? 200, 0, 10_000);
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#now = options.now ?? Date.now;
  }

  async send(message: SmsMessage): Promise<void> {
    const payload: SmsWebhookPayload = {
      to: message.to,
      text: message.text,
      app_id: message.appId,
      challenge_id: message.challengeId,
      sent_at: new Date(this.#now()).toISOString(),
    };
    const body = JSON.stringify(payload);
    let attempts = 0;
    for (;;) {
      attempts++;
      const outcome = await this.#attempt(body);
      if (outcome.ok) return;
      if (!outcome.retryable || attempts > this.#retries) {
        throw new SmsSendError(outcome.code, `SMS webhook: ${outcome.message} (attempt ${attempts})`, {
          attempts,
          ...(outcome.status === undefined ? {} : { status: outcome.status }),
          cause: outcome.cause,
        });
      }
      if (this.#retryDelayMs > 0) await sleep(this.#retryDelayMs);
    }
  }

  async #attempt(body: string): Promise<Attempt> {
    const timestamp = String(Math.floor(this.#now() / 1000));
    const signal = AbortSignal.timeout(this.#timeoutMs);
    let response: Response;
    try {
      response = await this.#fetch(this.#url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [WEBHOOK_TIMESTAMP_HEADER]: timestamp,
          [WEBHOOK_SIGNATURE_HEADER]: signWebhookPayload(this.#secret, timestamp, body),
        },
        body,
        redirect: 'manual',
        signal,
      });
    } catch (error) {
      return isTimeout(error, signal)
        ? { ok: false, code: 'timeout', retryable: true, cause: error, message: `no answer within ${this.#timeoutMs} ms` }
        : { ok: false, code: 'network', retryable: true, cause: error, message: 'request failed' };
    }
    // Drain the body (within the same time limit) so the connection can be reused;
    // once the status is in, a failure here changes nothing.
    await response.arrayBuffer().catch(() => undefined);
    const status = response.status;
    if (status >= 200 && status < 300) return { ok: true };
    if (status >= 500) return { ok: false, code: 'rejected', retryable: true, status, message: `receiver answered ${status}` };
    if (status >= 300 && status < 400) return { ok: false, code: 'rejected', retryable: false, status, message: `receiver answered a redirect (${status}); redirects are not followed` };
    return { ok: false, code: 'rejected', retryable: false, status, message: `receiver answered ${status}` };
  }
}

/** The signature header value for a body: `sha256=` + hex HMAC-SHA256 of "<timestamp>.<body>". */
export function signWebhookPayload(secret: string, timestamp: string, body: string | Uint8Array): string {
  return `sha256=${hmac(secret, timestamp, body).toString('hex')}`;
}

export type WebhookVerifyFailure = 'malformed_timestamp' | 'stale_timestamp' | 'malformed_signature' | 'bad_signature';

/**
 * For receivers: checks a request's signature and freshness.
 *
 * `body` must be the raw request body (string or bytes) exactly as received;
 * `timestamp` and `signature` are the header values (an array, as node:http
 * gives for repeated headers, is malformed); `now` is the current time in Unix
 * SECONDS. The comparison is constant-time.
 *
 * @example
 * const result = verifyWebhookSignature(secret, req.headers['x-riskgate-timestamp'], rawBody,
 *   req.headers['x-riskgate-signature'], Math.floor(Date.now() / 1000));
 * if (!result.ok) return res.writeHead(401).end(result.failure);
 */
export function verifyWebhookSignature(
  secret: string,
  timestamp: string | string[] | undefined,
  body: string | Uint8Array,
  signature: string | string[] | undefined,
  now: number,
  toleranceSeconds = DEFAULT_WEBHOOK_TOLERANCE_SECONDS,
): { ok: true } | { ok: false; failure: WebhookVerifyFailure } {
  assertSecret(secret);
  if (!Number.isFinite(now) || now < 0 || now > 1e11) throw new TypeError('verifyWebhookSignature: now must be Unix time in seconds (not milliseconds)');
  if (!Number.isFinite(toleranceSeconds) || toleranceSeconds < 0) throw new TypeError('verifyWebhookSignature: toleranceSeconds must be a non-negative number');
  if (typeof timestamp !== 'string' || !/^\d{1,12}$/.test(timestamp)) return { ok: false, failure: 'malformed_timestamp' };
  // Both directions: a timestamp from the future is as suspect as an old one.
  if (Math.abs(now - Number(timestamp)) > toleranceSeconds) return { ok: false, failure: 'stale_timestamp' };
  if (typeof signature !== 'string') return { ok: false, failure: 'malformed_signature' };
  const match = /^sha256=([0-9a-f]{64})$/i.exec(signature.trim());
  if (!match) return { ok: false, failure: 'malformed_signature' };
  const given = Buffer.from(match[1]!, 'hex');
  const expected = hmac(secret, timestamp, body);
  return given.length === expected.length && timingSafeEqual(given, expected) ? { ok: true } : { ok: false, failure: 'bad_signature' };
}

function hmac(secret: string, timestamp: string, body: string | Uint8Array): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest();
}

function assertSecret(secret: unknown): asserts secret is string {
  if (typeof secret !== 'string' || Buffer.byteLength(secret) < MIN_WEBHOOK_SECRET_BYTES) {
    throw new TypeError(`SMS webhook secret must be at least ${MIN_WEBHOOK_SECRET_BYTES} bytes`);
  }
}

function integerIn(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new TypeError(`WebhookSmsProvider: ${name} must be an integer from ${min} to ${max}`);
  return value;
}

function isTimeout(error: unknown, signal: AbortSignal): boolean {
  if (signal.aborted) return true;
  const name = typeof error === 'object' && error !== null ? (error as { name?: unknown }).name : undefined;
  return name === 'TimeoutError' || name === 'AbortError';
}
