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
 *
 * Where it connects and how long it waits are bounded: https only (plain http
 * with `allowInsecureHttp`, for development), public addresses only unless
 * `allowedNetworks` names them (webhook-target.ts), a connect timeout and a
 * per-attempt timeout. A send takes at most
 * (retries + 1) × timeoutMs + retries × retryDelayMs: 6.2 s by default.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { lookup as dnsLookup } from 'node:dns';
import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { SmsSendError, type SmsMessage, type SmsProvider, type SmsSendErrorCode } from './provider.js';
import { BlockedTargetError, webhookUrlProblem, WebhookTargetPolicy } from './webhook-target.js';

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
  /** https: URL of the receiver (http: only with allowInsecureHttp). */
  url: string;
  /** Shared secret for the signature, at least MIN_WEBHOOK_SECRET_BYTES bytes. */
  secret: string;
  /** Allow a plain http: URL (development only: the code crosses the network in clear). Default false. */
  allowInsecureHttp?: boolean;
  /** Non-public addresses or CIDRs the receiver may be at (a gateway on the private network). Default none. */
  allowedNetworks?: readonly string[];
  /** Per attempt, from the start of the connection to the response's status line (ms). Default 3000. */
  timeoutMs?: number;
  /** Per attempt, to have a connection ready: DNS, TCP and TLS (ms); at most timeoutMs. Default 1000. */
  connectTimeoutMs?: number;
  /** Extra attempts after a timeout, network error or 5xx. Default 1; 0–3. */
  retries?: number;
  /** Pause before a retry (ms). Default 200. */
  retryDelayMs?: number;
  /** DNS look-up, injected for tests; defaults to dns.lookup. Its answers are checked all the same. */
  resolve?: typeof dnsLookup;
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
 * const sms = new WebhookSmsProvider({ url: 'https://sms-gw.example/send', secret: process.env.SMS_SECRET! });
 * try { await sms.send(message); }
 * catch (error) { if (error instanceof SmsSendError && error.code === 'rejected') … }
 */
export class WebhookSmsProvider implements SmsProvider {
  readonly name = 'webhook';
  readonly #url: URL;
  readonly #secret: string;
  readonly #timeoutMs: number;
  readonly #connectTimeoutMs: number;
  readonly #retries: number;
  readonly #retryDelayMs: number;
  readonly #lookup: LookupFunction;
  readonly #now: () => number;

  constructor(options: WebhookSmsProviderOptions) {
    const policy = new WebhookTargetPolicy(options.allowedNetworks);
    const problem = webhookUrlProblem(options.url, { allowInsecureHttp: options.allowInsecureHttp ?? false, policy });
    if (problem) throw new TypeError(`WebhookSmsProvider: url ${problem}`);
    assertSecret(options.secret);
    this.#url = new URL(options.url);
    this.#secret = options.secret;
    this.#timeoutMs = integerIn('timeoutMs', options.timeoutMs ?? 3000, 1, 60_000);
    this.#connectTimeoutMs = integerIn('connectTimeoutMs', options.connectTimeoutMs ?? Math.min(1000, this.#timeoutMs), 1, this.#timeoutMs);
    this.#retries = integerIn('retries', options.retries ?? 1, 0, 3);
    this.#retryDelayMs = integerIn('retryDelayMs', options.retryDelayMs ?? 200, 0, 10_000);
    this.#lookup = policy.lookup(options.resolve);
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
    let status: number;
    try {
      status = await postOnce(
        this.#url,
        {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          [WEBHOOK_TIMESTAMP_HEADER]: timestamp,
          [WEBHOOK_SIGNATURE_HEADER]: signWebhookPayload(this.#secret, timestamp, body),
        },
        body,
        { timeoutMs: this.#timeoutMs, connectTimeoutMs: this.#connectTimeoutMs, lookup: this.#lookup },
      );
    } catch (error) {
      if (error instanceof BlockedTargetError) return { ok: false, code: 'blocked', retryable: false, cause: error, message: `refused to connect: ${error.message}` };
      if (error instanceof WebhookTimeout) return { ok: false, code: 'timeout', retryable: true, cause: error, message: error.message };
      return { ok: false, code: 'network', retryable: true, cause: error, message: 'request failed' };
    }
    if (status >= 200 && status < 300) return { ok: true };
    if (status >= 500) return { ok: false, code: 'rejected', retryable: true, status, message: `receiver answered ${status}` };
    if (status >= 300 && status < 400) return { ok: false, code: 'rejected', retryable: false, status, message: `receiver answered a redirect (${status}); redirects are not followed` };
    return { ok: false, code: 'rejected', retryable: false, status, message: `receiver answered ${status}` };
  }
}

class WebhookTimeout extends Error {
  override readonly name = 'WebhookTimeout';
}

/**
 * One POST; resolves with the response's status. node:http follows no
 * redirect and uses no proxy; `agent: false` gives each attempt its own
 * connection, so each one looks its target up (and checks it) afresh.
 */
function postOnce(url: URL, headers: OutgoingHttpHeaders, body: string, limits: { timeoutMs: number; connectTimeoutMs: number; lookup: LookupFunction }): Promise<number> {
  return new Promise((resolve, reject) => {
    const secure = url.protocol === 'https:';
    const request = (secure ? httpsRequest : httpRequest)(url, { method: 'POST', headers, agent: false, lookup: limits.lookup });
    // Also bounds a response body that stalls after the status: the connection is cut.
    const total = setTimeout(() => request.destroy(new WebhookTimeout(`no answer within ${limits.timeoutMs} ms`)), limits.timeoutMs);
    request.on('socket', (socket) => {
      const connect = setTimeout(() => request.destroy(new WebhookTimeout(`not connected within ${limits.connectTimeoutMs} ms`)), limits.connectTimeoutMs);
      socket.once(secure ? 'secureConnect' : 'connect', () => clearTimeout(connect));
      socket.once('close', () => clearTimeout(connect));
    });
    request.on('response', (response) => {
      // The status is what counts; the body is drained, not waited for.
      resolve(response.statusCode ?? 0);
      response.on('error', () => undefined);
      response.resume();
    });
    request.on('error', reject);
    request.on('close', () => clearTimeout(total));
    request.end(body);
  });
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
