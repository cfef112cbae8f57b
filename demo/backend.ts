/**
 * The demo's business backend: what a team's own server does with RiskGate.
 * The page posts a form with a black_box; these routes call evaluate through
 * the Node client (with its timeout and fallback) and decide what to do.
 *
 * `npm start` mounts it at /demo/ when the demo app is in use.
 */
import { readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { RiskGateClient, type EvaluateResult } from '../client/node/index.js';
import type { EvaluateRequest } from '../shared/schemas.js';

export interface DemoBackendOptions {
  appKey: string;
  appSecret: string;
  /** Base URL of the RiskGate API, resolved when the first request arrives (the port is known only after listen). */
  riskGateUrl: () => string;
  /** Folder with index.html, app.js and styles.css. */
  webDir: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'application/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

const RegisterForm = z.object({
  username: z.string().trim().min(1).max(64),
  email: z.string().trim().max(254).optional(),
  mobile: z.string().trim().max(32).optional(),
  black_box: z.string().max(16_384).optional(),
});
const CouponForm = z.object({
  account: z.string().trim().min(1).max(64),
  black_box: z.string().max(16_384).optional(),
});

/** What the shop does with a verdict. */
type Outcome = 'done' | 'challenge' | 'review' | 'blocked';
function outcomeOf(result: EvaluateResult): Outcome {
  if (result.decision === 'decline' || result.challenge === 'block') return 'blocked';
  if (result.decision === 'review') return 'review';
  if (result.challenge !== 'none') return 'challenge';
  return 'done';
}

export const demoBackend: FastifyPluginAsync<DemoBackendOptions> = async (app, options) => {
  let client: RiskGateClient | undefined;
  const risk = () => (client ??= new RiskGateClient({ baseUrl: options.riskGateUrl(), secret: options.appSecret, timeoutMs: 300, logger: app.log }));

  const files = new Map<string, { body: Buffer; type: string }>();
  for (const name of ['index.html', 'app.js', 'styles.css']) {
    files.set(name, { body: readFileSync(join(options.webDir, name)), type: CONTENT_TYPES[extname(name)]! });
  }
  app.get('/demo', async (_request, reply) => reply.redirect('/demo/'));
  app.get('/demo/', { schema: { hide: true } }, async (_request, reply) => reply.type(files.get('index.html')!.type).send(files.get('index.html')!.body));
  app.get('/demo/:file', { schema: { hide: true } }, async (request, reply) => {
    const file = files.get((request.params as { file: string }).file);
    if (!file) return reply.status(404).send({ code: 4040, error: 'NOT_FOUND', message: 'no such demo file' });
    return reply.header('cache-control', 'no-cache').type(file.type).send(file.body);
  });

  app.get('/demo/api/config', { schema: { hide: true } }, async () => ({ app_key: options.appKey }));

  const evaluate = async (request: FastifyRequest, body: EvaluateRequest) => {
    const startedAt = performance.now();
    const result = await risk().evaluate({ ...body, ip: request.ip, ...(request.headers['user-agent'] ? { user_agent: request.headers['user-agent'].slice(0, 1024) } : {}) });
    return { outcome: outcomeOf(result), risk: result, backend_ms: Math.round(performance.now() - startedAt) };
  };

  app.post('/demo/api/register', { schema: { hide: true, body: RegisterForm } }, async (request) => {
    const form = request.body as z.infer<typeof RegisterForm>;
    return evaluate(request, {
      event: 'register',
      account_id: form.username,
      ...(form.email ? { email: form.email } : {}),
      ...(form.mobile ? { mobile: form.mobile } : {}),
      ...(form.black_box ? { black_box: form.black_box } : {}),
    });
  });

  app.post('/demo/api/coupon', { schema: { hide: true, body: CouponForm } }, async (request) => {
    const form = request.body as z.infer<typeof CouponForm>;
    return evaluate(request, {
      event: 'get_coupon',
      account_id: form.account,
      event_detail: { coupon_id: 'WELCOME20' },
      ...(form.black_box ? { black_box: form.black_box } : {}),
    });
  });
};
