import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InjectOptions } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../shared/constants.js';
import { MAX_DETAIL_DEPTH, type EvaluateResponse } from '../../shared/schemas.js';
import { runKeysCommand } from '../../server/cli.js';
import { TOKEN_KEY_FILE } from '../../server/config/data-dir.js';
import type { HotState } from '../../server/adapters/hot-state/hot-state.js';
import { MemoryHotState } from '../../server/adapters/hot-state/memory.js';
import { APP_KEY, APP_SECRET, OTHER_APP_SECRET, overriding, testApp, type TestApp } from '../support/app.js';
import { appPerDescribe } from '../support/shared-app.js';
import { nulAccountOutcomes } from '../support/control-chars.js';
import { enroll } from '../support/enroll.js';
import { makeToken, newDevice } from '../support/tokens.js';

let current: TestApp | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

async function start(...args: Parameters<typeof testApp>): Promise<TestApp> {
  current = await testApp(...args);
  return current;
}

async function evaluate(t: TestApp, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  const response = await t.app.inject({ method: 'POST', url: '/v1/risk/evaluate', headers: { ...t.auth, ...headers }, payload: body });
  return { status: response.statusCode, body: response.json() as EvaluateResponse & { error?: string; field?: string } };
}

const token = (t: TestApp, options: Partial<Parameters<typeof makeToken>[0]> = {}) =>
  makeToken({ serverKey: t.app.riskgate.keys.current().primary, appKey: APP_KEY, ...options });

const reasonIds = (body: EvaluateResponse) => body.reasons.map((r) => r.id);

describe('POST /v1/risk/evaluate: contract', () => {
  /** For the tests that read no state: sequence ids and reason texts. */
  const shared = appPerDescribe();

  it('answers a decision with every field of the contract for a good token', async () => {
    const t = await start({}, { enrollment: { baseDerivations: 4, cost: 50 } });
    // A good token: its device key enrolled (server/services/enrollment.ts), as the SDKs do at init.
    const device = await newDevice();
    const cert = await enroll(t.app, device, APP_KEY, '203.0.113.10');
    const { status, body } = await evaluate(t, { event: 'register', black_box: await token(t, { device, payload: { enrollment: { state: 'enrolled', cert } } }), ip: '203.0.113.10', account_id: 'u1' });
    expect(status).toBe(200);
    expect(body).toMatchObject({ code: 200, score: expect.any(Number), degraded: false });
    expect(body.sequence_id).toMatch(/^[0-9A-F]{32}$/);
    expect(body.level).toBeLessThanOrEqual(1);
    expect(body.decision).toBe('accept');
    expect(['none', 'slider']).toContain(body.challenge);
    expect(body.device_id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(body).not.toHaveProperty('challenge_token');
  });

  it('gives every call its own sequence_id', async () => {
    const t = shared();
    const ids = new Set<string>();
    for (let i = 0; i < 50; i++) ids.add((await evaluate(t, { event: 'browse', ip: '198.51.100.1' })).body.sequence_id);
    expect(ids.size).toBe(50);
  });

  it('writes reasons in Chinese when asked', async () => {
    const t = shared();
    const { body } = await evaluate(t, { event: 'login', ip: '198.51.100.7' }, { 'accept-language': 'zh-CN,zh;q=0.9' });
    expect(body.reasons.find((r) => r.id === 'token_missing')?.reason).toMatch(/[\u4e00-\u9fff]/);
  });
});

describe('error codes', () => {
  /** Refused requests change nothing; the one that is accepted (9002) counts nothing the others read. */
  const shared = appPerDescribe();
  const run = async (t: TestApp, options: InjectOptions) => {
    const response = await t.app.inject(options);
    const body = response.json() as { code: number; field?: string; message: string };
    return { status: response.statusCode, code: body.code, field: body.field, message: body.message };
  };

  it('9001 when a required field is missing or empty, naming it', async () => {
    const t = shared();
    expect(await run(t, { method: 'POST', url: '/v1/risk/evaluate', headers: t.auth, payload: { ip: '1.2.3.4' } })).toMatchObject({ status: 400, code: 9001, field: 'event', message: 'event is empty' });
    expect(await run(t, { method: 'POST', url: '/v1/risk/evaluate', headers: t.auth, payload: { event: 'login', ip: '1.2.3.4', account_id: '  ' } })).toMatchObject({ status: 400, code: 9001, field: 'account_id' });
  });

  it('9002 when a field is invalid', async () => {
    const t = shared();
    expect(await run(t, { method: 'POST', url: '/v1/risk/evaluate', headers: t.auth, payload: { event: 'dance', ip: '1.2.3.4' } })).toMatchObject({ status: 400, code: 9002, field: 'event' });
    expect(await run(t, { method: 'POST', url: '/v1/risk/evaluate', headers: t.auth, payload: { event: 'login', ip: 42 } })).toMatchObject({ status: 400, code: 9002, field: 'ip' });
    expect(await run(t, { method: 'POST', url: '/v1/risk/evaluate', headers: t.auth, payload: { event: 'login', ip: '1.2.3.4', event_time: 'yesterday' } })).toMatchObject({ status: 400, code: 9002, field: 'event_time' });
    // Free-form details nest at most MAX_DETAIL_DEPTH levels, so every accepted request can be logged.
    const nested = (levels: number): Record<string, unknown> => {
      let value: Record<string, unknown> = { leaf: 1 };
      for (let i = 1; i < levels; i++) value = { a: value };
      return value;
    };
    expect(await run(t, { method: 'POST', url: '/v1/risk/evaluate', headers: t.auth, payload: { event: 'login', ip: '1.2.3.4', event_detail: nested(MAX_DETAIL_DEPTH + 1) } })).toMatchObject({ status: 400, code: 9002, field: 'event_detail' });
    expect(await run(t, { method: 'POST', url: '/v1/risk/evaluate', headers: t.auth, payload: { event: 'login', ip: '1.2.3.4', ext: { list: [[[['deep']]]], detail: nested(MAX_DETAIL_DEPTH + 5) } } })).toMatchObject({ status: 400, code: 9002, field: 'ext' });
    expect((await t.app.inject({ method: 'POST', url: '/v1/risk/evaluate', headers: t.auth, payload: { event: 'login', ip: '1.2.3.4', event_detail: nested(MAX_DETAIL_DEPTH) } })).statusCode).toBe(200);
    expect(await run(t, { method: 'POST', url: '/v1/risk/evaluate', headers: { ...t.auth, 'content-type': 'application/json' }, payload: '{"event":' })).toMatchObject({ status: 400, code: 9002, field: 'body' });
    expect(await run(t, { method: 'POST', url: '/v1/risk/evaluate', headers: t.auth, payload: [1, 2] })).toMatchObject({ status: 400, code: 9002 });
  });

  it('9003 when a field is longer than 1024, and 413 with 9003 for an oversized body', async () => {
    const t = shared();
    expect(await run(t, { method: 'POST', url: '/v1/risk/evaluate', headers: t.auth, payload: { event: 'login', ip: '1.2.3.4', nickname: 'x'.repeat(1025) } })).toMatchObject({ status: 400, code: 9003, field: 'nickname' });
    expect(await run(t, { method: 'POST', url: '/v1/risk/evaluate', headers: t.auth, payload: { event: 'login', ip: '1.2.3.4', ext: { blob: 'x'.repeat(70_000) } } })).toMatchObject({ status: 413, code: 9003 });
  });

  it('refuses an oversized body before authenticating or parsing it', async () => {
    const t = shared();
    const response = await t.app.inject({ method: 'POST', url: '/v1/risk/evaluate', headers: { 'content-type': 'application/json', 'content-length': '10000000' }, payload: '{}' });
    expect(response.statusCode).toBeGreaterThanOrEqual(400);
    expect(response.statusCode).toBeLessThan(500);
  });

  it('9004 when neither black_box nor ip is given', async () => {
    const t = shared();
    expect(await run(t, { method: 'POST', url: '/v1/risk/evaluate', headers: t.auth, payload: { event: 'login', account_id: 'u1' } })).toMatchObject({ status: 400, code: 9004 });
  });

  it('9202 for a body that is not JSON', async () => {
    const t = shared();
    expect(await run(t, { method: 'POST', url: '/v1/risk/evaluate', headers: { ...t.auth, 'content-type': 'text/plain' }, payload: 'event=login' })).toMatchObject({ status: 415, code: 9202 });
    expect(await run(t, { method: 'POST', url: '/v1/risk/evaluate', headers: { ...t.auth, 'content-type': 'application/x-www-form-urlencoded' }, payload: 'event=login' })).toMatchObject({ status: 415, code: 9202 });
  });

  it('4010 for a missing, malformed or wrong secret', async () => {
    const t = shared();
    const body = { event: 'login', ip: '1.2.3.4' };
    for (const headers of [{}, { authorization: 'Basic abc' }, { authorization: 'Bearer wrong-secret-0123456789' }, { authorization: 'Bearer ' }]) {
      expect(await run(t, { method: 'POST', url: '/v1/risk/evaluate', headers, payload: body })).toMatchObject({ status: 401, code: 4010 });
    }
  });

  it('4040 for an unknown route or decision', async () => {
    const t = shared();
    expect(await run(t, { method: 'GET', url: '/v1/nothing' })).toMatchObject({ status: 404, code: 4040 });
    expect(await run(t, { method: 'GET', url: `/v1/decisions/${'A'.repeat(32)}`, headers: t.auth })).toMatchObject({ status: 404, code: 4040 });
  });

  it('9200 without a stack trace when a store fails unexpectedly', async () => {
    const t = await start(
      {},
      {
        records: (records) =>
          overriding(records, {
            getDecision: async () => {
              throw new Error('disk on fire at /secret/path.ts:1:1');
            },
          }),
      },
    );
    const response = await t.app.inject({ method: 'GET', url: `/v1/decisions/${'B'.repeat(32)}`, headers: t.auth });
    expect(response.statusCode).toBe(500);
    expect(response.json()).toEqual({ code: 9200, error: 'SYSTEM_ERROR', message: 'internal error' });
  });

  it('every error code is in the README table', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    for (const entry of Object.values(ERROR_CODES)) {
      expect(readme).toMatch(new RegExp(`\\|\\s*${entry.code}\\s*\\|\\s*${entry.status}\\s*\\|\\s*\`${entry.name}\``));
    }
  });
});

describe('bad tokens are decisions, never errors', () => {
  it('a replayed token is tagged replayed and declined the second time', async () => {
    const t = await start();
    const blackBox = await token(t);
    const first = await evaluate(t, { event: 'login', black_box: blackBox, ip: '203.0.113.5' });
    const second = await evaluate(t, { event: 'login', black_box: blackBox, ip: '203.0.113.5' });
    expect(first.body.tags).not.toContain('replayed');
    expect(second.status).toBe(200);
    expect(second.body.tags).toContain('replayed');
    expect(reasonIds(second.body)).toContain('token_replayed');
    expect(second.body.level).toBe(4);
    expect(second.body.decision).toBe('decline');
    expect(second.body.device_id).toBe(first.body.device_id);
  });

  it('garbage, forged, expired and foreign tokens each decline or review with their own reason', async () => {
    const t = await start();
    const good = await token(t);
    const parts = good.split('.');
    const flipped = Buffer.from(parts[3]!, 'base64url');
    flipped[3]! ^= 0xff;
    const cases: [string, string, number][] = [
      ['garbage', 'token_malformed', 4],
      [[parts[0], '', parts[2], flipped.toString('base64url'), parts[4]].join('.'), 'token_decrypt_failed', 4],
      [await token(t, { issuedAt: Math.floor(Date.now() / 1000) - 3600 }), 'token_expired', 3],
      [await token(t, { appKey: 'pk_another_app' }), 'token_app_mismatch', 4],
      ['x'.repeat(9000), 'token_too_large', 4],
    ];
    for (const [blackBox, reason, minLevel] of cases) {
      const { status, body } = await evaluate(t, { event: 'register', black_box: blackBox, ip: '203.0.113.9' });
      expect(status).toBe(200);
      expect(reasonIds(body)).toContain(reason);
      expect(body.level).toBeGreaterThanOrEqual(minLevel);
    }
  });

  it('counts token failures in /metrics by reason', async () => {
    const t = await start();
    await evaluate(t, { event: 'login', black_box: 'garbage', ip: '203.0.113.9' });
    const metrics = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/riskgate_token_failures_total\{reason="TOKEN_MALFORMED"\} 1/);
    expect(metrics).toMatch(/riskgate_decisions_total\{event="login",decision="decline"\} 1/);
    expect(metrics).toMatch(/riskgate_http_requests_total\{route="\/v1\/risk\/evaluate",method="POST",status="200"\} 1/);
    expect(metrics).toMatch(/riskgate_evaluate_duration_seconds_count 1/);
  });
});

describe('signals and velocity reach the rules', () => {
  it('a webdriver-driven headless browser is tagged bot and scores level 4', async () => {
    const t = await start();
    const blackBox = await token(t, { payload: { signals: { automation: { webdriver: true, headless_ua: true } } } });
    const { body } = await evaluate(t, { event: 'register', black_box: blackBox, ip: '203.0.113.20' });
    expect(body.tags).toEqual(expect.arrayContaining(['bot', 'headless']));
    expect(body.level).toBeGreaterThanOrEqual(3);
  });

  it('a burst of registrations from one ip raises the score', async () => {
    const t = await start();
    const scores: number[] = [];
    for (let i = 0; i < 12; i++) {
      const { body } = await evaluate(t, { event: 'register', black_box: await token(t), ip: '203.0.113.30', account_id: `burst-${i}` });
      scores.push(body.score);
    }
    expect(scores[11]!).toBeGreaterThan(scores[0]!);
    const last = await evaluate(t, { event: 'register', black_box: await token(t), ip: '203.0.113.30', account_id: 'burst-last' });
    expect(last.body.tags).toContain('velocity');
  });

  it('one device registering many accounts is tagged gang', async () => {
    const t = await start();
    const device = await newDevice();
    let last: EvaluateResponse | undefined;
    for (let i = 0; i < 8; i++) {
      last = (await evaluate(t, { event: 'register', black_box: await token(t, { device }), ip: `198.51.100.${i + 1}`, account_id: `farm-${i}` })).body;
    }
    expect(last!.tags).toContain('gang');
  });

  it('a new device is reported once, then known', async () => {
    const t = await start();
    const device = await newDevice();
    await evaluate(t, { event: 'login', black_box: await token(t, { device }), ip: '203.0.113.40', account_id: 'owner' });
    const id = (await evaluate(t, { event: 'login', black_box: await token(t, { device }), ip: '203.0.113.40', account_id: 'owner' })).body;
    const decision = await t.app.inject({ method: 'GET', url: `/v1/decisions/${id.sequence_id}`, headers: t.auth });
    expect(decision.json().decision.features.device.new).toBe(false);
  });

  it('disposable email, virtual-operator mobile and a private ip are features with reasons', async () => {
    const t = await start();
    const { body } = await evaluate(t, { event: 'register', black_box: await token(t), ip: '10.1.2.3', email: 'x@mailinator.com', mobile: '17012345678' });
    expect(body.tags).toEqual(expect.arrayContaining(['disposable_email', 'virtual_mobile', 'private_ip']));
  });
});

describe('lists apply first', () => {
  const addEntry = (t: TestApp, payload: Record<string, unknown>, headers: Record<string, string> = {}) =>
    t.app.inject({ method: 'POST', url: '/v1/lists', headers: { ...t.auth, ...headers }, payload });

  it('a black ip declines and a white account accepts, whatever the rules say', async () => {
    const t = await start();
    expect((await addEntry(t, { list: 'black', dimension: 'ip', value: '203.0.113.66', reason: 'coupon farm' })).statusCode).toBe(200);
    const black = await evaluate(t, { event: 'get_coupon', black_box: await token(t), ip: '203.0.113.66' });
    expect(black.body).toMatchObject({ decision: 'decline', level: 4, score: 100, tags: ['blacklist'] });
    expect(reasonIds(black.body)).toEqual(['list_black']);

    await addEntry(t, { list: 'white', dimension: 'account', value: 'vip-1' });
    const white = await evaluate(t, { event: 'login', black_box: 'garbage', ip: '203.0.113.67', account_id: 'vip-1' });
    expect(white.body).toMatchObject({ decision: 'accept', level: 0, challenge: 'none', tags: ['whitelist'] });
  });

  it('lists, finds and deletes entries; a deleted entry no longer applies', async () => {
    const t = await start();
    const added = (await addEntry(t, { list: 'black', dimension: 'mobile', value: '+86 138-0013-8000' }, { 'x-riskgate-actor': 'ops-alice' })).json().entry;
    expect(added.value).not.toContain('00138000');
    expect(added.created_by).toBe('app:shop/ops-alice');
    const found = await t.app.inject({ method: 'GET', url: '/v1/lists?dimension=mobile&value=13800138000', headers: t.auth });
    expect(found.json().entries.map((e: { id: string }) => e.id)).toEqual([added.id]);
    expect((await evaluate(t, { event: 'sms', ip: '203.0.113.70', mobile: '8613800138000' })).body.decision).toBe('decline');

    expect((await t.app.inject({ method: 'DELETE', url: `/v1/lists/${added.id}`, headers: t.auth })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'DELETE', url: `/v1/lists/${added.id}`, headers: t.auth })).json()).toMatchObject({ code: 4040 });
    expect((await evaluate(t, { event: 'sms', ip: '203.0.113.70', mobile: '8613800138000' })).body.tags).not.toContain('blacklist');
  });

  it("keeps each app's lists to itself", async () => {
    const t = await start();
    await addEntry(t, { list: 'black', dimension: 'ip', value: '203.0.113.80' });
    const other = await t.app.inject({ method: 'GET', url: '/v1/lists?dimension=ip&value=203.0.113.80', headers: { authorization: `Bearer ${OTHER_APP_SECRET}` } });
    expect(other.json().entries).toEqual([]);
  });

  it('validates list input with stable codes', async () => {
    const t = await start();
    expect((await addEntry(t, { list: 'grey', dimension: 'ip', value: '1.2.3.4' })).json()).toMatchObject({ code: 9002, field: 'list' });
    expect((await addEntry(t, { list: 'black', dimension: 'ip' })).json()).toMatchObject({ code: 9001, field: 'value' });
    expect((await addEntry(t, { list: 'black', dimension: 'ip', value: '1.2.3.4', ttl_seconds: -5 })).json()).toMatchObject({ code: 9002, field: 'ttl_seconds' });
    const query = await t.app.inject({ method: 'GET', url: '/v1/lists?value=1.2.3.4', headers: t.auth });
    expect(query.json()).toMatchObject({ code: 9001, field: 'dimension' });
  });
});

describe('control characters (issue 13, item 2)', () => {
  it('a black-listed IP and device stay declined when the account id carries a NUL', async () => {
    const t = await start();
    const outcome = await nulAccountOutcomes(t.app, t.auth, APP_KEY);
    expect(outcome.api).toMatchObject({ status: 400, body: { code: 9002, field: 'account_id' } });
    for (const response of [outcome.blackIp, outcome.blackDevice, outcome.blackIpNulEmail]) {
      expect(response).toMatchObject({ decision: 'decline', tags: ['blacklist'] });
    }
  });

  it('a list lookup failing for one dimension still applies the others, degraded and counted', async () => {
    const t = await start(
      {},
      {
        records: (records) =>
          overriding(records, {
            matchLists: async (appId, lookups, now) => {
              if (lookups.some((l) => l.dimension === 'account')) throw new Error('invalid byte sequence for encoding "UTF8": 0x00');
              return records.matchLists(appId, lookups, now);
            },
          }),
      },
    );
    expect((await t.app.inject({ method: 'POST', url: '/v1/lists', headers: t.auth, payload: { list: 'black', dimension: 'ip', value: '203.0.113.77' } })).statusCode).toBe(200);
    const { status, body } = await evaluate(t, { event: 'login', ip: '203.0.113.77', account_id: 'u-77' });
    expect(status).toBe(200);
    expect(body).toMatchObject({ decision: 'decline', tags: ['blacklist'], degraded: true });
    expect(reasonIds(body)).toEqual(['list_black', 'lists_unavailable']);
    const metrics = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/riskgate_dependency_failures_total\{dependency="lists"\} 1\b/);
  });

  it('refuses control characters in identifiers, and NUL in free text and details, with 9002 naming the field', async () => {
    const t = await start();
    const cases: [Record<string, unknown>, string][] = [
      [{ account_id: 'x\u0000y' }, 'account_id'],
      [{ account_id: 'x\ty' }, 'account_id'],
      [{ ip: '203.0.113.1\u0000' }, 'ip'],
      [{ mobile: '138\u007f00138000' }, 'mobile'],
      [{ email: 'a\u0085@example.com' }, 'email'],
      [{ session_id: 's\u001b1' }, 'session_id'],
      [{ nickname: 'n\u0000' }, 'nickname'],
      [{ user_agent: 'Mozilla/5.0\u0007' }, 'user_agent'],
      [{ referer: 'https://a.example/\u0000' }, 'referer'],
      [{ ext: { 'k\u0000': 1 } }, 'ext'],
      [{ ext: { a: ['ok', 'b\u0000'] } }, 'ext.a.1'],
      [{ event_detail: { amount: 5, note: { text: '\u0000' } } }, 'event_detail.note.text'],
    ];
    for (const [fields, field] of cases) {
      const { status, body } = await evaluate(t, { event: 'login', ip: '203.0.113.1', ...fields });
      expect({ fields, status, code: body.code, field: body.field }).toEqual({ fields, status: 400, code: 9002, field });
    }
    // A tab in free text is fine, and so is ordinary Unicode everywhere.
    expect((await evaluate(t, { event: 'login', ip: '203.0.113.1', user_agent: 'Mozilla/5.0\t(X11)', nickname: '小明 😀', account_id: '用户-1', ext: { '备注': 'ok\tfine' } })).status).toBe(200);

    const list = (payload: Record<string, unknown>) => t.app.inject({ method: 'POST', url: '/v1/lists', headers: t.auth, payload });
    expect((await list({ list: 'black', dimension: 'account', value: 'x\u0000y' })).json()).toMatchObject({ code: 9002, field: 'value' });
    expect((await list({ list: 'black', dimension: 'ip', value: '203.0.113.2', reason: 'r\u0000' })).json()).toMatchObject({ code: 9002, field: 'reason' });
    const query = await t.app.inject({ method: 'GET', url: '/v1/lists?dimension=account&value=x%00y', headers: t.auth });
    expect(query.json()).toMatchObject({ code: 9002, field: 'value' });
  });
});

describe('the decision log', () => {
  it('records the masked request, features, rules hit (shadow too), version and latency', async () => {
    const rulesFile = join(mkdtempSync(join(tmpdir(), 'riskgate-rules-')), 'rules.yaml');
    writeFileSync(
      rulesFile,
      `version: 1
rules:
  - id: loud_shadow
    when: 'true'
    score: 100
    decision: decline
    state: shadow
    reason: { en: Shadow test, zh: 影子规则 }
  - id: small_online
    when: request.has_mobile
    score: 10
    reason: { en: Has a mobile, zh: 有手机号 }
`,
    );
    const t = await start({ rules_file: rulesFile });
    const { body } = await evaluate(t, { event: 'register', ip: '203.0.113.90', mobile: '13800138000', email: 'someone@example.com' });
    // No black_box: never a plain accept, whatever the rules file says.
    expect(body).toMatchObject({ score: 10, level: 0, decision: 'challenge', challenge: 'slider' });
    expect(reasonIds(body)).toEqual(['small_online']);

    const logged = (await t.app.inject({ method: 'GET', url: `/v1/decisions/${body.sequence_id}`, headers: t.auth })).json().decision;
    expect(logged.rules_hit).toEqual([
      { id: 'loud_shadow', state: 'shadow', score: 100 },
      { id: 'small_online', state: 'online', score: 10 },
    ]);
    expect(logged.rules_version).toMatch(/^r-[0-9a-f]{12}$/);
    expect(JSON.stringify(logged.request)).not.toContain('13800138000');
    expect(JSON.stringify(logged.request)).not.toContain('someone@');
    expect(logged.features.velocity.ip_5m).toBe(1);
    expect(logged.latency_ms).toBeGreaterThan(0);
    const other = await t.app.inject({ method: 'GET', url: `/v1/decisions/${body.sequence_id}`, headers: { authorization: `Bearer ${OTHER_APP_SECRET}` } });
    expect(other.statusCode).toBe(404);
  });

  it('never lets a rule fail silently at run time: recorded in the decision, counted per rule in /metrics', async () => {
    const rulesFile = join(mkdtempSync(join(tmpdir(), 'riskgate-rules-')), 'rules.yaml');
    writeFileSync(
      rulesFile,
      `version: 1
rules:
  - id: divides_by_zero
    when: velocity.ip_5m / (velocity.ip_5m - velocity.ip_5m) > 1
    score: 50
    reason: { en: Broken at run time, zh: 运行时出错 }
  - id: small_online
    when: request.has_mobile
    score: 10
    reason: { en: Has a mobile, zh: 有手机号 }
`,
    );
    const t = await start({ rules_file: rulesFile });
    for (let i = 0; i < 3; i++) {
      const { body } = await evaluate(t, { event: 'login', ip: '203.0.113.91', mobile: '13800138000' });
      expect(reasonIds(body)).toEqual(['small_online']);
      const logged = (await t.app.inject({ method: 'GET', url: `/v1/decisions/${body.sequence_id}`, headers: t.auth })).json().decision;
      expect(logged.rules_errors).toEqual([{ id: 'divides_by_zero', message: expect.stringMatching(/division|zero/i) }]);
    }
    const metrics = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/riskgate_rule_errors_total\{rule="divides_by_zero"\} 3/);
  });

  it('hot-reloads the rules file: new decisions carry the new version, none fail during the swap', async () => {
    const rulesFile = join(mkdtempSync(join(tmpdir(), 'riskgate-rules-')), 'live-rules.yaml');
    const rule = (score: number) =>
      `version: 1\nrules:\n  - id: flat\n    when: 'true'\n    score: ${score}\n    reason: { en: Flat, zh: 固定 }\n`;
    writeFileSync(rulesFile, rule(10));
    const t = await start({ rules_file: rulesFile });
    const before = t.app.riskgate.rules.current().version;
    writeFileSync(rulesFile, rule(30));
    const statuses: number[] = [];
    const deadline = Date.now() + 5000;
    let score = 10;
    while (Date.now() < deadline && score !== 30) {
      const { status, body } = await evaluate(t, { event: 'browse', ip: '203.0.113.91' });
      statuses.push(status);
      score = body.score;
    }
    expect(score).toBe(30);
    expect(t.app.riskgate.rules.current().version).not.toBe(before);
    expect(statuses.every((s) => s === 200)).toBe(true);

    writeFileSync(rulesFile, 'version: 1\nrules:\n  - id: broken\n    when: "velocity.nope > 1"\n');
    const reload = await t.app.riskgate.rules.reload();
    expect(reload.ok).toBe(false);
    expect((await evaluate(t, { event: 'browse', ip: '203.0.113.91' })).body.score).toBe(30);
  });
});

describe('degraded answers instead of errors', () => {
  it('answers within the budget with degraded: true when the hot state hangs', async () => {
    const memory = new MemoryHotState();
    const hanging: HotState = {
      ...memory,
      observe: () => new Promise(() => {}),
      claimOnce: () => new Promise(() => {}),
      get: memory.get.bind(memory),
      put: memory.put.bind(memory),
      take: memory.take.bind(memory),
      increment: memory.increment.bind(memory),
      ping: async () => false,
      close: async () => {},
    };
    const t = await start({}, { hotState: hanging, dependencyTimeoutMs: 50 });
    const startedAt = Date.now();
    const { status, body } = await evaluate(t, { event: 'login', black_box: await token(t), ip: '203.0.113.99' });
    expect(status).toBe(200);
    expect(Date.now() - startedAt).toBeLessThan(1000);
    expect(body.degraded).toBe(true);
    expect(reasonIds(body)).toContain('state_unavailable');
    expect((await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
  });
});

describe('keys', () => {
  it('serves the public JWKS with CORS and caching, never a private part', async () => {
    const t = await start();
    const response = await t.app.inject({ method: 'GET', url: '/v1/keys' });
    expect(response.headers['access-control-allow-origin']).toBe('*');
    expect(response.headers['cache-control']).toMatch(/max-age=\d+/);
    const { keys } = response.json() as { keys: Record<string, string>[] };
    expect(keys).toHaveLength(1);
    expect(keys[0]).not.toHaveProperty('d');
  });

  it('rotates with the CLI: the new key leads the JWKS, tokens for the old key still decode, removed keys do not', async () => {
    const t = await start();
    const oldKey = t.app.riskgate.keys.current().primary;
    const oldToken = await token(t);
    const lines: string[] = [];
    expect(runKeysCommand(['rotate'], t.dataDir, (l) => lines.push(l))).toBe(0);
    await t.app.riskgate.keys.reload();
    const jwks = (await t.app.inject({ method: 'GET', url: '/v1/keys' })).json() as { keys: { kid: string }[] };
    expect(jwks.keys).toHaveLength(2);
    expect(jwks.keys[1]!.kid).toBe(oldKey.kid);
    expect(jwks.keys[0]!.kid).not.toBe(oldKey.kid);
    expect((await evaluate(t, { event: 'login', black_box: oldToken, ip: '203.0.113.1' })).body.reasons.map((r) => r.id)).not.toContain('token_unknown_key');
    expect((await evaluate(t, { event: 'login', black_box: await token(t), ip: '203.0.113.1' })).body.tags).not.toContain('token_invalid');

    expect(runKeysCommand(['remove', oldKey.kid], t.dataDir, () => {})).toBe(0);
    await t.app.riskgate.keys.reload();
    const stale = await makeToken({ serverKey: oldKey, appKey: APP_KEY });
    expect(reasonIds((await evaluate(t, { event: 'login', black_box: stale, ip: '203.0.113.1' })).body)).toContain('token_unknown_key');
    expect(readFileSync(join(t.dataDir, TOKEN_KEY_FILE), 'utf8')).not.toContain(oldKey.x);
  });

  it('picks up a rotation by itself by watching the key file', async () => {
    const t = await start();
    const before = t.app.riskgate.keys.current().primary.kid;
    runKeysCommand(['rotate'], t.dataDir, () => {});
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline && t.app.riskgate.keys.current().primary.kid === before) await new Promise((r) => setTimeout(r, 50));
    expect(t.app.riskgate.keys.current().primary.kid).not.toBe(before);
  });
});

describe('operability', () => {
  it('/healthz, /readyz and /docs answer', async () => {
    const t = await start();
    expect((await t.app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    expect((await t.app.inject({ method: 'GET', url: '/readyz' })).json()).toMatchObject({ status: 'ready' });
    const spec = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, unknown> };
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/v1/risk/evaluate', '/v1/lists', '/v1/lists/{id}', '/v1/decisions/{sequence_id}', '/v1/keys']));
    expect(JSON.stringify(spec.paths['/v1/risk/evaluate'])).toContain('black_box');
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/v1/devices/puzzle', '/v1/devices/enroll']));
    const components = JSON.stringify((spec as { components?: unknown }).components);
    for (const field of ['"puzzle"', '"solution"', '"public_key"', '"proof"', '"cert"', '"difficulty"']) expect(components).toContain(field);
    // Open by default; the metrics answer without credentials.
    expect((await t.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
  });

  it('/metrics takes a bearer token when one is configured, and /docs can be turned off', async () => {
    const token = 'metrics-token-0123456789';
    const t = await start({ observability: { metrics_token: token, docs: false } });
    for (const authorization of [undefined, 'Bearer wrong', `Bearer ${token}x`, token, `Bearer ${APP_SECRET}`]) {
      const response = await t.app.inject({ method: 'GET', url: '/metrics', headers: authorization ? { authorization } : {} });
      expect(response.statusCode, authorization).toBe(401);
      expect(response.json()).toMatchObject({ code: 4010, error: 'BAD_CREDENTIALS' });
      expect(response.body).not.toContain('riskgate_');
    }
    const allowed = await t.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${token}` } });
    expect(allowed.statusCode).toBe(200);
    expect(allowed.body).toContain('riskgate_');
    expect((await t.app.inject({ method: 'GET', url: '/docs' })).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'GET', url: '/docs/json' })).statusCode).toBe(404);
  });
});
