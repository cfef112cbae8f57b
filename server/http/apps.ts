/**
 * The configured apps and how callers prove which one they are.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppSettings } from '../config/config.js';
import { ApiError } from './errors.js';

export class AppRegistry {
  private readonly byKey: Map<string, AppSettings>;

  constructor(readonly apps: readonly AppSettings[]) {
    this.byKey = new Map(apps.map((a) => [a.key, a]));
  }

  /** The app whose secret this is. Compares against every app in constant time per app. */
  bySecret(secret: string): AppSettings | undefined {
    const presented = createHash('sha256').update(secret, 'utf8').digest();
    let found: AppSettings | undefined;
    for (const app of this.apps) {
      // Both sides are 32-byte digests, so the lengths always match.
      if (timingSafeEqual(presented, app.secretHash)) found = app;
    }
    return found;
  }

  /** The app with this public key (SDK calls). */
  byPublicKey(key: string): AppSettings | undefined {
    return this.byKey.get(key);
  }
}

const BEARER = /^Bearer ([\x21-\x7e]{1,512})$/;

/** Resolves the app from `Authorization: Bearer <secret>` or fails with 4010. */
export function authenticateSecret(registry: AppRegistry, request: FastifyRequest): AppSettings {
  const header = request.headers.authorization;
  const match = typeof header === 'string' ? BEARER.exec(header) : null;
  if (!match) throw new ApiError('BAD_CREDENTIALS', 'missing or malformed Authorization: Bearer <app secret>', 'authorization');
  const app = registry.bySecret(match[1]!);
  if (!app) throw new ApiError('BAD_CREDENTIALS', 'unknown app secret', 'authorization');
  return app;
}

/**
 * The app a browser-facing (SDK) call is for, by its public `app_key`: a
 * browser's Origin must be one of the app's, and is then allowed by CORS.
 * Mini-programs send no Origin.
 */
export function authenticateAppKey(registry: AppRegistry, request: FastifyRequest, reply: FastifyReply, appKey: string): AppSettings {
  const target = registry.byPublicKey(appKey);
  if (!target) throw new ApiError('BAD_CREDENTIALS', 'unknown app_key', 'app_key');
  const origin = request.headers.origin;
  if (origin !== undefined) {
    if (!target.origins.includes(origin)) throw new ApiError('NOT_ALLOWED', `origin ${origin.slice(0, 200)} is not allowed for this app`, 'origin');
    reply.header('access-control-allow-origin', origin).header('vary', 'origin');
  }
  return target;
}

/** CORS preflight of SDK routes: the body (and so the app) is unknown yet; any origin some app allows may proceed. */
export function sdkPreflight(registry: AppRegistry) {
  const knownOrigins = new Set(registry.apps.flatMap((a) => a.origins));
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const origin = request.headers.origin;
    if (!origin || !knownOrigins.has(origin)) return reply.status(403).send(new ApiError('NOT_ALLOWED', 'origin not allowed').toBody());
    return reply
      .status(204)
      .header('access-control-allow-origin', origin)
      .header('access-control-allow-methods', 'POST')
      .header('access-control-allow-headers', 'content-type')
      .header('access-control-max-age', '600')
      .header('vary', 'origin')
      .send();
  };
}
