/**
 * Issue 13, items 1 and 4, through the real routes with small memory-mode
 * tables (`state.max_keys: 1000`): filling the replay claims must never turn a
 * fresh token into a replay (nor reach another app), and evaluation traffic
 * must never evict rate limits, live challenges or sessions.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { DEFAULT_RULES_FILE } from '../../server/app.js';
import type { SmsMessage, SmsProvider } from '../../server/adapters/sms/provider.js';
import type { ChallengeAnswerResponse, ChallengeStartResponse, EvaluateResponse, SmsSendResponse, VerifyResponse } from '../../shared/schemas.js';
import { APP_KEY, injectJson, OTHER_APP_KEY, OTHER_APP_SECRET, testApp, type TestApp } from '../support/app.js';
import { makeToken, newDevice } from '../support/tokens.js';

const MOBILE = '+8613812345678';
const SMALL = { state: { max_keys: 1000 } };

class CapturingSms implements SmsProvider {
  readonly name = 'capture';
  readonly sent: SmsMessage[] = [];
  async send(message: SmsMessage): Promise<void> {
    this.sent.push(message);
  }
  lastCode(to: string): string {
    const text = this.sent.filter((m) => m.to === to).at(-1)?.text;
    const code = text && /\b(\d{6})\b/.exec(text)?.[1];
    if (!code) throw new Error(`no code was sent to ${to}`);
    return code;
  }
}

/** Every evaluation scores 25: a slider, so each one also issues a challenge_token. */
let rulesDir: string;
let rulesFile: string;
beforeAll(() => {
  rulesDir = mkdtempSync(join(tmpdir(), 'riskgate-bounds-rules-'));
  rulesFile = join(rulesDir, 'rules.yaml');
  writeFileSync(rulesFile, YAML.stringify({ version: 1, rules: [{ id: 'flat', when: 'true', score: 25, reason: { en: 'Flat', zh: '固定' } }] }));
});
afterAll(() => rmSync(rulesDir, { recursive: true, force: true }));

let open: TestApp[] = [];
afterEach(async () => {
  await Promise.all(open.map((t) => t.close()));
  open = [];
});

async function app(raw: Record<string, unknown>, sms?: SmsProvider): Promise<TestApp> {
  const t = await testApp(raw, sms ? { smsProvider: sms } : {});
  open.push(t);
  return t;
}

const call = injectJson;

const evaluate = (t: TestApp, body: Record<string, unknown>, authorization = t.auth.authorization) =>
  call<EvaluateResponse>(t, { method: 'POST', url: '/v1/risk/evaluate', headers: { authorization }, payload: { event: 'login', ip: '203.0.113.9', ...body } });
const start = (t: TestApp, body: Record<string, unknown>) =>
  call<ChallengeStartResponse>(t, { method: 'POST', url: '/v1/challenges', headers: t.auth, payload: { event: 'login', ...body } });
const sendSms = (t: TestApp, id: string) =>
  call<SmsSendResponse>(t, { method: 'POST', url: `/v1/challenges/${id}/sms`, headers: { origin: 'https://shop.example' }, payload: { app_key: APP_KEY } });
const answer = (t: TestApp, id: string, body: object) =>
  call<ChallengeAnswerResponse>(t, { method: 'POST', url: `/v1/challenges/${id}/answer`, payload: { app_key: APP_KEY, ...body } });
const verify = (t: TestApp, sessionId: string) =>
  call<VerifyResponse>(t, { method: 'POST', url: '/v1/challenges/verify', headers: t.auth, payload: { session_id: sessionId } });

async function metric(t: TestApp, line: string): Promise<number> {
  const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found ? Number(found.slice(line.length + 1)) : 0;
}

const reasonIds = (body: EvaluateResponse) => body.reasons.map((r) => r.id);

/** An SMS challenge passed by its code: a session_id. */
async function smsSession(t: TestApp, sms: CapturingSms, mobile: string): Promise<string> {
  const started = await start(t, { type: 'sms', mobile });
  expect((await sendSms(t, started.body.challenge_id)).status).toBe(200);
  const passed = await answer(t, started.body.challenge_id, { code: sms.lastCode(mobile) });
  expect(passed.body).toMatchObject({ success: true, session_id: expect.any(String) });
  return passed.body.session_id!;
}

describe('memory mode: a full replay table never declines a fresh token (issue 13, item 1)', () => {
  it('1,000 claimed tokens later, a fresh token is degraded, not replayed; a replay is still one; other apps and sessions are untouched', async () => {
    const sms = new CapturingSms();
    const t = await app({ ...SMALL, rules_file: DEFAULT_RULES_FILE }, sms);
    const serverKey = t.app.riskgate.keys.current().primary;
    const device = await newDevice();
    const token = () => makeToken({ serverKey, appKey: APP_KEY, device });
    // A session passed before the flood, verified after it.
    const session = await smsSession(t, sms, MOBILE);

    const first = await token();
    expect(reasonIds((await evaluate(t, { black_box: first })).body)).not.toContain('token_replayed');
    for (let i = 1; i < 1000; i++) {
      const { body } = await evaluate(t, { black_box: await token() });
      expect(reasonIds(body), `token ${i}`).not.toContain('token_replayed');
    }

    const fresh = await evaluate(t, { black_box: await token() });
    expect(fresh.status).toBe(200);
    expect(reasonIds(fresh.body)).not.toContain('token_replayed');
    expect(fresh.body.degraded).toBe(true);
    expect(reasonIds(fresh.body)).toContain('replay_check_unavailable');
    expect(await metric(t, 'riskgate_hot_state_full_total{space="claims"}')).toBeGreaterThanOrEqual(1);
    // A token claimed before the table filled is still a replay.
    expect(reasonIds((await evaluate(t, { black_box: first })).body)).toContain('token_replayed');

    // Another app's claims have their own room.
    const other = await makeToken({ serverKey, appKey: OTHER_APP_KEY, device });
    const otherResult = await evaluate(t, { black_box: other }, `Bearer ${OTHER_APP_SECRET}`);
    expect(reasonIds(otherResult.body)).not.toContain('token_replayed');
    expect(reasonIds(otherResult.body)).not.toContain('replay_check_unavailable');

    // A passed session still verifies once, then is used.
    expect((await verify(t, session)).body).toMatchObject({ success: true });
    expect((await verify(t, session)).body).toMatchObject({ success: false, error: 'already_used' });
  }, 120_000);
});

describe('memory mode: evaluations never evict rate limits, challenges or sessions (issue 13, item 4)', () => {
  it('after 1,100 evaluations the 6th SMS to a number is still refused, and the live challenge and session survive', async () => {
    const sms = new CapturingSms();
    const t = await app({ ...SMALL, rules_file: rulesFile }, sms);
    for (let i = 1; i <= 5; i++) {
      const started = await start(t, { type: 'sms', mobile: MOBILE });
      expect((await sendSms(t, started.body.challenge_id)).status, `send ${i}`).toBe(200);
    }
    const sixth = await start(t, { type: 'sms', mobile: MOBILE });
    expect((await sendSms(t, sixth.body.challenge_id)).status).toBe(429);
    const session = await smsSession(t, sms, '+8613900000001');
    const live = await start(t, { type: 'sms', mobile: '+8613900000002' });
    expect(live.status).toBe(200);

    for (let i = 0; i < 1100; i++) {
      const { status, body } = await evaluate(t, { ip: `10.1.${i >> 8}.${i & 255}`, account_id: `flood-${i}` });
      expect(status).toBe(200);
      expect(body.challenge_token).toEqual(expect.any(String));
    }

    for (let i = 0; i < 3; i++) {
      const again = await start(t, { type: 'sms', mobile: MOBILE });
      expect((await sendSms(t, again.body.challenge_id)).status, `after the flood, send ${i + 7}`).toBe(429);
    }
    expect(sms.sent.filter((m) => m.to === MOBILE)).toHaveLength(5);
    // The challenge started before the flood is still there to send its code.
    expect((await sendSms(t, live.body.challenge_id)).status).toBe(200);
    expect((await verify(t, session)).body).toMatchObject({ success: true });
    expect(await metric(t, 'riskgate_hot_state_evictions_total{space="evaluation"}')).toBeGreaterThan(0);
  }, 120_000);
});
