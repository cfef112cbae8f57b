/**
 * Challenge endpoints. The SDK calls start, answer and sms from the page with
 * the app's public key (`app_key`), checked against the app's allowed origins;
 * a backend may call them with the app secret instead. Only a backend can name
 * a phone number, and only a backend can verify a session_id.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  ChallengeAnswerRequest,
  ChallengeAnswerResponse,
  ChallengeStartFromBackend,
  ChallengeStartRequest,
  ChallengeStartResponse,
  ErrorBody,
  SmsSendRequest,
  SmsSendResponse,
  VerifyRequest,
  VerifyResponse,
} from '../../../shared/schemas.js';
import type { AppSettings } from '../../config/config.js';
import { authenticateAppKey, authenticateSecret, sdkPreflight, type AppRegistry } from '../apps.js';
import { ApiError } from '../errors.js';
import type { ChallengeOrigin, ChallengeService } from '../../services/challenges.js';
import { appOf, requireAppSecret } from '../auth.js';

const ChallengeParams = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, 'is not a challenge id') });

export interface ChallengeRoutesOptions {
  apps: AppRegistry;
  challenges: Pick<ChallengeService, 'start' | 'startFromToken' | 'originFromBackend' | 'answer' | 'sendSms' | 'verify'>;
}

export const challengeRoutes: FastifyPluginAsyncZod<ChallengeRoutesOptions> = async (app, { apps, challenges }) => {

  /** The app a browser-facing call is for: by secret when one is sent, else by app_key and Origin. */
  function callerApp(request: FastifyRequest, reply: FastifyReply, appKey: string | undefined): AppSettings {
    if (request.headers.authorization) return authenticateSecret(apps, request);
    if (!appKey) throw new ApiError('FIELD_EMPTY', 'app_key is empty', 'app_key');
    return authenticateAppKey(apps, request, reply, appKey);
  }

  app.options('/v1/challenges*', { schema: { hide: true } }, sdkPreflight(apps));

  app.post(
    '/v1/challenges',
    {
      schema: {
        summary: 'Start a challenge',
        description:
          'From the SDK: `{app_key, challenge_token}` (what evaluate advised) or `{app_key, type: "slider"}` (a plain captcha). From a backend with the app secret: `{type, event, account_id, mobile}`; only a backend can name a phone number.',
        body: ChallengeStartRequest,
        response: { 200: ChallengeStartResponse, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 429: ErrorBody, 503: ErrorBody },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const requester = { ip: request.ip };
      if ('app_key' in body) {
        // Browser-side: the schema has already dropped any `mobile` it sent.
        const target = callerApp(request, reply, body.app_key);
        if ('challenge_token' in body) return challenges.startFromToken(target, body.challenge_token, requester);
        const standalone: ChallengeOrigin = { appId: target.id, type: 'slider', event: body.event };
        return challenges.start(standalone, requester);
      }
      const backend = ChallengeStartFromBackend.parse(body);
      const target = authenticateSecret(apps, request);
      // Refuses an SMS challenge without a number, or for a country SMS may not go to.
      const origin = challenges.originFromBackend(target, backend);
      return challenges.start(origin, requester);
    },
  );

  app.post(
    '/v1/challenges/:id/answer',
    {
      schema: {
        summary: 'Answer a challenge',
        description:
          'Slider `{x, track: [[t, x, y], ...], pow: {counter, derived_key}}` (`pow` solves the puzzle\'s proof of work; missing or wrong, the answer fails) or SMS `{code}`. On success a single-use `session_id` for the backend to verify. Slider answers are also limited per device and per network (IPv4 /24, IPv6 /64) over a window: past that, `too_many_attempts`.',
        params: ChallengeParams,
        body: ChallengeAnswerRequest,
        response: { 200: ChallengeAnswerResponse, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 503: ErrorBody },
      },
    },
    async (request, reply) => {
      const target = callerApp(request, reply, request.body.app_key);
      return challenges.answer(target, request.params.id, request.body, { ip: request.ip });
    },
  );

  app.post(
    '/v1/challenges/:id/sms',
    {
      schema: {
        summary: 'Send or resend the SMS code',
        params: ChallengeParams,
        body: SmsSendRequest,
        response: { 200: SmsSendResponse, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 429: ErrorBody, 502: ErrorBody, 503: ErrorBody },
      },
    },
    async (request, reply) => {
      const target = callerApp(request, reply, request.body.app_key);
      return challenges.sendSms(target, request.params.id, { ip: request.ip });
    },
  );

  app.post(
    '/v1/challenges/verify',
    {
      onRequest: requireAppSecret(apps),
      schema: {
        summary: 'Confirm a session_id (server to server)',
        description: 'Single use and atomic: of many concurrent calls with one session_id, one succeeds. Failures say why: not_found, expired, already_used, app_mismatch, account_mismatch, event_mismatch.',
        security: [{ appSecret: [] }],
        body: VerifyRequest,
        response: { 200: VerifyResponse, 400: ErrorBody, 401: ErrorBody, 503: ErrorBody },
      },
    },
    async (request) =>
      challenges.verify(appOf(request), request.body.session_id, request.body.account_id, request.body.event, {
        ...(request.body.sequence_id ? { sequenceId: request.body.sequence_id } : {}),
        ...(request.body.min_type ? { minType: request.body.min_type } : {}),
      }),
  );
};
