/**
 * GET /v1/keys: the public token encryption keys (JWKS) SDKs encrypt to.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { TokenKeyRing } from '../../engine/token/key-ring.js';

const Jwks = z.object({
  keys: z.array(z.object({ kty: z.literal('EC'), crv: z.literal('P-256'), x: z.string(), y: z.string(), kid: z.string(), use: z.literal('enc'), alg: z.literal('ECDH-ES') })),
});

export interface KeyRoutesOptions {
  /** The keys in force (the key book's current ring). */
  keys: { current(): TokenKeyRing };
}

export const keyRoutes: FastifyPluginAsyncZod<KeyRoutesOptions> = async (app, { keys }) => {
  app.get(
    '/v1/keys',
    {
      schema: {
        summary: 'Public token encryption keys (JWKS)',
        description: 'SDKs encrypt black_box tokens to the first key. Public, cacheable, callable from any origin.',
        response: { 200: Jwks },
      },
    },
    async (_request, reply) => {
      // Public keys only: any page may read them, and SDKs cache them briefly across rotations.
      reply.header('access-control-allow-origin', '*');
      reply.header('cache-control', 'public, max-age=300');
      return keys.current().jwks;
    },
  );
};
