/**
 * The demo's business backend: what a team's own server does with RiskGate.
 * The page posts a form with a black_box; these routes call evaluate through
 * the Node client (with its timeout and fallback) and decide what to do.
 * When RiskGate advises a slider or an SMS code, the page runs it with the
 * SDK (`rg.challenge(challenge_token)`) and sends the session_id it gets to
 * /demo/api/confirm, which asks RiskGate to verify it before the action goes
 * through.
 *
 * `npm start` (demo/main.ts) mounts it at /demo/ when the demo app is in use.
 */
import { readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { RiskGateClient, type EvaluateResult } from '../client/node/index.js';
import type { RiskEvent } from '../shared/constants.js';
import type { EvaluateRequest } from '../shared/schemas.js';

export interface DemoBackendOptions {
  appKey: string;
  appSecret: string;
  /** Base URL of the RiskGate API, resolved when the first request arrives (the port is known only after listen). */
  riskGateUrl: () => string;
  /** Folder with index.html, app.js and styles.css. */
  webDir: string;
  /**
   * DEMO ONLY: the last SMS code sent per challenge, when RiskGate runs the
   * development `log` provider (which sends nothing), so the page can show it.
   * Without it, /demo/api/sms-code answers 404.
   */
  smsCodes?: SmsCodes;
}

/** What the demo reads of the development `log` SMS provider (server: LogSmsProvider). */
export interface SmsCodes {
  lastCodeFor(challengeId: string): string | undefined;
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

const ConfirmForm = z.object({
  session_id: z.string().min(1).max(128),
  account: z.string().trim().min(1).max(64),
  action: z.enum(['register', 'coupon']),
});
const SmsCodeQuery = z.object({ challenge_id: z.string().min(1).max(128) });

/** The event each action was evaluated as: a session from another event's challenge does not confirm it. */
const ACTION_EVENTS: Record<z.infer<typeof ConfirmForm>['action'], RiskEvent> = { register: 'register', coupon: 'get_coupon' };

/** What the shop does with a verdict. */
type Outcome = 'done' | 'challenge' | 'review' | 'blocked';
function outcomeOf(result: EvaluateResult): Outcome {
  if (result.decision === 'decline' || result.challenge === 'block') return 'blocked';
  if (result.decision === 'accept') return 'done';
  // A challenge the page can run comes first: `challenge` goes on once it passes, and a
  // level-3 "review + SMS" lets a person through once the code is confirmed, instead
  // of waiting for a reviewer.
  if ((result.challenge === 'slider' || result.challenge === 'sms') && result.challenge_token) return 'challenge';
  // Advised but not runnable (an SMS with no number given, a challenge RiskGate could not issue): hold it.
  return 'review';
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
    const outcome = outcomeOf(result);
    return {
      outcome,
      risk: result,
      // What the page hands to the SDK: `rg.challenge(challenge.token)`.
      ...(outcome === 'challenge' ? { challenge: { type: result.challenge, token: result.challenge_token } } : {}),
      backend_ms: Math.round(performance.now() - startedAt),
    };
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

  await app.register(demoConfirm, { risk, ...(options.smsCodes ? { smsCodes: options.smsCodes } : {}) });

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

/**
 * The second half of a challenged action: the page passed the challenge and
 * sends its session_id; the shop asks RiskGate (verify: single use, fails
 * closed) and lets the action through only for a session of this account and
 * this action's event.
 */
export const demoConfirm: FastifyPluginAsync<{ risk: () => RiskGateClient; smsCodes?: SmsCodes }> = async (app, options) => {
  app.post('/demo/api/confirm', { schema: { hide: true, body: ConfirmForm } }, async (request) => {
    const form = request.body as z.infer<typeof ConfirmForm>;
    const startedAt = performance.now();
    // Bound to this account and this action's event: RiskGate refuses a session of another (account_mismatch, event_mismatch).
    const verified = await options.risk().verify(form.session_id, { accountId: form.account, event: ACTION_EVENTS[form.action] });
    const confirmed = verified.success === true;
    return {
      confirmed,
      action: form.action,
      ...(confirmed ? {} : { error: verified.error }),
      verify: verified,
      backend_ms: Math.round(performance.now() - startedAt),
    };
  });

  // DEMO ONLY: the development `log` SMS provider sends nothing, so the page
  // shows the code it "sent". Any other provider answers 404: real codes never
  // leave the server this way.
  app.get('/demo/api/sms-code', { schema: { hide: true, querystring: SmsCodeQuery } }, async (request, reply) => {
    const { challenge_id: challengeId } = request.query as z.infer<typeof SmsCodeQuery>;
    const provider = options.smsCodes;
    if (!provider) {
      return reply.status(404).send({ code: 4040, error: 'NOT_FOUND', message: 'codes are shown only with the development log SMS provider' });
    }
    const code = provider.lastCodeFor(challengeId);
    if (!code) return reply.status(404).send({ code: 4040, error: 'NOT_FOUND', message: 'no code sent for this challenge yet' });
    return { challenge_id: challengeId, sms_code: code, demo_only: true };
  });
};
