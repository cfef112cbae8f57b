/**
 * How server-to-server routes learn their app: the secret in
 * `Authorization: Bearer`, checked in onRequest, before the body is read.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppSettings } from '../config/config.js';
import { authenticateSecret, type AppRegistry } from './apps.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated app, set by routes that require one (decorated null by the app). */
    riskApp: AppSettings | null;
  }
}

/** onRequest hook for server-to-server routes: runs before the body is even read. */
export function requireAppSecret(apps: AppRegistry) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    request.riskApp = authenticateSecret(apps, request);
  };
}

/** The app set by requireAppSecret. */
export function appOf(request: FastifyRequest): AppSettings {
  if (!request.riskApp) throw new Error('route is missing the requireAppSecret hook');
  return request.riskApp;
}
