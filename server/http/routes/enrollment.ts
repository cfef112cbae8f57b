/**
 * Device enrollment endpoints, called by the SDKs from the page or the
 * mini-program with the app's public key (`app_key`), checked against the
 * app's allowed origins and answered with CORS for them, like the challenge
 * endpoints. The client IP is the one every browser-facing route uses
 * (`request.ip`, behind `trust_proxy` when configured).
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { EnrollRequest, EnrollResponse, PuzzleRequest, PuzzleResponse } from '../../../shared/enrollment.js';
import { ErrorBody } from '../../../shared/schemas.js';
import type { EnrollmentService } from '../../services/enrollment.js';
import { authenticateAppKey, sdkPreflight, type AppRegistry } from '../apps.js';

export interface EnrollmentRoutesOptions {
  apps: AppRegistry;
  enrollment: Pick<EnrollmentService, 'puzzle' | 'enroll'>;
}

export const enrollmentRoutes: FastifyPluginAsyncZod<EnrollmentRoutesOptions> = async (app, { apps, enrollment }) => {

  app.options('/v1/devices/*', { schema: { hide: true } }, sdkPreflight(apps));

  app.post(
    '/v1/devices/puzzle',
    {
      schema: {
        summary: 'Ask for a device enrollment puzzle',
        description:
          'From the SDK, once per device key: an ALTCHA proof-of-work v2 puzzle (PBKDF2/SHA-256) bound to the app, the client IP prefix (/24, /64) and a 10-minute expiry. Its expected work (`difficulty`, PBKDF2 iterations) rises with the puzzles the prefix asked for in the last 5 minutes, hour and day.',
        body: PuzzleRequest,
        response: { 200: PuzzleResponse, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 503: ErrorBody },
      },
    },
    async (request, reply) => enrollment.puzzle(authenticateAppKey(apps, request, reply, request.body.app_key), request.ip),
  );

  app.post(
    '/v1/devices/enroll',
    {
      schema: {
        summary: 'Enroll a device key with a solved puzzle',
        description:
          'The puzzle as issued, its solution, the device public JWK and `proof`: the device key\'s ES256 signature of the puzzle string. Answers the device certificate for the token\'s `enrollment.cert`. Refusals: PUZZLE_INVALID, PUZZLE_EXPIRED, PUZZLE_FOREIGN (other app or network), SOLUTION_WRONG, PROOF_INVALID, PUZZLE_USED (single use), DEVICE_ENROLLED (one enrollment per key).',
        body: EnrollRequest,
        response: { 200: EnrollResponse, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 409: ErrorBody, 410: ErrorBody, 503: ErrorBody },
      },
    },
    async (request, reply) => enrollment.enroll(authenticateAppKey(apps, request, reply, request.body.app_key), request.ip, request.body),
  );
};
