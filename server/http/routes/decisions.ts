/**
 * GET /v1/decisions/{sequence_id}: a logged decision (server to server).
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DecisionResponse, ErrorBody } from '../../../shared/schemas.js';
import type { Records } from '../../adapters/records/records.js';
import type { AppRegistry } from '../apps.js';
import { appOf, requireAppSecret } from '../auth.js';
import { ApiError } from '../errors.js';

export interface DecisionRoutesOptions {
  apps: AppRegistry;
  records: Pick<Records, 'getDecision'>;
}

export const decisionRoutes: FastifyPluginAsyncZod<DecisionRoutesOptions> = async (app, { apps, records }) => {
  app.get(
    '/v1/decisions/:sequence_id',
    {
      onRequest: requireAppSecret(apps),
      schema: {
        summary: 'Read a logged decision',
        description: 'The request (PII masked), features, rules hit including shadow rules, score, decision, latency and rules version.',
        security: [{ appSecret: [] }],
        params: z.object({ sequence_id: z.string().regex(/^[0-9A-F]{32}$/, 'must be a 32-character sequence_id') }),
        response: { 200: DecisionResponse, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 503: ErrorBody },
      },
    },
    async (request) => {
      const decision = await records.getDecision(appOf(request).id, request.params.sequence_id);
      if (!decision) throw new ApiError('NOT_FOUND', `no decision ${request.params.sequence_id}`, 'sequence_id');
      return { code: 200 as const, message: 'ok', decision };
    },
  );
};
