/**
 * Identifier spellings (issue 13, item 5): every spelling of one phone, email,
 * IP or account keys alike, so a black-listed value cannot pass under another
 * spelling, and ambiguous IP forms are refused.
 */
import { afterEach, describe, expect, it } from 'vitest';
import ipaddr from 'ipaddr.js';
import { EvaluateRequest, type EvaluateResponse } from '../../shared/schemas.js';
import { canonicalAccount, canonicalEmail, canonicalIp, canonicalMobile, e164 } from '../../server/engine/identifiers/canonical.js';
import { mobileInfo } from '../../server/engine/features/identity.js';
import { APP_KEY, APP_SECRET, OTHER_APP_KEY, OTHER_APP_SECRET, testApp, type TestApp } from '../support/app.js';

describe('canonical spellings', () => {
  it('phones: full-width digits, a spaced +86, 0086, a trunk 0 and dashes are one number', () => {
    const spellings = ['13800138000', '+86 138 0013 8000', '＋８６ １３８００１３８０００', '１３８００１３８０００', '008613800138000', '013800138000', '+86 013800138000', '138-0013-8000'];
    for (const spelling of spellings) expect(canonicalMobile(spelling), spelling).toBe('8613800138000');
    expect(e164('138 0013 8000')).toBe('+8613800138000');
    expect(canonicalMobile('+1 415 555 2671')).toBe('14155552671');
    expect(mobileInfo('+852 6123 4567').country_code).toBe('852');
    expect(mobileInfo('１７０ ００１２ ３４５６')).toEqual({ country_code: '86', virtual_operator: true });
  });

  it('emails: case, full-width and IDN domains, provider dots and +tags, googlemail', () => {
    for (const spelling of ['Alice.Smith+promo@gmail.com', 'alicesmith@googlemail.com', 'ALICE.SMITH@GMAIL.COM', 'alice.smith+1@ｇｍａｉｌ.com']) {
      expect(canonicalEmail(spelling), spelling).toBe('alicesmith@gmail.com');
    }
    expect(canonicalEmail('bob+x@outlook.com')).toBe('bob@outlook.com');
    // Dots count at most providers, and +tags are kept where the provider does not ignore them.
    expect(canonicalEmail('b.o.b@qq.com')).toBe('b.o.b@qq.com');
    expect(canonicalEmail('bob+x@163.com')).toBe('bob+x@163.com');
    expect(canonicalEmail('user@例え.jp')).toBe('user@xn--r8jz45g.jp');
  });

  it("the schema's IP test agrees with ipaddr.js on IPv6 spellings", () => {
    const spellings = ['::', '::1', '2001:db8::1', '2001:0db8:0000:0000:0000:0000:0000:0001', '::ffff:6.6.6.6', 'fe80::1%eth0', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8:9', '1::2::3', ':::', '2001:db8::g', '12345::1', '1:2:3:4:5:6:7::', '::1:2:3:4:5:6:7', '6.6.6.6:443', '[::1]'];
    for (const ip of spellings) {
      expect(EvaluateRequest.safeParse({ event: 'login', ip }).success, ip).toBe(ipaddr.IPv6.isValid(ip) || ipaddr.IPv4.isValidFourPartDecimal(ip));
    }
    // Stricter than ipaddr.js where it is lenient: an embedded IPv4 with a leading zero is ambiguous too.
    expect(EvaluateRequest.safeParse({ event: 'login', ip: '::ffff:6.6.6.06' }).success).toBe(false);
  });

  it('IPs and accounts', () => {
    expect(canonicalIp('::ffff:6.6.6.6')).toBe('6.6.6.6');
    expect(canonicalIp('2001:0db8:0000::0001')).toBe('2001:db8::1');
    expect(canonicalAccount('Alice\u200b')).toBe('Alice');
    expect(canonicalAccount('ａｌｉｃｅ\u00ad\ufeff')).toBe('alice');
    expect(canonicalAccount('Alice')).toBe('Alice');
    expect(canonicalAccount('ＡＬＩＣＥ\u200b', 'insensitive')).toBe('alice');
    expect(canonicalAccount('İstanbul', 'insensitive')).toBe(canonicalAccount('i̇stanbul', 'insensitive'));
  });
});

describe('through the API', () => {
  let current: TestApp | undefined;
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });

  async function blackList(t: TestApp, dimension: string, value: string) {
    const response = await t.app.inject({ method: 'POST', url: '/v1/lists', headers: t.auth, payload: { list: 'black', dimension, value, reason: 'farm' } });
    expect(response.statusCode, response.body).toBe(200);
  }
  async function evaluate(t: TestApp, body: Record<string, unknown>) {
    const response = await t.app.inject({ method: 'POST', url: '/v1/risk/evaluate', headers: t.auth, payload: { event: 'register', ...body } });
    return { status: response.statusCode, body: response.json() as EvaluateResponse & { code: number; field?: string } };
  }

  it('a black-listed mobile, email and account stay declined under any spelling', async () => {
    const t = (current = await testApp());
    await blackList(t, 'mobile', '+86 138 0013 8000');
    await blackList(t, 'email', 'alice.smith@gmail.com');
    await blackList(t, 'account', 'mallory');
    const cases: Record<string, unknown>[] = [
      { mobile: '１３８００１３８０００' },
      { mobile: '013800138000' },
      { mobile: '0086 138 0013 8000' },
      { email: 'AliceSmith+coupon@googlemail.com' },
      { email: 'alice.smith@ｇｍａｉｌ.ｃｏｍ' },
      { account_id: 'mall\u200bory' },
      { account_id: 'ｍａｌｌｏｒｙ' },
    ];
    for (const fields of cases) {
      const { body } = await evaluate(t, { ip: '36.112.10.20', ...fields });
      expect(body.decision, JSON.stringify(fields)).toBe('decline');
      expect(body.tags).toContain('blacklist');
    }
  });

  it('ambiguous IP spellings are refused (9002), in evaluate and in list entries', async () => {
    const t = (current = await testApp());
    for (const ip of ['6.6.6.006', '6.6.6.6:443', '[2001:db8::1]', '0x6.6.6.6', '6.6.6', '::ffff:06.6.6.6']) {
      const { status, body } = await evaluate(t, { ip });
      expect(status, ip).toBe(400);
      expect(body).toMatchObject({ code: 9002, field: 'ip' });
      const listed = await t.app.inject({ method: 'POST', url: '/v1/lists', headers: t.auth, payload: { list: 'black', dimension: 'ip', value: ip } });
      expect(listed.statusCode, ip).toBe(400);
      expect(listed.json()).toMatchObject({ code: 9002, field: 'value' });
    }
    await blackList(t, 'ip', '6.6.6.6');
    expect((await evaluate(t, { ip: '::ffff:6.6.6.6' })).body.decision).toBe('decline');
    expect((await evaluate(t, { ip: '2001:db8::1' })).status).toBe(200);
  });

  it("account case folds only for an app that says so (apps[].account_case: insensitive)", async () => {
    const t = (current = await testApp({
      apps: [
        { id: 'shop', name: 'Shop', key: APP_KEY, secret: APP_SECRET, account_case: 'insensitive' },
        { id: 'other', name: 'Other', key: OTHER_APP_KEY, secret: OTHER_APP_SECRET },
      ],
    }));
    const other = { authorization: `Bearer ${OTHER_APP_SECRET}` };
    await blackList(t, 'account', 'Mallory');
    const listed = await t.app.inject({ method: 'POST', url: '/v1/lists', headers: other, payload: { list: 'black', dimension: 'account', value: 'Mallory' } });
    expect(listed.statusCode).toBe(200);
    for (const account of ['mallory', 'MALLORY', 'ｍａｌｌｏｒｙ', 'Mal\u200blory']) {
      expect((await evaluate(t, { ip: '36.112.10.20', account_id: account })).body.decision, account).toBe('decline');
    }
    const found = await t.app.inject({ method: 'GET', url: '/v1/lists?dimension=account&value=MALLORY', headers: t.auth });
    expect(found.json().entries).toHaveLength(1);
    // The other app keeps case: only the same letters (in any width) match.
    const otherEvaluate = async (account: string) =>
      (await t.app.inject({ method: 'POST', url: '/v1/risk/evaluate', headers: other, payload: { event: 'register', ip: '36.112.10.21', account_id: account } })).json() as EvaluateResponse;
    expect((await otherEvaluate('Ｍａｌｌｏｒｙ')).decision).toBe('decline');
    expect((await otherEvaluate('mallory')).tags).not.toContain('blacklist');
  });
});
