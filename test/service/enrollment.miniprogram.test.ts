/**
 * Device enrollment by the mini-program SDK: the built bundle under Node with
 * a fake wx whose wx.request reaches a real RiskGate. The puzzle is solved
 * with the SDK's own noble PBKDF2 in slices that leave the event loop free,
 * the certificate goes into wx storage and into every later token, and the
 * next run of the mini-program reuses it.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as noble from '../../client/miniprogram/src/crypto.js';
import { solveInSlices } from '../../client/miniprogram/src/enrollment.js';
import type { AppSettings } from '../../server/config/config.js';
import { EnrollmentService } from '../../server/services/enrollment.js';
import { MemoryHotState } from '../../server/adapters/hot-state/memory.js';
import { openBlackBox } from '../../server/engine/token/decode.js';
import type { DecisionRecord, EvaluateResponse } from '../../shared/schemas.js';
import { APP_KEY, createFakeWx, ensureMiniprogramBuilt, httpTransport, loadMiniprogramSdk, PHONE, startServer, type RunningServer } from '../support/miniprogram.js';

interface Client {
  getBlackBox(): Promise<string>;
}
const loadSdk = () => loadMiniprogramSdk<{ init(options: Record<string, unknown>): Client }>();

let server: RunningServer;
beforeAll(async () => {
  ensureMiniprogramBuilt();
  server = await startServer();
}, 180_000);
afterAll(async () => {
  await server?.close();
});
afterEach(() => {
  delete (globalThis as { wx?: unknown }).wx;
});

const enrollmentOf = (token: string) => {
  const opened = openBlackBox(token, server.app.riskgate.keys.current());
  if (!opened.ok) throw new Error(opened.failure);
  return opened.payload.enrollment;
};

describe('mini-program SDK enrollment', () => {
  it('enrolls in the background, keeps the certificate in wx storage, and its tokens carry it', async () => {
    const storage = new Map<string, unknown>();
    const wx = createFakeWx(PHONE, httpTransport, { storage });
    (globalThis as { wx?: unknown }).wx = wx;
    const rg = loadSdk().init({ appKey: APP_KEY, endpoint: server.base });
    expect(enrollmentOf(await rg.getBlackBox())?.state).toMatch(/^(enrolling|enrolled)$/);
    let token = await rg.getBlackBox();
    for (let i = 0; i < 100 && enrollmentOf(token)?.state === 'enrolling'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      token = await rg.getBlackBox();
    }
    const enrollment = enrollmentOf(token);
    expect(enrollment).toMatchObject({ state: 'enrolled', cert: expect.stringMatching(/^rgc1\./) });
    expect(storage.get(`riskgate:cert:${APP_KEY}`)).toMatchObject({ cert: enrollment!.cert });

    const { json } = await server.api<EvaluateResponse>('POST', '/v1/risk/evaluate', { event: 'login', black_box: token, ip: '127.0.0.1' });
    expect(json.reasons.map((r) => r.id)).not.toContain('device_not_enrolled');
    await new Promise((r) => setTimeout(r, 300));
    const { json: recorded } = await server.api<{ decision: DecisionRecord }>('GET', `/v1/decisions/${json.sequence_id}`);
    expect(recorded.decision.features).toMatchObject({ platform: 'wechat', enrollment: { status: 'ok', prefix_match: true } });

    // The next run of the mini-program: same storage, no new enrollment.
    const next = createFakeWx(PHONE, httpTransport, { storage });
    (globalThis as { wx?: unknown }).wx = next;
    const again = loadSdk().init({ appKey: APP_KEY, endpoint: server.base });
    const first = await again.getBlackBox();
    expect(enrollmentOf(first)).toEqual(enrollment);
    expect(next.requests.map((r) => new URL(r.url).pathname)).not.toContain('/v1/devices/puzzle');
  }, 60_000);

  it('solves a full-size puzzle in slices: the event loop is never held for long', async () => {
    // A production-size puzzle (the test server's are small): 1,000 iterations a derivation, 48 derivations expected.
    const service = new EnrollmentService({ hotState: new MemoryHotState(), secret: randomBytes(32), log: { warn() {} } });
    const p = await service.puzzle({ id: 'shop' } as AppSettings, '198.51.100.4');
    expect(p.cost).toBe(1000);
    let last = performance.now();
    let longest = 0;
    const ticker = setInterval(() => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
    }, 1);
    const started = performance.now();
    const [counter, key] = await solveInSlices(noble, p);
    const elapsed = performance.now() - started;
    clearInterval(ticker);
    expect(key.startsWith(p.key_prefix)).toBe(true);
    const oneDerivation = (() => {
      const t0 = performance.now();
      noble.pbkdf2Sha256(new Uint8Array(20), new Uint8Array(16), 1000);
      return performance.now() - t0;
    })();
    console.log(`mini-program solver: counter ${counter} in ${Math.round(elapsed)} ms (cost ${p.cost}); longest event-loop stall ${longest.toFixed(1)} ms; one 1,000-iteration derivation ${oneDerivation.toFixed(1)} ms`);
    expect(longest).toBeLessThan(200);
  }, 60_000);
});
