/**
 * Black and white lists (server to server): add, find, delete.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ErrorBody, ListEntriesResponse, ListEntryCreate, ListEntryResponse, ListQuery } from '../../../shared/schemas.js';
import type { Records } from '../../adapters/records/records.js';
import type { IdentifierKeys } from '../../engine/identifiers/identifiers.js';
import type { AppRegistry } from '../apps.js';
import { appOf, requireAppSecret } from '../auth.js';
import { ApiError } from '../errors.js';

/** Who made a change: the app, plus the operator the backend names in `X-RiskGate-Actor`. */
function actorOf(appId: string, header: string | string[] | undefined): string {
  const actor = typeof header === 'string' ? header.trim().slice(0, 128) : '';
  return actor && /^[\x20-\x7e]+$/.test(actor) ? `app:${appId}/${actor}` : `app:${appId}`;
}

export interface ListRoutesOptions {
  apps: AppRegistry;
  records: Pick<Records, 'addListEntry' | 'findListEntries' | 'deleteListEntry'>;
  identifiers: IdentifierKeys;
}

export const listRoutes: FastifyPluginAsyncZod<ListRoutesOptions> = async (app, { apps, records, identifiers }) => {
  const onRequest = requireAppSecret(apps);
  const security = [{ appSecret: [] }];

  app.post(
    '/v1/lists',
    {
      onRequest,
      schema: {
        summary: 'Add a black or white list entry',
        description:
          'Answers once the entry is durable. Mobile and email values are stored as keyed hashes and shown masked. ' +
          'While the database is unavailable: 503 (5030), and the entry is not acknowledged.',
        security,
        body: ListEntryCreate,
        response: { 200: ListEntryResponse, 400: ErrorBody, 401: ErrorBody, 503: ErrorBody },
      },
    },
    async (request) => {
      const { list, dimension, value, reason, ttl_seconds } = request.body;
      const app = appOf(request);
      const appId = app.id;
      const entry = await records.addListEntry({
        appId,
        list,
        dimension,
        valueKey: identifiers.key(dimension, value, app.identifiers),
        displayValue:
          dimension === 'mobile' || dimension === 'email' ? identifiers.mask(dimension, value) : identifiers.normalize(dimension, value, app.identifiers),
        reason: reason ?? null,
        createdBy: actorOf(appId, request.headers['x-riskgate-actor']),
        expiresAt: ttl_seconds ? Date.now() + ttl_seconds * 1000 : null,
      });
      return { code: 200 as const, message: 'ok', entry };
    },
  );

  app.get(
    '/v1/lists',
    {
      onRequest,
      schema: {
        summary: 'Find live list entries',
        security,
        querystring: ListQuery,
        response: { 200: ListEntriesResponse, 400: ErrorBody, 401: ErrorBody, 503: ErrorBody },
      },
    },
    async (request) => {
      const { dimension, value, list, limit } = request.query;
      if (value !== undefined && dimension === undefined) throw new ApiError('FIELD_EMPTY', 'dimension is empty (required with value)', 'dimension');
      const app = appOf(request);
      const entries = await records.findListEntries({
        appId: app.id,
        limit,
        ...(list ? { list } : {}),
        ...(dimension ? { dimension } : {}),
        ...(dimension && value !== undefined ? { valueKey: identifiers.key(dimension, value, app.identifiers) } : {}),
      });
      return { code: 200 as const, message: 'ok', entries };
    },
  );

  app.delete(
    '/v1/lists/:id',
    {
      onRequest,
      schema: {
        summary: 'Delete a list entry',
        security,
        params: z.object({ id: z.string().min(1).max(64) }),
        response: { 200: z.object({ code: z.literal(200), message: z.string() }), 401: ErrorBody, 404: ErrorBody, 503: ErrorBody },
      },
    },
    async (request) => {
      const appId = appOf(request).id;
      const deleted = await records.deleteListEntry(appId, request.params.id, actorOf(appId, request.headers['x-riskgate-actor']));
      if (!deleted) throw new ApiError('NOT_FOUND', `no live list entry ${request.params.id}`, 'id');
      return { code: 200 as const, message: 'deleted' };
    },
  );
};
