/**
 * Token decoding in worker threads, as `npm start` runs it: the compiled
 * worker from dist/ (npm test builds first).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { generateTokenKey, TokenKeyRing } from '../server/keys/token-keys.js';
import { openBlackBox } from '../server/token/decode.js';
import type * as Openers from '../server/token/openers.js';
import { makeToken, newDevice } from './support/tokens.js';

const compiled = new URL('../dist/server/token/openers.js', import.meta.url);
const built = existsSync(fileURLToPath(compiled));
if (!built) {
  if (process.env.CI) throw new Error('dist/ is missing: npm test builds it before the tests');
  console.warn('token-workers.test.ts: skipped, run npm run build first');
}

describe.skipIf(!built)('token decoding in worker threads', async () => {
  const { WorkerOpener, createTokenOpener } = (await import(compiled.href)) as typeof Openers;
  const first = generateTokenKey(new Date('2026-01-01T00:00:00Z'));
  const opener = createTokenOpener(2, [first]);
  afterAll(() => opener.close());

  it('uses worker threads when the compiled worker exists', () => {
    expect(opener).toBeInstanceOf(WorkerOpener);
  });

  it('opens tokens exactly as the main thread does, in batches of concurrent requests', async () => {
    const ring = new TokenKeyRing([first]);
    const device = await newDevice();
    const tokens = await Promise.all(Array.from({ length: 40 }, () => makeToken({ serverKey: ring.primary, appKey: 'pk_workers', device })));
    tokens.push('garbage', `${tokens[0]!.slice(0, -4)}AAAA`);
    const results = await Promise.all(tokens.map((token) => opener.open(token)));
    expect(results).toEqual(tokens.map((token) => openBlackBox(token, ring)));
    expect(results.filter((r) => r.ok)).toHaveLength(40);
  });

  it('follows key rotation', async () => {
    const second = generateTokenKey(new Date('2026-06-01T00:00:00Z'));
    const ring = new TokenKeyRing([first, second]);
    const token = await makeToken({ serverKey: ring.primary, appKey: 'pk_workers' });
    expect(await opener.open(token)).toMatchObject({ ok: false, failure: 'TOKEN_UNKNOWN_KEY' });
    opener.setKeys([first, second]);
    expect(await opener.open(token)).toMatchObject({ ok: true });
  });
});
