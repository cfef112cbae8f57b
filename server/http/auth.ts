import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppSettings } from '../config/config.js';
import { authenticateSecret } from './apps.js';

/** onRequest hook for server-to-server routes: runs before the body is even read. */
export async function requireAppSecret(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
  request.riskApp = authenticateSecret(request.server.riskgate.apps, request);
}

/** The app set by requireAppSecret. */
export function appOf(request: FastifyRequest): AppSettings {
  if (!request.riskApp) throw new Error('route is missing the requireAppSecret hook');
  return request.riskApp;
}
