/**
 * Route validation with the shared zod schemas, reporting the first problem
 * as a TongDun-style error: 9001 empty, 9003 too long, 9002 anything else.
 */
import type { FastifySchemaCompiler } from 'fastify';
import type { z } from 'zod';
import { ApiError } from './errors.js';

export function issueToApiError(issue: z.core.$ZodIssue, input: unknown, part: string): ApiError {
  const field = issue.path.length > 0 ? issue.path.map(String).join('.') : part;
  const value = issue.path.reduce<unknown>(
    (node, key) => (node !== null && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[key as PropertyKey] : undefined),
    input,
  );
  if (value === undefined || value === null) return new ApiError('FIELD_EMPTY', `${field} is empty`, field);
  if (issue.code === 'too_small' && issue.origin === 'string' && typeof value === 'string' && value.trim() === '') {
    return new ApiError('FIELD_EMPTY', `${field} is empty`, field);
  }
  if (issue.code === 'too_big' && issue.origin === 'string') {
    return new ApiError('FIELD_TOO_LONG', `${field} is longer than ${Number(issue.maximum)} characters`, field);
  }
  return new ApiError('FIELD_INVALID', `${field} is invalid: ${issue.message}`, field);
}

export const zodValidatorCompiler: FastifySchemaCompiler<z.ZodType> = ({ schema, httpPart }) => (data) => {
  const result = schema.safeParse(data);
  if (result.success) return { value: result.data };
  return { error: issueToApiError(result.error.issues[0]!, data, httpPart ?? 'body') };
};
