/**
 * POST /v1/risk/evaluate: one business event, scored (server to server).
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { ReasonLanguage } from '../../../shared/reasons.js';
import { ErrorBody, EvaluateRequest, EvaluateResponse } from '../../../shared/schemas.js';
import type { RiskMetrics } from '../../observability/metrics.js';
import type { Evaluator } from '../../services/evaluator.js';
import type { AppRegistry } from '../apps.js';
import { appOf, requireAppSecret } from '../auth.js';
import { ApiError } from '../errors.js';

function reasonLanguage(acceptLanguage: string | undefined, fallback: ReasonLanguage): ReasonLanguage {
  if (!acceptLanguage) return fallback;
  const first = acceptLanguage.trim().slice(0, 2).toLowerCase();
  return first === 'zh' ? 'zh' : first === 'en' ? 'en' : fallback;
}

export interface EvaluateRoutesOptions {
  apps: AppRegistry;
  evaluator: Pick<Evaluator, 'evaluate'>;
  metrics: Pick<RiskMetrics, 'decisions' | 'tokenFailures' | 'evaluateLatency'>;
  /** Reason texts when the request's Accept-Language names no language RiskGate has. */
  reasonLanguage: ReasonLanguage;
}

export const evaluateRoutes: FastifyPluginAsyncZod<EvaluateRoutesOptions> = async (app, { apps, evaluator, metrics, reasonLanguage: defaultLanguage }) => {
  app.post(
    '/v1/risk/evaluate',
    {
      onRequest: requireAppSecret(apps),
      schema: {
        summary: 'Score one business event',
        description: 'Decodes the black_box, applies lists, velocity and rules, and answers a score, level, decision and advised challenge.',
        security: [{ appSecret: [] }],
        body: EvaluateRequest,
        response: { 200: EvaluateResponse, 400: ErrorBody, 401: ErrorBody, 413: ErrorBody, 415: ErrorBody },
      },
    },
    async (request) => {
      const startedAt = performance.now();
      const body = request.body;
      if (!body.black_box && !body.ip) throw new ApiError('NO_BLACK_BOX_OR_IP', 'at least one of black_box and ip is required', 'black_box');
      const language = reasonLanguage(request.headers['accept-language'], defaultLanguage);
      const { response, tokenFailure } = await evaluator.evaluate(appOf(request), body, language, startedAt);
      metrics.decisions.inc({ event: body.event, decision: response.decision });
      if (tokenFailure) metrics.tokenFailures.inc({ reason: tokenFailure });
      metrics.evaluateLatency.observe((performance.now() - startedAt) / 1000);
      return response;
    },
  );
};
