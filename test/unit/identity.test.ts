import { describe, expect, it } from 'vitest';
import { emailInfo, ipKind, mobileInfo, userAgentMismatch } from '../../server/engine/features/identity.js';

describe('ipKind', () => {
  it.each([
    // public
    ['8.8.8.8', 'public'],
    ['  1.1.1.1 ', 'public'],
    ['2001:4860:4860::8888', 'public'],
    ['2606:4700:4700::1111', 'public'],
    ['192.175.48.1', 'public'], // AS112: globally reachable
    // private
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'], // CGNAT
    ['100.127.255.254', 'private'],
    ['fd12:3456:789a::1', 'private'],
    ['fc00::1', 'private'],
    ['64:ff9b:1::1', 'private'], // local-use NAT64
    // loopback
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    // reserved
    ['0.0.0.0', 'reserved'],
    ['0.1.2.3', 'reserved'],
    ['255.255.255.255', 'reserved'],
    ['169.254.1.1', 'reserved'],
    ['224.0.0.1', 'reserved'],
    ['239.255.255.250', 'reserved'],
    ['192.0.2.1', 'reserved'], // TEST-NET-1
    ['198.51.100.7', 'reserved'], // TEST-NET-2
    ['203.0.113.9', 'reserved'], // TEST-NET-3
    ['198.18.0.1', 'reserved'], // benchmarking
    ['192.0.0.8', 'reserved'],
    ['240.0.0.1', 'reserved'],
    ['::', 'reserved'],
    ['fe80::1', 'reserved'],
    ['ff02::1', 'reserved'],
    ['2001:db8::1', 'reserved'], // documentation
    ['3fff::1', 'reserved'], // documentation (RFC 9637)
    ['fec0::1', 'reserved'], // site-local
    ['100::1', 'reserved'], // discard
    ['2001:2::1', 'reserved'], // benchmarking
    ['2001:20::1', 'reserved'], // ORCHIDv2
    ['5f00::1', 'reserved'], // segment routing
    ['4000::1', 'reserved'], // outside 2000::/3
    ['::8.8.8.8', 'reserved'], // deprecated IPv4-compatible
    ['::0808:0808', 'reserved'],
  ] as const)('%s → %s', (ip, kind) => {
    expect(ipKind(ip)).toBe(kind);
  });

  it('classifies IPv4-mapped and translated IPv6 as the embedded IPv4', () => {
    expect(ipKind('::ffff:10.0.0.1')).toBe('private');
    expect(ipKind('::FFFF:0a00:0001')).toBe('private');
    expect(ipKind('::ffff:127.0.0.1')).toBe('loopback');
    expect(ipKind('::ffff:8.8.8.8')).toBe('public');
    expect(ipKind('::ffff:169.254.0.1')).toBe('reserved');
    expect(ipKind('::ffff:0:10.0.0.1')).toBe('private'); // RFC 6145
    expect(ipKind('64:ff9b::8.8.8.8')).toBe('public'); // NAT64
    expect(ipKind('64:ff9b::192.168.0.1')).toBe('private');
  });

  it('checks the IPv4 inside 6to4 and Teredo addresses', () => {
    expect(ipKind('2002:0808:0808::1')).toBe('public');
    expect(ipKind('2002:0a00:0001::1')).toBe('reserved'); // 6to4 of 10.0.0.1
    expect(ipKind('2002:7f00:0001::1')).toBe('reserved'); // 6to4 of 127.0.0.1
    // Teredo: client 8.8.8.8 stored inverted as f7f7:f7f7.
    expect(ipKind('2001:0:4136:e378:8000:63bf:f7f7:f7f7')).toBe('public');
    expect(ipKind('2001:0:4136:e378:8000:63bf:f5ff:fffe')).toBe('reserved'); // client 10.0.0.1
  });

  it('handles zone ids by the address they qualify', () => {
    expect(ipKind('fe80::1%eth0')).toBe('reserved');
    expect(ipKind('fe80::1%25')).toBe('reserved');
    expect(ipKind('fe80::1%en-0.1')).toBe('invalid');
    expect(ipKind('fe80::1%')).toBe('invalid');
    expect(ipKind('fe80::1%' + 'a'.repeat(500))).toBe('invalid');
  });

  it('rejects non-standard spellings and garbage', () => {
    for (const ip of [
      '0x7f.1',
      '127.1',
      '0x7f000001',
      '2130706433',
      '010.0.0.1',
      '1.2.3.04',
      '::ffff:010.0.0.1',
      '::ffff:0x7f.0.0.1',
      '1.2.3.4:8080',
      '[::1]',
      '1.2.3.4, 10.0.0.1',
      '256.1.1.1',
      '1.2.3',
      'localhost',
      '::1::',
      '1:2:3:4:5:6:7:8:9',
      '１２７.0.0.1',
      'not an ip',
      '\u0000',
      '1'.repeat(100_000),
      ':'.repeat(10_000),
    ]) {
      expect(ipKind(ip), ip.slice(0, 40)).toBe('invalid');
    }
  });

  it('reports a missing ip', () => {
    expect(ipKind(undefined)).toBe('missing');
    expect(ipKind('')).toBe('missing');
    expect(ipKind('   ')).toBe('missing');
  });
});

describe('emailInfo', () => {
  it('returns the lower-case domain of an ordinary address', () => {
    expect(emailInfo('Alice@Example.COM')).toEqual({ domain: 'example.com', disposable: false });
    expect(emailInfo('12345@qq.com')).toEqual({ domain: 'qq.com', disposable: false });
    expect(emailInfo('a.b+tag@mail.example.co.uk')).toEqual({ domain: 'mail.example.co.uk', disposable: false });
  });

  it('flags disposable domains and their subdomains', () => {
    expect(emailInfo('x@mailinator.com')).toEqual({ domain: 'mailinator.com', disposable: true });
    expect(emailInfo('x@MAILINATOR.com')).toEqual({ domain: 'mailinator.com', disposable: true });
    expect(emailInfo('x@a.b.mailinator.com')).toEqual({ domain: 'a.b.mailinator.com', disposable: true });
    expect(emailInfo('x@mailinator.com.')).toEqual({ domain: 'mailinator.com', disposable: true });
    expect(emailInfo('x@ｍａｉｌｉｎａｔｏｒ。ｃｏｍ')).toEqual({ domain: 'mailinator.com', disposable: true });
    // A name that merely ends the same way is not a subdomain.
    expect(emailInfo('x@xmailinator.com').disposable).toBe(false);
  });

  it('converts internationalised domains to punycode', () => {
    expect(emailInfo('用户@例子.中国')).toEqual({ domain: 'xn--fsqu00a.xn--fiqs8s', disposable: false });
  });

  it.each([
    undefined,
    '',
    'plainaddress',
    '@example.com',
    'a@',
    'a@localhost',
    'a@[1.2.3.4]',
    'a@1.2.3.4',
    'a@-bad.com',
    'a@bad-.com',
    'a@a..com',
    'a@exa mple.com',
    'a@under_score.com',
    'a b@example.com',
    'a\u0000@example.com',
    `${'a'.repeat(65)}@example.com`,
    `a@${'b'.repeat(64)}.com`,
    `a@${'b.'.repeat(200)}com`,
  ])('treats %j as invalid', (email) => {
    expect(emailInfo(email)).toEqual({ domain: '', disposable: false });
  });

  it('reads what libphonenumber reads: a 10-digit mainland landline, a number with an extension', () => {
    expect(mobileInfo('1380013800')).toEqual({ country_code: '86', virtual_operator: false });
    expect(mobileInfo('138 0013 8000 ext 5')).toEqual({ country_code: '86', virtual_operator: false });
  });

  it('bounds very long input', () => {
    for (const email of [`${'x'.repeat(100_000)}@mailinator.com`, '@'.repeat(10_000), `a@${'b.'.repeat(50_000)}com`]) {
      expect(emailInfo(email)).toEqual({ domain: '', disposable: false });
    }
  });
});

describe('mobileInfo', () => {
  it.each([
    ['13800138000', '86', false],
    ['+8613800138000', '86', false],
    ['008613800138000', '86', false],
    ['8613800138000', '86', false],
    ['+86 138-0013-8000', '86', false],
    ['(+86) 138 0013 8000', '86', false],
    ['＋８６１３８００１３８０００', '86', false],
    // virtual operators
    ['17012345678', '86', true],
    ['17112345678', '86', true],
    ['16212345678', '86', true],
    ['16512345678', '86', true],
    ['+86 167 1234 5678', '86', true],
    ['008617012345678', '86', true],
    // near misses of the MVNO blocks
    ['17212345678', '86', false],
    ['16612345678', '86', false],
    ['17312345678', '86', false],
    // +86 but not a mobile (a Beijing landline)
    ['+86 10 1234 5678', '86', false],
    // other countries
    ['+85291234567', '852', false],
    ['+853 6612 3456', '853', false],
    ['+886912345678', '886', false],
    ['+12025550123', '1', false],
    ['+447911123456', '44', false],
    ['0044 7911 123456', '44', false],
    ['+79161234567', '7', false],
    ['+4915112345678', '49', false],
    ['+35312345678', '353', false],
    ['+6581234567', '65', false],
  ] as const)('%s → %s virtual=%s', (mobile, country_code, virtual_operator) => {
    expect(mobileInfo(mobile)).toEqual({ country_code, virtual_operator });
  });

  it.each([
    undefined,
    '',
    'abc',
    '23800138000', // 11 digits, not starting with 1
    '12345',
    '+86',
    '++8613800138000',
    '+86138001380001234567',
    '+86 138\u00000013 8000',
  ])('treats %j as unknown', (mobile) => {
    expect(mobileInfo(mobile)).toEqual({ country_code: '', virtual_operator: false });
  });

  it('bounds very long input', () => {
    for (const mobile of ['1'.repeat(100_000), '+'.repeat(10_000), ` ${' '.repeat(100)}13800138000`]) {
      expect(mobileInfo(mobile)).toEqual({ country_code: '', virtual_operator: false });
    }
  });
});

describe('userAgentMismatch', () => {
  const chromeWin =
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';
  const chromeMac =
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';
  const edgeWin = `${chromeWin} Edg/124.0.2478.51`;
  const firefoxWin = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0';
  const safariIos =
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1';
  const wechatAndroid =
    'Mozilla/5.0 (Linux; Android 13; PGT-AN10 Build/HUAWEIPGT-AN10; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160065 MMWEBSDK/20231202 MMWEBID/1234 MicroMessenger/8.0.47.2560(0x28002F35) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64';
  const chromeAndroid =
    'Mozilla/5.0 (Linux; Android 13; PGT-AN10) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0.0.0 Mobile Safari/537.36';

  it('is false when either side is missing', () => {
    expect(userAgentMismatch(undefined, chromeWin)).toBe(false);
    expect(userAgentMismatch(chromeWin, undefined)).toBe(false);
    expect(userAgentMismatch('', chromeWin)).toBe(false);
    expect(userAgentMismatch(chromeWin, '  ')).toBe(false);
  });

  it('ignores cosmetic and minor-version differences', () => {
    expect(userAgentMismatch(chromeWin, chromeWin)).toBe(false);
    expect(userAgentMismatch(`  ${chromeWin.replace(/ /g, '  ')} `, chromeWin)).toBe(false);
    expect(userAgentMismatch(chromeWin.replace('124.0.0.0', '124.0.6367.91'), chromeWin)).toBe(false);
    expect(userAgentMismatch(safariIos.replace('Version/17.4', 'Version/17.5'), safariIos)).toBe(false);
    expect(userAgentMismatch(wechatAndroid, wechatAndroid.replace('NetType/WIFI', 'NetType/4G'))).toBe(false);
    expect(userAgentMismatch('curl/8.4.0', ' CURL/8.4.0 ')).toBe(false);
  });

  it('flags a different browser, major version or OS', () => {
    expect(userAgentMismatch(chromeWin, firefoxWin)).toBe(true);
    expect(userAgentMismatch(chromeWin, edgeWin)).toBe(true);
    expect(userAgentMismatch(chromeWin, chromeWin.replace('Chrome/124', 'Chrome/123'))).toBe(true);
    expect(userAgentMismatch(chromeWin, chromeMac)).toBe(true);
    expect(userAgentMismatch(wechatAndroid, chromeAndroid)).toBe(true);
    expect(userAgentMismatch(safariIos, chromeMac)).toBe(true);
    expect(userAgentMismatch('python-requests/2.31.0', chromeWin)).toBe(true);
    expect(userAgentMismatch('curl/8.4.0', 'curl/7.88.1')).toBe(true);
  });

  it('survives hostile input', () => {
    const long = 'Mozilla/5.0 '.repeat(50_000);
    expect(userAgentMismatch(long, long)).toBe(false);
    expect(userAgentMismatch(long, chromeWin)).toBe(true);
    const start = performance.now();
    userAgentMismatch(`Version/1 ${'Version/1 '.repeat(100_000)}`, `${'\t'.repeat(100_000)}x`);
    expect(performance.now() - start).toBeLessThan(200);
    expect(userAgentMismatch('\u0000\uffff', 'Chrome/')).toBe(true);
  });
});
