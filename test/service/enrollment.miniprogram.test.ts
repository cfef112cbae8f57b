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

  // How long the solve takes and the longest event-loop stall are performance figures: bench/challenge-bench.ts prints them.
  it('solves a full-size puzzle in slices: one key derivation per task, the event loop free between them', async () => {
    // A production-size puzzle (the test server's are small): 1,000 iterations a derivation, 48 derivations expected.
    const service = new EnrollmentService({ hotState: new MemoryHotState(), secret: randomBytes(32), log: { warn() {} } });
    const p = await service.puzzle({ id: 'shop' } as AppSettings, '198.51.100.4');
    expect(p.cost).toBe(1000);
    // Each derivation queues a timer before the solver queues its own: the next derivation must find it run,
    // that is, between two derivations the solver gave the event loop back (no clock: a busy machine cannot fail this).
    let derivations = 0;
    let heldOver = 0;
    let markerPending = false;
    const slices = {
      pbkdf2Sha256: (password: Uint8Array, salt: Uint8Array, iterations: number) => {
        if (markerPending) heldOver++;
        markerPending = true;
        setTimeout(() => (markerPending = false), 0);
        derivations++;
        return noble.pbkdf2Sha256(password, salt, iterations);
      },
    };
    const [counter, key] = await solveInSlices(slices, p);
    expect(key.startsWith(p.key_prefix)).toBe(true);
    expect(derivations).toBe(counter + 1);
    expect(derivations).toBeGreaterThan(1);
    expect(heldOver).toBe(0);
  }, 60_000);
});
