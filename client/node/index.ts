/**
 * RiskGate client for business backends (`riskgate/node`).
 *
 * Risk control must never block the business (the "bypass" principle): a slow,
 * unreachable or broken RiskGate answers with a configured fallback decision
 * instead of an exception. Only the caller's own mistakes (4xx: bad input,
 * bad credentials) reject.
 *
 * Confirming a challenge is the opposite case: `verify` fails CLOSED. When
 * RiskGate cannot say that a session_id passed, the answer is
 * `success: false` (with `fallback: true`), never a pass.
 *
 * Dependency-free: global `fetch` (Node 20+), types from the shared contracts.
 */
import { CHALLENGE_TYPES, CHALLENGES, DECISIONS, EVENTS, LEVELS, VERIFY_FAILURES } from '../../shared/constants.js';
import type { ChallengeKind, ChallengeType, Decision, RiskEvent, RiskLevel, VerifyFailure } from '../../shared/constants.js';
import type { ErrorBody, EvaluateRequest, EvaluateResponse, VerifyRequest, VerifyResponse } from '../../shared/schemas.js';

export type { EvaluateRequest, EvaluateResponse, VerifyResponse } from '../../shared/schemas.js';

/** Why `evaluate` answered with the fallback instead of RiskGate's decision. */
export type FallbackReason = 'timeout' | 'network' | 'server_error' | 'rate_limited' | 'bad_response';

/** RiskGate's answer, or the fallback (then `fallback: true`, `degraded: true`). */
export type EvaluateResult = EvaluateResponse & { fallback?: true; fallback_reason?: FallbackReason };

/**
 * `verify`'s answer: RiskGate's (`success` true, or false with the `error`
 * saying why), or — when RiskGate could not answer — a refusal with
 * `error: 'unavailable'`, `fallback: true` and the `fallback_reason`. Only
 * `success === true` means the session passed.
 */
export type VerifyResult =
  | (VerifyResponse & { fallback?: undefined })
  | {
      code: 200;
      message: string;
      success: false;
      error: 'unavailable';
      fallback: true;
      fallback_reason: FallbackReason;
    };

export interface VerifyOptions {
  /** When given, the session must belong to this account (else `error: 'account_mismatch'`). */
  accountId?: string;
  /** When given, the challenge must have been passed for this event (else `event_mismatch`). */
  event?: RiskEvent;
  /**
   * The `sequence_id` of the evaluation whose challenge this session must come from
   * (else `challenge_mismatch`): a session from another challenge (a slider instead of
   * the SMS that was advised) does not confirm this one.
   */
  sequenceId?: string;
  /** The weakest challenge type accepted (`sms` is stronger than `slider`; else `challenge_mismatch`). */
  minType?: ChallengeType;
}

/** What to answer when RiskGate cannot. Unset fields: score 0, level 0, challenge `none`. */
export interface FallbackDecision {
  decision: Decision;
  score?: number;
  level?: RiskLevel;
  challenge?: ChallengeKind;
}

/** A pino-compatible logger; only `warn` is used. */
export interface RiskGateLogger {
  warn(obj: object, msg: string): void;
}

export interface RiskGateClientOptions {
  /** RiskGate's base URL, e.g. `https://risk.internal:8080` (a path prefix is kept). */
  baseUrl: string;
  /** The app secret, sent as `Authorization: Bearer <secret>`. */
  secret: string;
  /** Whole-call budget in milliseconds, body included. Default 300. */
  timeoutMs?: number;
  /** Default `{ decision: 'accept' }`. */
  fallback?: FallbackDecision;
  logger?: RiskGateLogger;
  /** Replaces the global `fetch` (a proxy agent, instrumentation). */
  fetch?: typeof fetch;
}

/** Counters since the client was made. */
export interface RiskGateStats {
  /** Calls made. */
  requests: number;
  /** Calls that ran out of time. */
  timeouts: number;
  /** Calls that failed otherwise: network, 5xx, 429, bad answers, and rejected 4xx. */
  errors: number;
  /** Calls answered with the fallback (timeouts included): evaluate's fallback decision, verify's refusal. */
  fallbacks: number;
}

/**
 * RiskGate refused the request as the caller's mistake (HTTP 4xx: a missing or
 * invalid field, a wrong secret). Fix the call; retrying will not help.
 *
 * @example
 * ```ts
 * try { await risk.evaluate(req) } catch (err) {
 *   if (err instanceof RiskGateRequestError) log.error({ code: err.code, field: err.field }, err.message)
 * }
 * ```
 */
export class RiskGateRequestError extends Error {
  override readonly name = 'RiskGateRequestError';
  /** HTTP status. */
  readonly status: number;
  /** RiskGate's numeric error code (9002, 4010, …); 0 when the body carried none. */
  readonly code: number;
  /** RiskGate's error name (`FIELD_INVALID`, `BAD_CREDENTIALS`, …). */
  readonly error: string;
  /** The offending request field, when RiskGate names one. */
  readonly field: string | undefined;

  constructor(status: number, body: Partial<ErrorBody>) {
    super(body.message ?? `RiskGate answered HTTP ${status}`);
    this.status = status;
    this.code = body.code ?? 0;
    this.error = body.error ?? `HTTP_${status}`;
    this.field = body.field;
  }
}

/** A call's result when it did not reject: the accepted 2xx body, or why there is none. */
type Outcome<T> =
  | { ok: true; body: T }
  | { ok: false; reason: FallbackReason; status?: number; cause?: string; elapsed_ms: number };

/**
 * Talks to RiskGate's server-to-server API.
 *
 * @example
 * ```ts
 * import { RiskGateClient } from 'riskgate/node';
 *
 * const risk = new RiskGateClient({ baseUrl: 'http://127.0.0.1:8080', secret: process.env.RISKGATE_SECRET!, logger });
 * const result = await risk.evaluate({ event: 'register', black_box, ip: req.ip, mobile });
 * if (result.decision === 'decline') return reply.code(403).send();
 * // `challenge`: go on only once the advised challenge passed; `review`: hold, or run the advised SMS.
 * if (result.decision !== 'accept') return reply.send({ decision: result.decision, challenge_token: result.challenge_token });
 *
 * // Later, when the page comes back with the session_id of the passed challenge:
 * const check = await risk.verify(body.session_id, { accountId: user.id });
 * if (!check.success) return reply.code(403).send(); // fails closed when RiskGate is unreachable
 * ```
 */
export class RiskGateClient {
  readonly #endpoint: URL;
  readonly #authorization: string;
  readonly #timeoutMs: number;
  readonly #fallback: Required<FallbackDecision>;
  readonly #logger: RiskGateLogger | undefined;
  readonly #fetch: typeof fetch | undefined;
  readonly #stats: RiskGateStats = { requests: 0, timeouts: 0, errors: 0, fallbacks: 0 };

  constructor(options: RiskGateClientOptions) {
    const { baseUrl, secret, timeoutMs = 300, fallback = { decision: 'accept' } } = options;
    // Header values must be visible ASCII; a stray newline from an env file would otherwise
    // surface as a "network" fallback on every call.
    if (typeof secret !== 'string' || !/^[\x21-\x7e]+$/.test(secret)) {
      throw new TypeError('RiskGateClient: secret must be a non-empty string of visible ASCII characters');
    }
    if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new TypeError('RiskGateClient: timeoutMs must be a positive number');
    }
    if (!DECISIONS.includes(fallback.decision)) {
      throw new TypeError(`RiskGateClient: fallback.decision must be one of ${DECISIONS.join(', ')}`);
    }
    if (typeof baseUrl !== 'string' || !URL.canParse(baseUrl)) throw new TypeError('RiskGateClient: baseUrl must be an absolute URL');
    // A trailing slash makes relative paths resolve under a path prefix (`https://host/riskgate/`).
    this.#endpoint = new URL(baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
    this.#authorization = `Bearer ${secret}`;
    this.#timeoutMs = timeoutMs;
    this.#fallback = { score: 0, level: 0, challenge: 'none', ...fallback };
    this.#logger = options.logger;
    this.#fetch = options.fetch;
  }

  /** A snapshot of the counters. */
  get stats(): RiskGateStats {
    return { ...this.#stats };
  }

  /**
   * Asks RiskGate for a decision on one business event.
   *
   * Never rejects because of RiskGate's state: on a timeout, a network error,
   * a 5xx or 429, or an unreadable answer it resolves with the fallback
   * decision, `fallback: true` and a `fallback_reason`. Rejects with
   * {@link RiskGateRequestError} on other 4xx answers.
   */
  async evaluate(request: EvaluateRequest): Promise<EvaluateResult> {
    const outcome = await this.#post('v1/risk/evaluate', request, isEvaluateResponse);
    if (outcome.ok) return outcome.body;
    this.#stats.fallbacks++;
    const { reason, status, cause, elapsed_ms } = outcome;
    this.#warn({ path: 'v1/risk/evaluate', reason, status, cause, elapsed_ms }, 'RiskGate unavailable; answering with the fallback decision');
    const { decision, score, level, challenge } = this.#fallback;
    return {
      code: 200,
      message: `fallback: ${reason}`,
      sequence_id: '',
      score,
      level,
      decision,
      challenge,
      reasons: [],
      tags: [],
      degraded: true,
      fallback: true,
      fallback_reason: reason,
    };
  }

  /**
   * Confirms a session_id the SDK got for a passed challenge. Single use: the
   * first call for a session answers `success: true`, later ones
   * `error: 'already_used'`.
   *
   * FAILS CLOSED: on a timeout, a network error, a 5xx or 429, or an
   * unreadable answer it resolves with `success: false`, `error: 'unavailable'`,
   * `fallback: true` and a `fallback_reason` — never a pass. Same time budget,
   * stats and logging as `evaluate`. Rejects with {@link RiskGateRequestError}
   * on other 4xx answers (a wrong secret, an invalid field), and with a
   * TypeError for an empty session id: in every case, treat anything but
   * `success === true` as "not verified".
   *
   * @example
   * ```ts
   * // Bind it to the evaluation that advised the challenge, so no weaker one stands in for it.
   * const check = await risk.verify(body.session_id, { accountId: user.id, sequenceId: verdict.sequence_id });
   * if (!check.success) return reply.code(403).send({ error: check.error });
   * ```
   */
  async verify(sessionId: string, options: VerifyOptions = {}): Promise<VerifyResult> {
    if (typeof sessionId !== 'string' || sessionId.length === 0) throw new TypeError('RiskGateClient.verify: sessionId must be a non-empty string');
    const { accountId, event, sequenceId, minType } = options;
    if (accountId !== undefined && (typeof accountId !== 'string' || accountId.length === 0)) {
      throw new TypeError('RiskGateClient.verify: accountId must be a non-empty string when given');
    }
    const request: VerifyRequest = {
      session_id: sessionId,
      ...(accountId === undefined ? {} : { account_id: accountId }),
      ...(event === undefined ? {} : { event }),
      ...(sequenceId === undefined ? {} : { sequence_id: sequenceId }),
      ...(minType === undefined ? {} : { min_type: minType }),
    };
    const outcome = await this.#post('v1/challenges/verify', request, isVerifyResponse);
    if (outcome.ok) return outcome.body;
    this.#stats.fallbacks++;
    const { reason, status, cause, elapsed_ms } = outcome;
    this.#warn({ path: 'v1/challenges/verify', reason, status, cause, elapsed_ms }, 'RiskGate unavailable; session_id NOT verified (failing closed)');
    return { code: 200, message: `unavailable: ${reason}`, success: false, error: 'unavailable', fallback: true, fallback_reason: reason };
  }

  /**
   * One JSON POST within the time budget, counted in `stats`. Resolves with the
   * 2xx body when `accept` recognises it, else with the reason there is none;
   * rejects only with RiskGateRequestError (or a TypeError for an unserialisable body).
   */
  async #post<T>(path: string, payload: unknown, accept: (body: unknown) => body is T): Promise<Outcome<T>> {
    const body = JSON.stringify(payload); // a circular `ext` is the caller's bug: let it throw
    this.#stats.requests++;
    const started = performance.now();
    const fail = (reason: FallbackReason, extra: { status?: number; cause?: string } = {}): Outcome<T> => {
      if (reason === 'timeout') this.#stats.timeouts++;
      else this.#stats.errors++;
      return { ok: false, reason, ...extra, elapsed_ms: Math.round(performance.now() - started) };
    };
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.#timeoutMs);
    try {
      const response = await (this.#fetch ?? globalThis.fetch)(new URL(path, this.#endpoint), {
        method: 'POST',
        headers: {
          authorization: this.#authorization,
          'content-type': 'application/json',
          accept: 'application/json',
          'user-agent': 'riskgate-node',
        },
        body,
        // A followed redirect could carry the secret elsewhere; treat it as a bad answer.
        redirect: 'manual',
        signal: controller.signal,
      });
      // The same signal bounds the body, so a server that stalls mid-answer still times out.
      const text = await response.text();
      const { status } = response;
      if (status === 408) return fail('timeout', { status });
      if (status === 429) return fail('rate_limited', { status });
      if (status >= 400 && status < 500) {
        this.#stats.errors++;
        throw new RiskGateRequestError(status, errorBody(text));
      }
      if (status >= 500) return fail('server_error', { status });
      const parsed = status >= 200 && status < 300 ? parseJson(text) : undefined;
      return accept(parsed) ? { ok: true, body: parsed } : fail('bad_response', { status });
    } catch (err) {
      if (err instanceof RiskGateRequestError) throw err;
      if (controller.signal.aborted) return fail('timeout', { cause: `no answer within ${this.#timeoutMs} ms` });
      return fail('network', { cause: networkCause(err) });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Logs what went wrong, never what was asked: request fields carry PII. */
  #warn(fields: Record<string, unknown>, msg: string): void {
    try {
      this.#logger?.warn({ riskgate: { ...fields, timeout_ms: this.#timeoutMs } }, msg);
    } catch {
      // A broken logger must not turn a fallback into an exception.
    }
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isEvaluateResponse(body: unknown): body is EvaluateResponse {
  if (typeof body !== 'object' || body === null) return false;
  const b = body as Record<string, unknown>;
  return (
    typeof b.score === 'number' &&
    DECISIONS.includes(b.decision as Decision) &&
    LEVELS.includes(b.level as RiskLevel) &&
    CHALLENGES.includes(b.challenge as ChallengeKind)
  );
}

/**
 * Strict, because a pass must be real: `success` exactly true with the session's
 * type, event and time, or exactly false with a known failure. Anything else
 * (a proxy's page, `{"success": "yes"}`) is a bad response, which fails closed.
 */
function isVerifyResponse(body: unknown): body is VerifyResponse {
  if (typeof body !== 'object' || body === null) return false;
  const b = body as Record<string, unknown>;
  if (b.code !== 200) return false;
  if (b.success === true) {
    return (
      CHALLENGE_TYPES.includes(b.type as ChallengeType) &&
      EVENTS.includes(b.event as RiskEvent) &&
      typeof b.verified_at === 'string' &&
      (b.account_id === null || b.account_id === undefined || typeof b.account_id === 'string')
    );
  }
  return b.success === false && VERIFY_FAILURES.includes(b.error as VerifyFailure);
}

function errorBody(text: string): Partial<ErrorBody> {
  const body = parseJson(text);
  if (typeof body !== 'object' || body === null) return {};
  const { code, error, message, field } = body as Record<string, unknown>;
  return {
    ...(typeof code === 'number' && { code }),
    ...(typeof error === 'string' && { error }),
    ...(typeof message === 'string' && { message }),
    ...(typeof field === 'string' && { field }),
  };
}

/** The system error code (ECONNREFUSED, ENOTFOUND, …) that undici wraps in `cause`. */
function networkCause(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown } } | undefined)?.cause;
  return typeof cause?.code === 'string' ? cause.code : err instanceof Error ? err.name : 'unknown';
}
