/**
 * /healthz (the process answers), /readyz (the stores answer) and /metrics
 * (Prometheus; behind a bearer token when `metrics_token` is set).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { HotState } from '../../adapters/hot-state/hot-state.js';
import type { Records } from '../../adapters/records/records.js';
import type { RiskMetrics } from '../../observability/metrics.js';
import { ApiError } from '../errors.js';

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

export interface HealthRoutesOptions {
  records: Pick<Records, 'ping'>;
  hotState: Pick<HotState, 'ping'>;
  metrics: Pick<RiskMetrics, 'registry'>;
  /** The bearer token /metrics asks for; none asked when undefined. */
  metricsToken: string | undefined;
}

export const healthRoutes: FastifyPluginAsyncZod<HealthRoutesOptions> = async (app, { records, hotState, metrics, metricsToken }) => {
  const expected = metricsToken === undefined ? undefined : digest(`Bearer ${metricsToken}`);

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const [recordsOk, stateOk] = await Promise.all([records.ping().catch(() => false), hotState.ping().catch(() => false)]);
    const ready = recordsOk && stateOk;
    reply.status(ready ? 200 : 503);
    return { status: ready ? 'ready' : 'not_ready', records: recordsOk, hot_state: stateOk };
  });

  app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
    if (expected) {
      // Digests compare in constant time whatever the header's length.
      const presented = digest(typeof request.headers.authorization === 'string' ? request.headers.authorization : '');
      if (!timingSafeEqual(presented, expected)) throw new ApiError('BAD_CREDENTIALS', 'missing or wrong Authorization: Bearer <metrics token>', 'authorization');
    }
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
};
