/**
 * Serves the script-tag SDK at /sdk/riskgate.min.js (and the ESM build beside
 * it), and the challenge UI the SDK loads on first use,
 * /sdk/riskgate-challenge.min.js. Files are read once and served from memory
 * with a strong ETag, so pages revalidate cheaply and pick up a new build
 * within the cache lifetime.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { ApiError } from '../errors.js';
import { SDK_DIR } from '../../paths.js';

const FILES = {
  'riskgate.min.js': 'application/javascript; charset=utf-8',
  'riskgate.mjs': 'application/javascript; charset=utf-8',
  'riskgate-challenge.min.js': 'application/javascript; charset=utf-8',
} as const;

interface Asset {
  body: Buffer;
  etag: string;
  type: string;
}

export function loadSdkAssets(dir = SDK_DIR): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const [name, type] of Object.entries(FILES)) {
    const file = join(dir, name);
    if (!existsSync(file)) continue;
    const body = readFileSync(file);
    assets.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` });
  }
  return assets;
}

export const sdkRoutes: FastifyPluginAsync<{ dir?: string }> = async (app, options) => {
  const assets = loadSdkAssets(options.dir);
  if (!assets.has('riskgate.min.js')) app.log.warn({ dir: options.dir ?? SDK_DIR }, 'SDK bundle not built: /sdk/riskgate.min.js will answer 404 (run npm run build)');

  app.get('/sdk/:file', { schema: { hide: true, params: z.object({ file: z.string() }) } }, async (request, reply) => {
    const asset = assets.get((request.params as { file: string }).file);
    if (!asset) throw new ApiError('NOT_FOUND', 'no such SDK file (is the SDK built?)');
    reply
      .header('content-type', asset.type)
      .header('etag', asset.etag)
      .header('cache-control', 'public, max-age=300, stale-while-revalidate=86400')
      // Any site embedding RiskGate loads the script cross-origin.
      .header('access-control-allow-origin', '*')
      .header('cross-origin-resource-policy', 'cross-origin')
      .header('x-content-type-options', 'nosniff');
    if (request.headers['if-none-match'] === asset.etag) return reply.status(304).send();
    return reply.send(asset.body);
  });
};
