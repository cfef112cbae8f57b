import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';

export const healthRoutes: FastifyPluginAsyncZod = async (app) => {
  const { records, hotState, metrics } = app.riskgate;

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const [recordsOk, stateOk] = await Promise.all([records.ping().catch(() => false), hotState.ping().catch(() => false)]);
    const ready = recordsOk && stateOk;
    reply.status(ready ? 200 : 503);
    return { status: ready ? 'ready' : 'not_ready', records: recordsOk, hot_state: stateOk };
  });

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
};
