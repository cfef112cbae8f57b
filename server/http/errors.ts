/**
 * API errors: every failure a caller can cause maps to one row of
 * ERROR_CODES (shared/constants.ts) — a real HTTP status, a stable numeric
 * code and a stable name — and a message naming the field.
 *
 * The services refuse with failure values (services/failures.ts);
 * FAILURE_ANSWERS below is the one table that turns each into its answer.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { ERROR_CODES, type ErrorName } from '../../shared/constants.js';
import type { ErrorBody } from '../../shared/schemas.js';
import { StoreUnavailableError } from '../adapters/records/records.js';
import { Refused, type ServiceFailure, type ServiceFailureCode } from '../services/failures.js';

export class ApiError extends Error {
  readonly statusCode: number;
  constructor(
    readonly kind: ErrorName,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiError';
    this.statusCode = ERROR_CODES[kind].status;
  }

  toBody(): ErrorBody {
    const body: ErrorBody = { code: ERROR_CODES[this.kind].code, error: this.kind, message: this.message };
    if (this.field) body.field = this.field;
    return body;
  }
}

type FailureAnswers = { readonly [C in ServiceFailureCode]: (failure: Extract<ServiceFailure, { code: C }>) => ApiError };

/** Every refusal of a service, as the API answers it: error name (so status and code), message and field. */
export const FAILURE_ANSWERS: FailureAnswers = {
  // Challenges
  challenge_token_unknown: () => new ApiError('NOT_FOUND', 'challenge_token is unknown, used or expired', 'challenge_token'),
  starts_rate_limited: () => new ApiError('RATE_LIMITED', 'too many challenges started from this address; retry in a minute'),
  slider_tries_exhausted: () => new ApiError('RATE_LIMITED', 'too many slider answers from this device or network; retry later'),
  sms_mobile_empty: () => new ApiError('FIELD_EMPTY', 'mobile is empty (an SMS challenge needs it)', 'mobile'),
  sms_country_not_allowed: ({ country }) => new ApiError('FIELD_INVALID', `mobile is invalid: country code "${country}" is not allowed for SMS`, 'mobile'),
  sms_number_not_given: () => new ApiError('FIELD_EMPTY', 'mobile is empty (an SMS challenge needs the number, given by the backend)', 'mobile'),
  slider_answer_incomplete: ({ missing }) => new ApiError('FIELD_EMPTY', 'x and track are required for a slider', missing),
  sms_code_missing: () => new ApiError('FIELD_EMPTY', 'code is empty', 'code'),
  sms_challenge_not_found: () => new ApiError('NOT_FOUND', 'no running SMS challenge with this id', 'challenge_id'),
  sms_resend_too_soon: ({ waitSeconds }) => new ApiError('RATE_LIMITED', `wait ${waitSeconds} s before asking for another code`),
  sms_rate_limited: () => new ApiError('RATE_LIMITED', 'too many codes sent; retry later'),
  sms_send_failed: () => new ApiError('SMS_FAILED', 'the code could not be sent; try again'),
  challenge_state_unavailable: () => new ApiError('STORE_UNAVAILABLE', 'challenge state is unavailable; try again shortly'),
  // Device enrollment
  puzzle_unreadable: () => new ApiError('PUZZLE_INVALID', 'the puzzle is not one this server issued', 'puzzle'),
  puzzle_not_issued: () => new ApiError('PUZZLE_INVALID', 'the puzzle was not issued by this server', 'puzzle'),
  puzzle_expired: () => new ApiError('PUZZLE_EXPIRED', 'the puzzle has expired; ask for a new one', 'puzzle'),
  puzzle_other_app: () => new ApiError('PUZZLE_FOREIGN', 'the puzzle was issued to another app', 'puzzle'),
  puzzle_other_network: () => new ApiError('PUZZLE_FOREIGN', 'the puzzle was issued to another network', 'puzzle'),
  solution_wrong: () => new ApiError('SOLUTION_WRONG', 'the solution does not solve the puzzle', 'solution'),
  proof_invalid: () => new ApiError('PROOF_INVALID', "proof is not the public key's ES256 signature of the puzzle", 'proof'),
  puzzle_used: () => new ApiError('PUZZLE_USED', 'the puzzle was already used; ask for a new one', 'puzzle'),
  device_enrolled: () => new ApiError('DEVICE_ENROLLED', 'this device key is already enrolled for this app', 'public_key'),
  enrollment_state_unavailable: () => new ApiError('STORE_UNAVAILABLE', 'enrollment state is unavailable; try again shortly'),
};

/** The API's answer to a service's refusal. */
export function apiErrorFor(failure: ServiceFailure): ApiError {
  return (FAILURE_ANSWERS[failure.code] as (failure: ServiceFailure) => ApiError)(failure);
}

/** Fastify's own error codes for bad requests, mapped onto ours. */
function fromFastifyError(error: FastifyError): ApiError | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError('BAD_CONTENT_TYPE', 'content-type must be application/json');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return Object.assign(new ApiError('FIELD_TOO_LONG', 'body is too large', 'body'), { statusCode: 413 });
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError('FIELD_EMPTY', 'body is empty', 'body');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ApiError('FIELD_INVALID', 'body is not valid JSON', 'body');
    case 'FST_ERR_NOT_FOUND':
      return new ApiError('NOT_FOUND', 'no such route');
    default:
      break;
  }
  // Other 4xx from Fastify or a plugin (e.g. a JSON syntax error from the parser).
  if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
    if (error.statusCode === 415) return new ApiError('BAD_CONTENT_TYPE', 'content-type must be application/json');
    if (error.statusCode === 413) return Object.assign(new ApiError('FIELD_TOO_LONG', 'body is too large', 'body'), { statusCode: 413 });
    if (error.statusCode === 429) return new ApiError('RATE_LIMITED', 'too many requests');
    if (error instanceof SyntaxError) return new ApiError('FIELD_INVALID', 'body is not valid JSON', 'body');
    return new ApiError('FIELD_INVALID', 'request is invalid');
  }
  return undefined;
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    // The records store is down or too slow (lists, decisions): the caller may retry; the store logs the outage.
    if (error instanceof StoreUnavailableError) {
      const unavailable = new ApiError('STORE_UNAVAILABLE', 'the database is unavailable; try again shortly');
      return reply.status(unavailable.statusCode).send(unavailable.toBody());
    }
    const apiError = error instanceof ApiError ? error : error instanceof Refused ? apiErrorFor(error.failure) : fromFastifyError(error);
    if (apiError) {
      return reply.status(apiError.statusCode).send(apiError.toBody());
    }
    // A bug or an outage, not the caller's fault: log it with the stack, answer without it.
    request.log.error({ err: error }, 'unhandled error');
    return reply.status(500).send(new ApiError('SYSTEM_ERROR', 'internal error').toBody());
  });
  app.setNotFoundHandler((_request, reply) => {
    reply.status(404).send(new ApiError('NOT_FOUND', 'no such route').toBody());
  });
}
