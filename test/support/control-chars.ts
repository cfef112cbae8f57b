/**
 * Control characters in every string field of every route (issue 13, item 2):
 * each field in turn carries NUL, other C0 controls, DEL, a C1 control or a
 * lone surrogate, the rest of the request being valid. Never a 5xx; a NUL is
 * refused with 9002 naming the field (the black_box excepted: a token that
 * does not decode is a decision, never an error). Used against SQLite
 * (fuzz.test.ts) and real PostgreSQL (records.postgres.test.ts).
 */
import type { RiskGateApp } from '../../server/app.js';
import { ERROR_CODES } from '../../shared/constants.js';
import { makeToken, newDevice } from './tokens.js';

export const CONTROL_SAMPLES = ['\u0000', '\u0001', '\u0008', '\n', '\r', '\u001b', '\u001f', '\u007f', '\u0085', '\u009f', '\ud800'] as const;

/** One string field of one route, and how to put a value in it (the rest of the request valid). */
export interface ControlCharacterTarget {
  name: string;
  method: 'POST' | 'GET';
  /** The request with `bad` placed in the field under test. */
  build: (bad: string) => { url: string; payload?: Record<string, unknown> };
  /** The field an error must name. */
  field: string;
  /** A NUL here is not a 9002 (the black_box: it is a decision). */
  nulIsDecision?: boolean;
  /** Free text: a tab is fine, so the sweep does not use it here; other controls may be refused. */
}

const ENROLL_BASE = {
  puzzle: 'not-a-puzzle',
  solution: { counter: 0, derived_key: 'ab' },
  public_key: { kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'BBBB' },
  proof: 'CCCC',
};

/** Percent-encoded; a lone surrogate (no UTF-8 spelling) as the bytes a careless client would send for it. */
function queryText(value: string): string {
  return Array.from(value, (c) => (/\p{Cs}/u.test(c) ? '%ED%A0%80' : encodeURIComponent(c))).join('');
}

export function controlCharacterTargets(appKey: string): ControlCharacterTarget[] {
  const list: ControlCharacterTarget[] = [];
  const evaluateFields = ['account_id', 'session_id', 'ip', 'user_agent', 'mobile', 'email', 'nickname', 'referer'];
  for (const field of evaluateFields) {
    list.push({
      name: `evaluate ${field}`,
      method: 'POST',
      field,
      build: (bad) => ({ url: '/v1/risk/evaluate', payload: { event: 'login', ip: '203.0.113.5', [field]: `a${bad}b` } }),
    });
  }
  list.push({ name: 'evaluate black_box', method: 'POST', field: 'black_box', nulIsDecision: true, build: (bad) => ({ url: '/v1/risk/evaluate', payload: { event: 'login', ip: '203.0.113.5', black_box: `a${bad}b` } }) });
  list.push({ name: 'evaluate event_time', method: 'POST', field: 'event_time', build: (bad) => ({ url: '/v1/risk/evaluate', payload: { event: 'login', ip: '203.0.113.5', event_time: `2026-01-01T00:00:00Z${bad}` } }) });
  for (const object of ['ext', 'event_detail']) {
    list.push({ name: `evaluate ${object} value`, method: 'POST', field: `${object}.note`, build: (bad) => ({ url: '/v1/risk/evaluate', payload: { event: 'login', ip: '203.0.113.5', [object]: { note: `a${bad}b` } } }) });
    list.push({ name: `evaluate ${object} nested value`, method: 'POST', field: `${object}.items.1.tag`, build: (bad) => ({ url: '/v1/risk/evaluate', payload: { event: 'login', ip: '203.0.113.5', [object]: { items: [{ tag: 'ok' }, { tag: `a${bad}b` }] } } }) });
    list.push({ name: `evaluate ${object} key`, method: 'POST', field: `${object}.outer`, build: (bad) => ({ url: '/v1/risk/evaluate', payload: { event: 'login', ip: '203.0.113.5', [object]: { outer: { [`k${bad}`]: 1 } } } }) });
  }
  for (const dimension of ['ip', 'device', 'account', 'mobile', 'email']) {
    list.push({ name: `list add ${dimension} value`, method: 'POST', field: 'value', build: (bad) => ({ url: '/v1/lists', payload: { list: 'black', dimension, value: `a${bad}b` } }) });
    list.push({ name: `list query ${dimension} value`, method: 'GET', field: 'value', build: (bad) => ({ url: `/v1/lists?dimension=${dimension}&value=${queryText(`a${bad}b`)}` }) });
  }
  list.push({ name: 'list add reason', method: 'POST', field: 'reason', build: (bad) => ({ url: '/v1/lists', payload: { list: 'black', dimension: 'ip', value: '203.0.113.9', reason: `a${bad}b` } }) });
  list.push({ name: 'challenge start (backend) account_id', method: 'POST', field: 'account_id', build: (bad) => ({ url: '/v1/challenges', payload: { type: 'slider', event: 'login', account_id: `a${bad}b` } }) });
  list.push({ name: 'challenge start (backend) mobile', method: 'POST', field: 'mobile', build: (bad) => ({ url: '/v1/challenges', payload: { type: 'sms', event: 'login', mobile: `138${bad}00138000` } }) });
  list.push({ name: 'challenge start (sdk) challenge_token', method: 'POST', field: 'challenge_token', build: (bad) => ({ url: '/v1/challenges', payload: { app_key: appKey, challenge_token: `abcdefghijklmnop${bad}q` } }) });
  list.push({ name: 'challenge verify session_id', method: 'POST', field: 'session_id', build: (bad) => ({ url: '/v1/challenges/verify', payload: { session_id: `s${bad}1` } }) });
  list.push({ name: 'challenge verify account_id', method: 'POST', field: 'account_id', build: (bad) => ({ url: '/v1/challenges/verify', payload: { session_id: 'session-1', account_id: `a${bad}b` } }) });
  list.push({ name: 'device puzzle app_key', method: 'POST', field: 'app_key', build: (bad) => ({ url: '/v1/devices/puzzle', payload: { app_key: `${appKey}${bad}` } }) });
  list.push({ name: 'device enroll app_key', method: 'POST', field: 'app_key', build: (bad) => ({ url: '/v1/devices/enroll', payload: { ...ENROLL_BASE, app_key: `${appKey}${bad}` } }) });
  list.push({ name: 'device enroll puzzle', method: 'POST', field: 'puzzle', build: (bad) => ({ url: '/v1/devices/enroll', payload: { ...ENROLL_BASE, app_key: appKey, puzzle: `p${bad}q` } }) });
  return list;
}

/** Problems found, as readable lines; empty when every answer keeps the contract. */
export async function controlCharacterProblems(app: RiskGateApp, auth: Record<string, string>, appKey: string): Promise<string[]> {
  const problems: string[] = [];
  const invalid = ERROR_CODES.FIELD_INVALID.code;
  for (const target of controlCharacterTargets(appKey)) {
    for (const bad of CONTROL_SAMPLES) {
      const { url, payload } = target.build(bad);
      const response = await app.inject({ method: target.method, url, headers: auth, ...(payload ? { payload } : {}) });
      const body = response.json() as { code?: number; field?: string };
      const label = `${target.name} with ${JSON.stringify(bad)}`;
      if (response.statusCode >= 500) {
        problems.push(`${label}: ${response.statusCode} ${response.body.slice(0, 200)}`);
        continue;
      }
      if (bad !== '\u0000') continue;
      if (target.nulIsDecision) {
        if (response.statusCode !== 200) problems.push(`${label}: ${response.statusCode}, not a decision`);
      } else if (response.statusCode !== 400 || body.code !== invalid || body.field !== target.field) {
        problems.push(`${label}: ${response.statusCode} ${body.code} field ${body.field}, not 400 ${invalid} field ${target.field}`);
      }
    }
  }
  return problems;
}

/**
 * A black-listed IP and a black-listed device, each evaluated with an account
 * id carrying a NUL: through the API (refused, 9002) and straight through the
 * evaluator (what the schema cannot guard, e.g. re-scoring stored events),
 * where the lists of the other dimensions must still apply.
 */
export async function nulAccountOutcomes(app: RiskGateApp, auth: Record<string, string>, appKey: string) {
  const serverKey = app.riskgate.keys.current().primary;
  const device = await newDevice();
  const first = await app.inject({ method: 'POST', url: '/v1/risk/evaluate', headers: auth, payload: { event: 'login', black_box: await makeToken({ serverKey, appKey, device }), ip: '198.51.100.200' } });
  const deviceId = (first.json() as { device_id: string }).device_id;
  for (const [dimension, value] of [['ip', '203.0.113.66'], ['device', deviceId]] as const) {
    const added = await app.inject({ method: 'POST', url: '/v1/lists', headers: auth, payload: { list: 'black', dimension, value, reason: 'nul test' } });
    if (added.statusCode !== 200) throw new Error(`list add: ${added.statusCode} ${added.body}`);
  }
  const settings = app.riskgate.dataDirectory.apps.find((a) => a.key === appKey)!;
  const direct = async (request: Record<string, unknown>) => {
    const { response } = await app.riskgate.evaluator.evaluate(settings, request as never, 'en');
    return response;
  };
  const viaApi = await app.inject({ method: 'POST', url: '/v1/risk/evaluate', headers: auth, payload: { event: 'login', ip: '203.0.113.66', account_id: 'x\u0000y' } });
  return {
    api: { status: viaApi.statusCode, body: viaApi.json() as { code: number; field?: string; decision?: string } },
    blackIp: await direct({ event: 'login', ip: '203.0.113.66', account_id: 'x\u0000y' }),
    blackDevice: await direct({ event: 'login', ip: '198.51.100.201', account_id: 'x\u0000y', black_box: await makeToken({ serverKey, appKey, device }) }),
    blackIpNulEmail: await direct({ event: 'login', ip: '203.0.113.66', email: 'a\u0000@example.com', mobile: '138\u000000138000' }),
  };
}
