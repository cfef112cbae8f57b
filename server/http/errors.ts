/**
 * API errors: every failure a caller can cause maps to one row of
 * ERROR_CODES (shared/constants.ts) — a real HTTP status, a stable numeric
 * code and a stable name — and a message naming the field.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { ERROR_CODES, type ErrorName } from '../../shared/constants.js';
import type { ErrorBody } from '../../shared/schemas.js';
import { StoreUnavailableError } from '../adapters/records/records.js';

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
    const apiError = error instanceof ApiError ? error : fromFastifyError(error);
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
