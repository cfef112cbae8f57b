import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ApiError } from '../errors.js';

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

export const healthRoutes: FastifyPluginAsyncZod = async (app) => {
  const { records, hotState, metrics } = app.riskgate;
  const metricsToken = app.riskgate.config.metricsToken;
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
