/**
 * The machine's HTTP ceiling: a plain Fastify app with one POST /echo route,
 * no schema, no hooks, no logger. Run as a child process by evaluate.ts;
 * prints "echo listening on <url>" when ready.
 */
import Fastify from 'fastify';

const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });

app.post('/echo', async (request) => {
  const body = request.body as Record<string, unknown> | null;
  return { ok: true, fields: body && typeof body === 'object' ? Object.keys(body).length : 0 };
});

const address = await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
process.stdout.write(`echo listening on ${address}\n`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
