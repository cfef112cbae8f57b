/**
 * Fuzz test of every API route through `app.inject`: thousands of malformed
 * requests from a seeded PRNG (no fast-check), each checked against the wire
 * contract of DESIGN.md — never a 5xx, always a JSON body with a numeric
 * `code` from ERROR_CODES, well-formed answers on 200, and a forged or broken
 * black_box is a high-risk decision with a `token_*` reason, never an error.
 *
 * Reproduce a failure with the seed its message prints:
 *   RISKGATE_FUZZ_SEED=<seed> npx vitest run test/fuzz.test.ts
 * (RISKGATE_FUZZ_CASES=<n> changes the number of generated cases.) Every case
 * follows from the seed; only the key material inside token cases is fresh on
 * each run.
 */
import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveContentKey, type DeviceSigner, type ServerTokenKey } from '../client/src/token/build.js';
import { DEFAULT_LEVEL_FLOORS, ERROR_CODES, EVENTS, LIST_DIMENSIONS, LIST_KINDS } from '../shared/constants.js';
import {
  DecisionResponse,
  ErrorBody,
  EvaluateResponse,
  ListEntriesResponse,
  ListEntryResponse,
} from '../shared/schemas.js';
import { APP_KEY, APP_SECRET, OTHER_APP_KEY, OTHER_APP_SECRET, testApp, type TestApp } from './support/app.js';
import { controlCharacterProblems } from './support/control-chars.js';
import { makeToken, newDevice, tokenCrypto } from './support/tokens.js';

const SEED = parseSeed(process.env.RISKGATE_FUZZ_SEED) ?? 0x5eed_2026;
const CASES = Number(process.env.RISKGATE_FUZZ_CASES ?? 6000);
const SEED_TEXT = `0x${SEED.toString(16)}`;

function parseSeed(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n >>> 0 : undefined;
}

// ---------------------------------------------------------------------------
// A small seeded PRNG (sfc32, seeded through splitmix32).

class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const split = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = split();
    this.b = split();
    this.c = split();
    this.d = split();
    for (let i = 0; i < 12; i++) this.next();
  }

  /** Uniform in [0, 1). */
  next(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  bool(p = 0.5): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  weighted<T>(choices: readonly (readonly [number, T])[]): T {
    const total = choices.reduce((sum, [w]) => sum + w, 0);
    let x = this.next() * total;
    for (const [w, value] of choices) {
      x -= w;
      if (x < 0) return value;
    }
    return choices[choices.length - 1]![1];
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

// ---------------------------------------------------------------------------
// Random text and JSON (as text, so keys like __proto__ survive as written).

const B64U_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const SPECIAL_STRINGS = [
  '',
  ' ',
  '\t\n',
  '\u0000',
  'a\u0000b',
  '__proto__',
  'constructor',
  'prototype',
  'null',
  'undefined',
  'NaN',
  'true',
  '0',
  '-1',
  '1e999',
  '<script>alert(1)</script>',
  "'; DROP TABLE list_entries; --",
  '%s%n%x',
  '${7*7}{{7*7}}',
  '../../../../etc/passwd',
  '\u202egnp.exe',
  '\u200b\u200c\u200d\ufeff',
  'ＱＱ。ＣＯＭ',
  '１３８００１３８０００',
  '风控系统',
  '🦊🔥💥👨‍👩‍👧‍👦',
  '\ud800',
  '\udfff\ud800',
  'x'.repeat(1024),
  'y'.repeat(1025),
];
const UNICODE_RANGES: readonly [number, number][] = [
  [0x20, 0x7e],
  [0x00, 0x1f],
  [0x80, 0xff],
  [0x370, 0x3ff],
  [0x400, 0x4ff],
  [0x590, 0x6ff],
  [0x4e00, 0x9fff],
  [0xac00, 0xd7a3],
  [0xd800, 0xdfff], // lone surrogates
  [0xff00, 0xffef],
  [0xfff0, 0xffff],
  [0x1f300, 0x1faff],
];

function randomString(rng: Rng, maxLength = 40): string {
  if (rng.bool(0.15)) return rng.pick(SPECIAL_STRINGS);
  const length = rng.weighted<number>([
    [70, rng.int(maxLength + 1)],
    [10, rng.range(100, 1100)],
    [6, rng.pick([1023, 1024, 1025, 1026])],
    [4, rng.range(2000, 20000)],
  ]);
  const ranges = rng.bool(0.5) ? [UNICODE_RANGES[0]!] : [rng.pick(UNICODE_RANGES), rng.pick(UNICODE_RANGES)];
  if (length > 2000) {
    // Long strings: a repeated random chunk keeps generation cheap.
    const chunk = randomChars(rng, 64, ranges);
    return chunk.repeat(Math.ceil(length / 64)).slice(0, length);
  }
  return randomChars(rng, length, ranges);
}

function randomChars(rng: Rng, length: number, ranges: readonly (readonly [number, number])[]): string {
  let out = '';
  while (out.length < length) {
    const [lo, hi] = rng.pick(ranges);
    out += String.fromCodePoint(rng.range(lo, hi));
  }
  return out;
}

/** Printable ASCII plus Latin-1: what survives as an HTTP header value. */
function headerText(rng: Rng, maxLength = 40): string {
  let out = '';
  const length = rng.int(maxLength + 1);
  while (out.length < length) out += String.fromCharCode(rng.bool(0.9) ? rng.range(0x20, 0x7e) : rng.range(0xa0, 0xff));
  return out;
}

const NUMBER_TEXTS = [
  '0',
  '-0',
  '1',
  '-1',
  '1.5',
  '-273.15',
  '1e308',
  '-1e308',
  '1e-320',
  '5e-324',
  '9007199254740993',
  '-9223372036854775808',
  '123456789012345678901234567890',
  '1E3',
  '0.0000001',
  '100',
  '101',
  '4',
  '5',
];
const KEY_TEXTS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '__defineGetter__',
  '',
  ' ',
  'a',
  'event',
  'ip',
  'black_box',
  '\u0000',
  '💥',
  '键',
  'k'.repeat(300),
];

function numberText(rng: Rng): string {
  if (rng.bool(0.6)) return rng.pick(NUMBER_TEXTS);
  return rng.bool() ? String(rng.range(-1_000_000, 1_000_000)) : String((rng.next() - 0.5) * 10 ** rng.range(-10, 20));
}

function keyText(rng: Rng): string {
  return JSON.stringify(rng.bool(0.6) ? rng.pick(KEY_TEXTS) : randomString(rng, 12));
}

/** A random JSON value of any type, as text. */
function jsonText(rng: Rng, depth: number): string {
  const kind = rng.int(depth <= 0 ? 6 : 9);
  switch (kind) {
    case 0:
      return 'null';
    case 1:
      return rng.bool() ? 'true' : 'false';
    case 2:
      return numberText(rng);
    case 6:
    case 7: {
      const n = rng.bool(0.9) ? rng.int(5) : rng.range(5, 60);
      return `[${Array.from({ length: n }, () => jsonText(rng, depth - 1)).join(',')}]`;
    }
    case 8:
      return objectText(rng, depth - 1);
    default:
      return JSON.stringify(randomString(rng));
  }
}

function objectText(rng: Rng, depth: number): string {
  const n = rng.bool(0.9) ? rng.int(5) : rng.range(5, 60);
  return `{${Array.from({ length: n }, () => `${keyText(rng)}:${jsonText(rng, depth)}`).join(',')}}`;
}

/** Deeply nested arrays or objects (within the 64 KiB body limit), optionally wrapped. */
function deepText(rng: Rng): string {
  const depth = rng.pick([64, 500, 2_000, 10_000, 20_000]);
  switch (rng.int(3)) {
    case 0:
      return '['.repeat(depth) + ']'.repeat(depth);
    case 1: {
      const d = Math.min(depth, 10_000);
      return '{"a":'.repeat(d) + '1' + '}'.repeat(d);
    }
    default: {
      const d = Math.min(depth, 8_000);
      return '[{"__proto__":'.repeat(d) + 'null' + '}]'.repeat(d);
    }
  }
}

/** Breaks valid JSON text in one of many ways. */
function mangle(rng: Rng, text: string): string {
  switch (rng.int(10)) {
    case 0:
      return text.slice(0, rng.int(Math.max(1, text.length))); // truncated
    case 1:
      return `${text}${rng.pick([',', '}', ']', 'x', '\u0000', ' garbage', '{}', '\n{"a":1}'])}`;
    case 2:
      return `\ufeff${text}`; // a byte-order mark
    case 3: {
      const at = rng.int(text.length + 1);
      return text.slice(0, at) + rng.pick(['"', '\\', '\u0000', '/*c*/', ',', ':', 'NaN', 'Infinity', 'undefined', "'"]) + text.slice(at);
    }
    case 4:
      return text.replace(/"/g, "'");
    case 5:
      return text.replace(/:/, ': NaN, "x":');
    case 6:
      return rng.pick(['', ' ', '\n', '{', '[', '"', 'nul', 'tru', '{"', '{"event"', '{"event":', '{"event":"login"', '}{', ']']);
    case 7:
      return randomChars(rng, rng.range(1, 200), [[0, 0xff]]);
    case 8:
      return text.replace(/,/g, ',,');
    default: {
      const at = rng.int(Math.max(1, text.length));
      return text.slice(0, at) + String.fromCharCode(text.charCodeAt(at) ^ (1 << rng.int(7))) + text.slice(at + 1);
    }
  }
}

// ---------------------------------------------------------------------------
// Field values: plausible ones (so requests get past validation) and random ones.

// Disjoint address pools: fuzzed list entries only ever name FUZZ_IPS, so the
// token cases (TOKEN_IPS) and the final health check never hit a list.
const FUZZ_IPS = [
  '203.0.113.7',
  '203.0.113.8',
  ' 203.0.113.9 ',
  '10.0.0.1',
  '127.0.0.1',
  '0.0.0.0',
  '255.255.255.255',
  '::1',
  '::',
  '::ffff:203.0.113.10',
  '2001:db8::1',
  '2001:0DB8:0000:0000:0000:0000:0000:0002',
  'fe80::1%eth0',
  'fe80::1%25eth0',
  '2002:cb00:710b::1',
  '2001:0:4136:e378:8000:63bf:3fff:fdd2',
  '64:ff9b::203.0.113.11',
  '::203.0.113.12',
  '127.1',
  '0x7f.0.0.1',
  '010.0.0.1',
  '999.1.1.1',
  '1.2.3',
  '1.2.3.4.5',
  'localhost',
  'not-an-ip',
  '１.２.３.４',
  '203.0.113.13/24',
  '[2001:db8::3]',
  '2001:db8::1%' + 'z'.repeat(200),
];
const TOKEN_IPS = ['198.51.100.21', '198.51.100.22', '2001:db8:beef::21'];
const MOBILES = [
  '13800138000',
  '+86 138-0013-8000',
  '0086 13800138000',
  '8613800138000',
  '17012345678',
  '+1 (415) 555-0100',
  '+852 9123 4567',
  '１３８００１３８０００',
  '＋８６１３８００１３８０００',
  '+',
  '00',
  '1',
  '+86',
  '138-0013-8000-0000-0000-0000-0000-0000-0000-0000-0000-0000-0000-0000',
  'phone',
  '\u0000',
];
const EMAILS = [
  'alice@example.com',
  'Alice@EXAMPLE.com',
  'x@mailinator.com',
  'a@b.c.mailinator.com',
  'user@ＱＱ。ＣＯＭ',
  'user@bücher.example',
  'user@xn--bcher-kva.example',
  '@example.com',
  'a@',
  '@',
  'a@@b',
  'a@1.2.3.4',
  'a@[127.0.0.1]',
  `${'l'.repeat(65)}@example.com`,
  `a@${'d'.repeat(63)}.${'e'.repeat(63)}.${'f'.repeat(63)}.${'g'.repeat(63)}.com`,
  'a b@example.com',
  'a\u0000@example.com',
  'user@-bad-.com',
];
const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 13) MicroMessenger/8.0.40 QQBrowser/13 UCBrowser/15',
  'curl/8.0',
  'HeadlessChrome/120',
  `Version/1 ${' '.repeat(1000)}`,
  `${'Version/1 '.repeat(102)}`,
  'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
];
const EVENT_VARIANTS = ['LOGIN', 'Login', ' login', 'login ', 'register\u0000', 'unknown', '__proto__', 'toString', '', 'payment'];

function isoNow(offsetSeconds = 0): string {
  return new Date(Date.now() + offsetSeconds * 1000).toISOString();
}

function eventTimeText(rng: Rng): string {
  return JSON.stringify(
    rng.pick([
      isoNow(),
      isoNow(-3600),
      isoNow(86_400 * 365),
      isoNow().replace('Z', '+08:00'),
      isoNow().replace('Z', '-23:59'),
      isoNow().replace(/\.\d+Z$/, 'Z'),
      isoNow().replace('Z', '123456789Z'),
      '0000-01-01T00:00:00Z',
      '0000-01-01T00:00:00+23:59',
      '9999-12-31T23:59:59.999999999-23:59',
      '1970-01-01T00:00:00Z',
      '2020-02-29T12:00:00Z',
      '2021-02-29T12:00:00Z',
      '2020-02-30T00:00:00Z',
      '2020-01-01T24:00:00Z',
      '2020-01-01T23:59:60Z',
      '2020-01-01T00:00:00+24:00',
      '2020-01-01T00:00:00+99:99',
      '2020-01-01T00:00:00',
      '2020-01-01',
      '2020-01-01 00:00:00Z',
      '+275760-09-13T00:00:00Z',
      '-000001-01-01T00:00:00Z',
      'now',
      'yesterday',
    ]),
  );
}

function plausibleEvaluateField(rng: Rng, field: string, valid: boolean): string {
  const str = (s: string) => JSON.stringify(s);
  switch (field) {
    case 'event':
      return str(valid || rng.bool(0.8) ? rng.pick(EVENTS) : rng.pick(EVENT_VARIANTS));
    case 'event_time':
      return valid ? str(rng.pick([isoNow(), isoNow(-600), isoNow(3600), isoNow().replace('Z', '+08:00'), '2020-02-29T12:00:00Z'])) : eventTimeText(rng);
    case 'ip':
      return str(rng.pick(FUZZ_IPS));
    case 'mobile':
      return str(rng.pick(MOBILES));
    case 'email':
      return str(rng.pick(EMAILS));
    case 'user_agent':
      return str(rng.pick(USER_AGENTS));
    case 'black_box':
      return str(rng.bool() ? randomB64uToken(rng) : valid ? `bb-${randomString(rng, 200)}` : randomString(rng, 200));
    case 'ext':
    case 'event_detail':
      return rng.bool(0.85) ? objectText(rng, rng.int(4)) : rng.bool() ? '{}' : `{"deep":${deepText(rng)}}`;
    default:
      return str(valid || rng.bool(0.7) ? `${field}-${rng.int(50)}${valid ? '' : randomString(rng, 8)}` : randomString(rng, 60));
  }
}

const EVALUATE_FIELDS = [
  'event',
  'event_time',
  'account_id',
  'session_id',
  'black_box',
  'ip',
  'user_agent',
  'mobile',
  'email',
  'nickname',
  'referer',
  'ext',
  'event_detail',
];

/**
 * A JSON object (as text) over `fields`. Chaos mode: each field present at
 * random, each value plausible or any JSON at all, unknown keys. Near-valid
 * mode: every required field and some others, all plausible, then at most one
 * field broken — so most requests get past validation into the engine.
 */
function objectFrom(
  rng: Rng,
  fields: readonly string[],
  required: readonly string[],
  plausible: (rng: Rng, field: string, valid: boolean) => string,
): string {
  const nearValid = rng.bool(0.5);
  const parts: string[] = [];
  for (const field of fields) {
    if (nearValid ? !required.includes(field) && !rng.bool(0.4) : !rng.bool(0.5)) continue;
    parts.push(`${JSON.stringify(field)}:${nearValid || rng.bool(0.7) ? plausible(rng, field, nearValid) : jsonText(rng, rng.int(4))}`);
  }
  if (nearValid && parts.length > 0 && rng.bool(0.4)) {
    const i = rng.int(parts.length);
    const key = parts[i]!.slice(0, parts[i]!.indexOf('":') + 2);
    parts[i] = key + (rng.bool() ? jsonText(rng, rng.int(4)) : plausible(rng, JSON.parse(key.slice(0, -1)) as string, false));
  }
  // Unknown keys, including the ones prototype pollution uses.
  const unknown = nearValid ? (rng.bool(0.15) ? 1 : 0) : rng.weighted([[70, 0], [20, 1], [10, rng.range(2, 6)]]);
  for (let i = unknown; i > 0; i--) parts.push(`${keyText(rng)}:${jsonText(rng, 2)}`);
  return `{${rng.shuffle(parts).join(',')}}`;
}

function evaluateBody(rng: Rng): string {
  return objectFrom(rng, EVALUATE_FIELDS, ['event', rng.pick(['ip', 'black_box', 'ip'])], plausibleEvaluateField);
}

function plausibleListField(rng: Rng, field: string, valid: boolean): string {
  switch (field) {
    case 'list':
      return JSON.stringify(valid || rng.bool(0.85) ? rng.pick(LIST_KINDS) : rng.pick(['BLACK', 'grey', '', 'white ', '__proto__']));
    case 'dimension':
      return JSON.stringify(valid || rng.bool(0.85) ? rng.pick(LIST_DIMENSIONS) : rng.pick(['IP', 'phone', '', 'constructor', 'device ']));
    case 'value':
      return JSON.stringify(rng.pick([rng.pick(FUZZ_IPS), rng.pick(MOBILES), rng.pick(EMAILS), `acct-${rng.int(20)}`, valid ? `v-${randomString(rng, 80)}` : randomString(rng, 80)]));
    case 'ttl_seconds':
      return valid ? rng.pick(['1', '60', '3600', '315360000']) : rng.pick(['1', '60', '0', '-1', '1.5', '315360000', '315360001', '1e308', '"60"', 'null', '9007199254740993']);
    default:
      return JSON.stringify(rng.bool() ? 'fuzz reason' : randomString(rng, 80));
  }
}

function listBody(rng: Rng): string {
  return objectFrom(rng, ['list', 'dimension', 'value', 'reason', 'ttl_seconds'], ['list', 'dimension', 'value'], plausibleListField);
}

function queryValue(rng: Rng): string {
  return rng.weighted<string>([
    [40, uri(rng.bool() ? rng.pick([...LIST_DIMENSIONS, ...LIST_KINDS, ...FUZZ_IPS, '10', '1000', '1001', '0']) : randomString(rng, 30))],
    [15, rng.pick(['', '%', '%ZZ', '%E0%A4%A', '%00', '%C0%AF', '%u0041', '+', '%2B', '[]', '[a]=1', '1e3', '0x10', 'Infinity', '-1', '1.5', ' 5 '])],
    [5, encodeURIComponent('v'.repeat(rng.pick([1024, 1025, 5000])))],
  ]);
}

function listQuery(rng: Rng): string {
  const keys = ['dimension', 'value', 'list', 'limit', '__proto__', 'constructor', 'dimension[]', 'value[0]', 'a.b', ''];
  const pairs: string[] = [];
  for (let i = rng.int(6); i > 0; i--) {
    const key = rng.bool(0.85) ? rng.pick(keys) : uri(randomString(rng, 10));
    pairs.push(rng.bool(0.1) ? key : `${key}=${queryValue(rng)}`);
  }
  return pairs.length > 0 || rng.bool() ? `?${pairs.join(rng.bool(0.95) ? '&' : ';')}` : '';
}

function pathSegment(rng: Rng, known: readonly string[]): string {
  return rng.weighted<string>([
    [15, known.length > 0 ? rng.pick(known) : 'none'],
    [25, uri(randomString(rng, 70))],
    [10, randomBytes(16).toString('hex').toUpperCase()],
    [5, rng.pick(['%', '%ZZ', '%E0%A4%A', '%00', '%2F', '..', '%2e%2e%2f', '.', '%C0%AF', '%uFFFF'])],
    [5, 'a'.repeat(rng.pick([63, 64, 65, 1024, 3000]))],
  ]);
}

/** encodeURIComponent refuses lone surrogates; URLs get U+FFFD for them. */
function uri(text: string): string {
  return encodeURIComponent(text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'));
}

function randomB64u(rng: Rng, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += B64U_ALPHABET[rng.int(64)];
  return out;
}

/** Five base64url segments, the shape of a compact JWE, with random content. */
function randomB64uToken(rng: Rng): string {
  const parts = [rng.range(0, 300), rng.bool(0.8) ? 0 : rng.range(1, 20), rng.pick([0, 16, 16, 15, 17]), rng.range(0, 600), rng.pick([0, 22, 22, 21, 23])].map((n) =>
    randomB64u(rng, n),
  );
  if (rng.bool(0.1)) parts.push(randomB64u(rng, 4));
  if (rng.bool(0.1)) parts.pop();
  return parts.join('.');
}

// ---------------------------------------------------------------------------
// Requests

interface FuzzCase {
  kind: string;
  request: { method: 'GET' | 'POST' | 'DELETE' | 'PUT' | 'PATCH' | 'OPTIONS'; url: string; headers: Record<string, string>; payload?: string };
  /** A broken or forged black_box: a 200 decision with a token_* reason and level ≥ 3. */
  token?: boolean;
  /** Sent before this case, e.g. the first use of a token the case replays. */
  before?: FuzzCase['request'];
}

function authHeader(rng: Rng): Record<string, string> {
  const value = rng.weighted<string | undefined>([
    [75, `Bearer ${APP_SECRET}`],
    [6, `Bearer ${OTHER_APP_SECRET}`],
    [4, undefined],
    [2, ''],
    [2, 'Bearer'],
    [2, 'Bearer '],
    [2, `bearer ${APP_SECRET}`],
    [2, `Bearer  ${APP_SECRET}`],
    [2, `Bearer ${APP_SECRET} `],
    [2, `Bearer ${APP_SECRET.slice(0, -1)}`],
    [2, `Bearer ${APP_SECRET}x`],
    [2, APP_SECRET],
    [2, `Basic ${Buffer.from(`shop:${APP_SECRET}`).toString('base64')}`],
    [2, `Bearer ${APP_KEY}`],
    [3, `Bearer ${headerText(rng, 600)}`],
    [3, headerText(rng, 100)],
    [1, `Bearer ${'A'.repeat(512)}`],
    [1, `Bearer ${'A'.repeat(513)}`],
    [1, `Bearer ${APP_SECRET}, Bearer ${OTHER_APP_SECRET}`],
  ]);
  return value === undefined ? {} : { authorization: value };
}

const CONTENT_TYPES = [
  'text/plain',
  'text/json',
  'text/html',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=xyz',
  'application/octet-stream',
  'application/jsonx',
  'application/json-seq',
  'application/vnd.api+json',
  'application/merge-patch+json',
  'APPLICATION/JSON',
  'application/json;charset=UTF-8',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'application/json; charset="',
  'application/json; foo',
  'application/json, text/plain',
  ' application/json',
  'application/json;',
  'json',
  '*/*',
  'application/*',
  '',
  ' ',
];

function contentType(rng: Rng): Record<string, string> {
  const value = rng.weighted<string | undefined>([
    [80, 'application/json'],
    [5, 'application/json; charset=utf-8'],
    [10, rng.pick(CONTENT_TYPES)],
    [2, headerText(rng, 60)],
    [3, undefined],
  ]);
  return value === undefined ? {} : { 'content-type': value };
}

function extraHeaders(rng: Rng): Record<string, string> {
  const headers: Record<string, string> = {};
  if (rng.bool(0.1)) headers['accept-language'] = rng.pick(['zh-CN,zh;q=0.9', 'en', 'fr', '', ' ', 'z', 'zh', headerText(rng, 30)]);
  if (rng.bool(0.05)) headers['x-riskgate-actor'] = headerText(rng, 200);
  if (rng.bool(0.03)) headers.origin = rng.pick(['https://shop.example', 'null', headerText(rng, 40)]);
  if (rng.bool(0.02)) headers['x-forwarded-for'] = rng.pick(FUZZ_IPS);
  if (rng.bool(0.02)) headers.accept = rng.pick(['text/html', '*/*', 'application/xml', headerText(rng, 20)]);
  return headers;
}

/** A body: usually structured, sometimes raw garbage, deep nesting or too big. */
function bodyFor(rng: Rng, structured: () => string): string | undefined {
  return rng.weighted<() => string | undefined>([
    [55, structured],
    [18, () => mangle(rng, structured())],
    [8, () => jsonText(rng, 3)],
    [5, () => deepText(rng)],
    [3, () => undefined],
    [3, () => rng.pick(['', ' ', '\n', 'null', '{}', '[]', '0', '""', 'true'])],
    [4, () => `{"event":"login","ip":"203.0.113.7","nickname":${JSON.stringify('n'.repeat(rng.pick([40_000, 70_000, 200_000])))}}`],
    [4, () => `{"event":"login","black_box":${JSON.stringify('b'.repeat(rng.pick([8_193, 20_000, 66_000])))}}`],
  ])();
}

function genericCase(rng: Rng, known: { listIds: string[]; sequenceIds: string[] }): FuzzCase {
  const route = rng.weighted<string>([
    [40, 'evaluate'],
    [14, 'lists.post'],
    [12, 'lists.get'],
    [10, 'lists.delete'],
    [10, 'decisions.get'],
    [6, 'keys.get'],
    [3, 'other'],
  ]);
  const headers = { ...authHeader(rng), ...extraHeaders(rng) };
  const withBody = (structured: () => string) => {
    const payload = bodyFor(rng, structured);
    Object.assign(headers, contentType(rng));
    if (payload !== undefined && rng.bool(0.02)) headers['content-length'] = String(Buffer.byteLength(payload) + rng.pick([-1, 1, 1000]));
    return payload;
  };
  switch (route) {
    case 'evaluate': {
      const payload = withBody(() => evaluateBody(rng));
      return { kind: route, request: { method: 'POST', url: `/v1/risk/evaluate${rng.bool(0.05) ? listQuery(rng) : ''}`, headers, payload } };
    }
    case 'lists.post': {
      const payload = withBody(() => listBody(rng));
      return { kind: route, request: { method: 'POST', url: '/v1/lists', headers, payload } };
    }
    case 'lists.get': {
      const payload = rng.bool(0.05) ? withBody(() => listBody(rng)) : undefined;
      return { kind: route, request: { method: 'GET', url: `/v1/lists${listQuery(rng)}`, headers, payload } };
    }
    case 'lists.delete': {
      const payload = rng.bool(0.1) ? withBody(() => objectText(rng, 1)) : undefined;
      return { kind: route, request: { method: 'DELETE', url: `/v1/lists/${pathSegment(rng, known.listIds)}`, headers, payload } };
    }
    case 'decisions.get':
      return { kind: route, request: { method: 'GET', url: `/v1/decisions/${pathSegment(rng, known.sequenceIds)}${rng.bool(0.05) ? listQuery(rng) : ''}`, headers } };
    case 'keys.get':
      return { kind: route, request: { method: 'GET', url: `/v1/keys${rng.bool(0.3) ? listQuery(rng) : ''}`, headers } };
    default: {
      const method = rng.pick(['PUT', 'PATCH', 'OPTIONS', 'DELETE', 'POST'] as const);
      const url = rng.pick(['/v1/lists', '/v1/risk/evaluate', '/v1/keys', '/v1/decisions', '/v1/lists/', '/v1/decisions/', '/v1', '/', `/${pathSegment(rng, [])}`]);
      const payload = rng.bool() ? withBody(() => evaluateBody(rng)) : undefined;
      return { kind: `other.${method}`, request: { method, url, headers, payload } };
    }
  }
}

// ---------------------------------------------------------------------------
// Black-box forgeries

const b64uJson = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
const utf8 = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'));

interface TokenMaterial {
  serverKey: ServerTokenKey;
  devices: DeviceSigner[];
  /** Real, valid tokens for APP_KEY; never sent unmodified, so they stay fresh bases. */
  bases: string[];
}

/** A compact JWE around any plaintext, encrypted for the real server key: lets the inner JWS be forged. */
async function seal(serverKey: ServerTokenKey, plaintext: Uint8Array, headerPatch: Record<string, unknown> = {}): Promise<string> {
  const { sharedSecret, ephemeralKey } = await tokenCrypto.agree(serverKey);
  const contentKey = await deriveContentKey(tokenCrypto, sharedSecret);
  const header = b64uJson({ alg: 'ECDH-ES', enc: 'A256GCM', kid: serverKey.kid, epk: ephemeralKey, ...headerPatch });
  const iv = tokenCrypto.randomBytes(12);
  const sealed = await tokenCrypto.aesGcmEncrypt(contentKey, iv, plaintext, utf8(header));
  const b = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
  return `${header}..${b(iv)}.${b(sealed.subarray(0, sealed.length - 16))}.${b(sealed.subarray(sealed.length - 16))}`;
}

function validPayload(patch: Record<string, unknown> = {}): Record<string, unknown> {
  return { v: 1, app: APP_KEY, jti: randomBytes(16).toString('base64url'), iat: Math.floor(Date.now() / 1000), platform: 'web', sdk: 'fuzz/1', ...patch };
}

async function signJws(device: DeviceSigner, header: Record<string, unknown>, payloadSegment: string): Promise<string> {
  const input = `${b64uJson(header)}.${payloadSegment}`;
  return `${input}.${Buffer.from(await device.sign(utf8(input))).toString('base64url')}`;
}

/** Flips one bit of one decoded byte of a base64url segment (always changes what it decodes to). */
function flipSegment(rng: Rng, segment: string): string {
  const bytes = Buffer.from(segment, 'base64url');
  if (bytes.length === 0) return randomB64u(rng, rng.range(1, 8));
  bytes[rng.int(bytes.length)]! ^= 1 << rng.int(8);
  return bytes.toString('base64url');
}

const OFF_CURVE = () => randomBytes(32).toString('base64url');

function otherCurveJwk(curve: 'P-384' | 'P-521' | 'secp256k1'): Record<string, unknown> {
  const jwk = generateKeyPairSync('ec', { namedCurve: curve }).publicKey.export({ format: 'jwk' });
  return { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y };
}

async function tokenCase(rng: Rng, material: TokenMaterial): Promise<{ kind: string; token: string; replayOf?: string }> {
  const { serverKey } = material;
  const base = rng.pick(material.bases);
  const parts = base.split('.');
  const device = rng.pick(material.devices);
  const other = rng.pick(material.devices.filter((d) => d !== device));
  const category = rng.weighted<string>([
    [8, 'random_string'],
    [8, 'random_b64u'],
    [14, 'flipped'],
    [6, 'swapped'],
    [12, 'header'],
    [22, 'inner'],
    [5, 'truncated'],
    [5, 'real_variant'],
    [4, 'replayed'],
    [3, 'app_mismatch'],
    [3, 'clock'],
    [3, 'unknown_key'],
  ]);
  switch (category) {
    case 'random_string': {
      // At most 9,000 characters (past the 8,192 token bound), so even \u-escaped the body stays under 64 KiB.
      const s = randomString(rng, rng.pick([10, 200, 2000])).slice(0, 9000);
      return { kind: category, token: /\S/.test(s) ? s : `${s}x` };
    }
    case 'random_b64u':
      return { kind: category, token: rng.bool(0.3) ? [parts[0], '', randomB64u(rng, 16), randomB64u(rng, rng.range(1, 400)), randomB64u(rng, 22)].join('.') : randomB64uToken(rng) || 'x' };
    case 'flipped': {
      // One segment, or every segment at once; segment 1 (the empty encrypted key) gains content.
      const which = rng.bool(0.8) ? [rng.int(5)] : [0, 1, 2, 3, 4];
      const out = [...parts];
      for (const i of which) out[i] = flipSegment(rng, out[i]!);
      return { kind: `flipped.${which.join('')}`, token: out.join('.') };
    }
    case 'swapped': {
      const second = rng.pick(material.bases.filter((t) => t !== base)).split('.');
      const mask = rng.range(1, 30); // which of the four non-empty segments come from the second token
      const out = parts.map((p, i) => (i === 1 ? p : mask & (1 << (i === 0 ? 0 : i - 1)) ? second[i]! : p));
      if (out.every((p, i) => p === parts[i])) out[0] = second[0]!;
      if (out.every((p, i) => p === second[i])) out[3] = parts[3]!;
      return { kind: 'swapped', token: out.join('.') };
    }
    case 'header': {
      const header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as Record<string, unknown>;
      const epk = header.epk as Record<string, unknown>;
      const variant = rng.pick([
        'alg_none',
        'alg_hs256',
        'alg_kw',
        'alg_missing',
        'enc_a128',
        'enc_cbc',
        'epk_p384',
        'epk_p521',
        'epk_secp256k1',
        'epk_secp256k1_as_p256',
        'epk_missing',
        'epk_null',
        'epk_string',
        'epk_off_curve',
        'epk_zero',
        'epk_with_d',
        'epk_short_x',
        'epk_kty_okp',
        'kid_missing',
        'kid_number',
        'kid_unknown',
        'kid_proto',
        'zip',
        'crit',
        'apu',
        'array',
        'not_json',
        'proto_key',
      ] as const);
      let patched: string;
      const enc = (h: unknown) => b64uJson(h);
      switch (variant) {
        case 'alg_none':
          patched = enc({ ...header, alg: 'none' });
          break;
        case 'alg_hs256':
          patched = enc({ ...header, alg: 'HS256' });
          break;
        case 'alg_kw':
          patched = enc({ ...header, alg: 'ECDH-ES+A256KW' });
          break;
        case 'alg_missing': {
          const { alg: _alg, ...rest } = header;
          patched = enc(rest);
          break;
        }
        case 'enc_a128':
          patched = enc({ ...header, enc: 'A128GCM' });
          break;
        case 'enc_cbc':
          patched = enc({ ...header, enc: 'A256CBC-HS512' });
          break;
        case 'epk_p384':
          patched = enc({ ...header, epk: otherCurveJwk('P-384') });
          break;
        case 'epk_p521':
          patched = enc({ ...header, epk: otherCurveJwk('P-521') });
          break;
        case 'epk_secp256k1':
          patched = enc({ ...header, epk: otherCurveJwk('secp256k1') });
          break;
        case 'epk_secp256k1_as_p256':
          // A point of another 256-bit curve labelled P-256: not on P-256 (invalid-curve attack).
          patched = enc({ ...header, epk: { ...otherCurveJwk('secp256k1'), crv: 'P-256' } });
          break;
        case 'epk_missing': {
          const { epk: _epk, ...rest } = header;
          patched = enc(rest);
          break;
        }
        case 'epk_null':
          patched = enc({ ...header, epk: null });
          break;
        case 'epk_string':
          patched = enc({ ...header, epk: 'epk' });
          break;
        case 'epk_off_curve':
          patched = enc({ ...header, epk: { ...epk, x: OFF_CURVE(), y: OFF_CURVE() } });
          break;
        case 'epk_zero':
          patched = enc({ ...header, epk: { ...epk, x: Buffer.alloc(32).toString('base64url'), y: Buffer.alloc(32).toString('base64url') } });
          break;
        case 'epk_with_d':
          patched = enc({ ...header, epk: { ...epk, d: OFF_CURVE() } });
          break;
        case 'epk_short_x':
          patched = enc({ ...header, epk: { ...epk, x: String(epk.x).slice(0, 42) } });
          break;
        case 'epk_kty_okp':
          patched = enc({ ...header, epk: { ...epk, kty: 'OKP', crv: 'X25519' } });
          break;
        case 'kid_missing': {
          const { kid: _kid, ...rest } = header;
          patched = enc(rest);
          break;
        }
        case 'kid_number':
          patched = enc({ ...header, kid: 1 });
          break;
        case 'kid_unknown':
          patched = enc({ ...header, kid: 'no-such-key' });
          break;
        case 'kid_proto':
          patched = enc({ ...header, kid: rng.pick(['__proto__', 'constructor', 'toString', '']) });
          break;
        case 'zip':
          patched = enc({ ...header, zip: 'DEF' });
          break;
        case 'crit':
          patched = enc({ ...header, crit: ['exp'], exp: 1 });
          break;
        case 'apu':
          patched = enc({ ...header, apu: 'QWxpY2U', apv: 'Qm9i' });
          break;
        case 'array':
          patched = enc([header]);
          break;
        case 'not_json':
          patched = Buffer.from(`${JSON.stringify(header).slice(0, -1)}`).toString('base64url');
          break;
        case 'proto_key':
          patched = Buffer.from(`{"__proto__":{"alg":"ECDH-ES"},${JSON.stringify(header).slice(1)}`).toString('base64url');
          break;
      }
      return { kind: `header.${variant}`, token: [patched, ...parts.slice(1)].join('.') };
    }
    case 'inner': {
      const jwk = device.publicKey;
      const payloadSegment = b64uJson(validPayload());
      const variant = rng.pick([
        'alg_none',
        'alg_none_no_jwk',
        'alg_None',
        'hs256',
        'hs512',
        'wrong_signer',
        'payload_changed',
        'es384_label',
        'es256k_label',
        'jwk_with_d',
        'jwk_p384',
        'jwk_off_curve',
        'sig_der',
        'sig_zero',
        'sig_empty',
        'crit',
        'two_parts',
        'four_parts',
        'empty',
        'binary',
        'payload_v2',
        'payload_types',
        'payload_array',
        'payload_not_json',
        'payload_huge_signals',
        'app_other',
        'iat_future',
        'iat_past',
      ] as const);
      const es256 = (payload: string, header: Record<string, unknown> = { alg: 'ES256', jwk }) => signJws(device, header, payload);
      let jws: string;
      switch (variant) {
        case 'alg_none':
          jws = `${b64uJson({ alg: 'none', jwk })}.${payloadSegment}.`;
          break;
        case 'alg_none_no_jwk':
          jws = `${b64uJson({ alg: 'none' })}.${payloadSegment}.`;
          break;
        case 'alg_None':
          jws = `${b64uJson({ alg: 'None', jwk })}.${payloadSegment}.${randomB64u(rng, 86)}`;
          break;
        case 'hs256':
        case 'hs512': {
          // The classic confusion: HMAC with the public key as the secret.
          const alg = variant === 'hs256' ? 'HS256' : 'HS512';
          const input = `${b64uJson({ alg, jwk })}.${payloadSegment}`;
          const mac = createHmac(alg === 'HS256' ? 'sha256' : 'sha512', JSON.stringify(jwk)).update(input).digest('base64url');
          jws = `${input}.${mac}`;
          break;
        }
        case 'wrong_signer':
          jws = await signJws(other, { alg: 'ES256', jwk }, payloadSegment);
          break;
        case 'payload_changed': {
          const signed = (await es256(payloadSegment)).split('.');
          jws = `${signed[0]}.${b64uJson(validPayload({ sdk: 'tampered' }))}.${signed[2]}`;
          break;
        }
        case 'es384_label':
          jws = await es256(payloadSegment, { alg: 'ES384', jwk });
          break;
        case 'es256k_label':
          jws = await es256(payloadSegment, { alg: 'ES256K', jwk });
          break;
        case 'jwk_with_d':
          jws = await es256(payloadSegment, { alg: 'ES256', jwk: { ...jwk, d: OFF_CURVE() } });
          break;
        case 'jwk_p384':
          jws = await es256(payloadSegment, { alg: 'ES256', jwk: otherCurveJwk('P-384') });
          break;
        case 'jwk_off_curve':
          jws = await es256(payloadSegment, { alg: 'ES256', jwk: { ...jwk, y: OFF_CURVE() } });
          break;
        case 'sig_der': {
          const [h, p, s] = (await es256(payloadSegment)).split('.') as [string, string, string];
          const raw = Buffer.from(s, 'base64url');
          const int = (b: Buffer) => (b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
          const r = int(raw.subarray(0, 32));
          const t = int(raw.subarray(32));
          const der = Buffer.concat([Buffer.from([0x30, r.length + t.length + 4, 2, r.length]), r, Buffer.from([2, t.length]), t]);
          jws = `${h}.${p}.${der.toString('base64url')}`;
          break;
        }
        case 'sig_zero':
          jws = `${b64uJson({ alg: 'ES256', jwk })}.${payloadSegment}.${Buffer.alloc(64).toString('base64url')}`;
          break;
        case 'sig_empty':
          jws = `${b64uJson({ alg: 'ES256', jwk })}.${payloadSegment}.`;
          break;
        case 'crit':
          jws = await es256(payloadSegment, { alg: 'ES256', jwk, crit: ['b64'], b64: false });
          break;
        case 'two_parts':
          jws = `${b64uJson({ alg: 'ES256', jwk })}.${payloadSegment}`;
          break;
        case 'four_parts':
          jws = `${await es256(payloadSegment)}.extra`;
          break;
        case 'empty':
          jws = '';
          break;
        case 'binary':
          return { kind: `inner.${variant}`, token: await seal(serverKey, new Uint8Array(rng.bytes(rng.range(1, 300)))) };
        case 'payload_v2':
          jws = await es256(b64uJson(validPayload({ v: 2 })));
          break;
        case 'payload_types':
          jws = await es256(
            b64uJson(
              validPayload(
                rng.pick([{ jti: 'short' }, { iat: '1700000000' }, { iat: -1 }, { iat: 1.5 }, { platform: 'ios' }, { app: 42 }, { sdk: 'x'.repeat(65) }, { v: '1' }, { jti: null }]),
              ),
            ),
          );
          break;
        case 'payload_array':
          jws = await es256(b64uJson([validPayload()]));
          break;
        case 'payload_not_json':
          jws = await es256(Buffer.from('{"v":1,').toString('base64url'));
          break;
        case 'payload_huge_signals':
          // Wrong-typed signals are dropped, not fatal; the token is then fine but for the wrong app.
          jws = await es256(b64uJson(validPayload({ app: OTHER_APP_KEY, signals: { lies: 'x'.repeat(3000), automation: [1, 2] }, behavior: { clicks: -5 } })));
          break;
        case 'app_other':
          jws = await es256(b64uJson(validPayload({ app: OTHER_APP_KEY })));
          break;
        case 'iat_future':
          jws = await es256(b64uJson(validPayload({ iat: Math.floor(Date.now() / 1000) + rng.pick([3600, 86_400 * 365 * 100]) })));
          break;
        case 'iat_past':
          jws = await es256(b64uJson(validPayload({ iat: rng.pick([1, Math.floor(Date.now() / 1000) - 3600]) })));
          break;
      }
      return { kind: `inner.${variant}`, token: await seal(serverKey, utf8(jws)) };
    }
    case 'truncated': {
      const cut = rng.range(1, base.length - 1);
      return { kind: 'truncated', token: base.slice(0, cut) };
    }
    case 'real_variant': {
      const variant = rng.pick(['extra_segment', 'missing_segment', 'encrypted_key', 'inner_space', 'padding', 'too_large', 'doubled'] as const);
      const token = {
        extra_segment: () => `${base}.AAAA`,
        missing_segment: () => parts.filter((_, i) => i !== 1).join('.'),
        encrypted_key: () => [parts[0], 'AAAA', ...parts.slice(2)].join('.'),
        inner_space: () => `${base.slice(0, 40)} ${base.slice(40)}`,
        padding: () => [parts[0], '', `${parts[2]}=`, parts[3], parts[4]].join('.'),
        too_large: () => `${parts[0]}..${parts[2]}.${parts[3]}${'A'.repeat(8200)}.${parts[4]}`,
        doubled: () => `${base}${base}`,
      }[variant]();
      return { kind: `real.${variant}`, token };
    }
    case 'replayed': {
      const token = await makeToken({ serverKey, appKey: APP_KEY, device });
      return { kind: 'replayed', token, replayOf: token };
    }
    case 'app_mismatch':
      return { kind: 'app_mismatch', token: await makeToken({ serverKey, appKey: OTHER_APP_KEY, device }) };
    case 'clock': {
      const now = Math.floor(Date.now() / 1000);
      return { kind: 'clock', token: await makeToken({ serverKey, appKey: APP_KEY, device, issuedAt: rng.pick([now - 3600, now + 3600, 1]) }) };
    }
    default: {
      // Encrypted for a key the server never had, under its real kid or another.
      const foreign = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
      const kid = rng.bool() ? serverKey.kid : 'retired-or-unknown';
      return { kind: `unknown_key.${kid === serverKey.kid ? 'same_kid' : 'other_kid'}`, token: await makeToken({ serverKey: { kty: 'EC', crv: 'P-256', x: foreign.x!, y: foreign.y!, kid }, appKey: APP_KEY, device }) };
    }
  }
}

function evaluateWithToken(rng: Rng, token: string): FuzzCase['request'] {
  const body: Record<string, unknown> = { event: rng.pick(EVENTS), black_box: token };
  if (rng.bool(0.6)) body.ip = rng.pick(TOKEN_IPS);
  if (rng.bool(0.3)) body.user_agent = rng.pick(USER_AGENTS);
  if (rng.bool(0.2)) body.event_time = isoNow();
  const headers: Record<string, string> = { authorization: `Bearer ${APP_SECRET}`, 'content-type': 'application/json' };
  if (rng.bool(0.2)) headers['accept-language'] = 'zh-CN';
  return { method: 'POST', url: '/v1/risk/evaluate', headers, payload: JSON.stringify(body) };
}

// ---------------------------------------------------------------------------
// Checking responses against the contract

const ERROR_BY_CODE = new Map<number, (typeof ERROR_CODES)[keyof typeof ERROR_CODES]>(Object.values(ERROR_CODES).map((e) => [e.code, e]));

/** A stack frame or a source path: `at fn (/x/y.js:1:2)`, `at file:///…`, `node_modules/`, `server/…ts:12`. */
const STACK_TRACE = /\bat (?:\S+ )?\(?(?:file:\/\/|node:|\/|[A-Za-z]:\\)[^\s)]*:\d+|\bat \S+ \([^)]*:\d+:\d+\)|node_modules[\\/]|\/work\/|\b[\w-]+\.(?:ts|js|mjs|cjs):\d+:\d+/;

function levelOf(score: number): number {
  let level = 0;
  for (let l = 4; l > 0; l--) {
    if (score >= DEFAULT_LEVEL_FLOORS[l]!) {
      level = l;
      break;
    }
  }
  return level;
}

/** A masked identifier shows at most 7 characters of the value around its stars. */
const isMasked = (value: string, stars: string) => value.includes(stars) && Array.from(value.replace(/\*/g, '')).length <= 7;

/** Problems with one response, as short stable strings (they also group failures). */
function checkResponse(fuzzCase: FuzzCase, response: LightMyRequestResponse): string[] {
  const problems: string[] = [];
  const { request } = fuzzCase;
  const status = response.statusCode;
  if (status >= 500) problems.push(`status ${status}`);
  const requestText = `${request.url}\n${JSON.stringify(request.headers)}\n${request.payload ?? ''}`;
  const leak = STACK_TRACE.exec(response.body);
  if (leak && !requestText.includes(leak[0])) problems.push(`stack trace or source path in body: ${leak[0]}`);
  if (!String(response.headers['content-type'] ?? '').startsWith('application/json')) problems.push(`content-type ${String(response.headers['content-type'])}`);
  let body: unknown;
  try {
    body = JSON.parse(response.body);
  } catch {
    problems.push('body is not JSON');
    return problems;
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    problems.push('body is not a JSON object');
    return problems;
  }
  const record = body as Record<string, unknown>;
  const isKeys = request.method === 'GET' && request.url.split('?')[0] === '/v1/keys';

  if (status === 200 && isKeys) {
    // The one 200 without code/message: GET /v1/keys answers a plain JWK Set, which SDKs and jose read as is.
    const keys = record.keys;
    if (!Array.isArray(keys) || keys.length === 0) problems.push('keys: no keys');
    else if (!keys.every((k: Record<string, unknown>) => k.kty === 'EC' && k.crv === 'P-256' && typeof k.kid === 'string' && k.d === undefined)) problems.push('keys: bad JWK');
    return problems;
  }
  if (typeof record.code !== 'number') {
    problems.push(`code is ${typeof record.code === 'string' ? `the string "${record.code}"` : typeof record.code}, not a number`);
    return problems;
  }
  if (typeof record.message !== 'string') problems.push('message is not a string');

  if (status !== 200) {
    const parsed = ErrorBody.safeParse(body);
    if (!parsed.success) problems.push(`error body: ${parsed.error.issues[0]?.message}`);
    const entry = ERROR_BY_CODE.get(record.code);
    if (!entry) problems.push(`code ${record.code} is not in ERROR_CODES`);
    else {
      if (record.error !== entry.name) problems.push(`error name ${String(record.error)} does not match code ${record.code}`);
      const statusOk = status === entry.status || (entry.name === 'FIELD_TOO_LONG' && status === 413);
      if (!statusOk) problems.push(`status ${status} with code ${record.code}`);
    }
    if (fuzzCase.token) problems.push(`token case answered ${status} ${record.code}, not a decision`);
    return problems;
  }

  if (record.code !== 200) problems.push(`status 200 with code ${record.code}`);
  const path = request.url.split('?')[0]!;
  if (request.method === 'POST' && path === '/v1/risk/evaluate') {
    const parsed = EvaluateResponse.safeParse(body);
    if (!parsed.success) {
      problems.push(`evaluate 200 shape: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`);
      return problems;
    }
    const decision = parsed.data;
    if (!/^[0-9A-F]{32}$/.test(decision.sequence_id)) problems.push('sequence_id format');
    if (decision.level !== levelOf(decision.score)) problems.push(`level ${decision.level} does not match score ${decision.score}`);
    if (fuzzCase.token) {
      if (!decision.reasons.some((r) => r.id.startsWith('token_') && r.id !== 'token_degraded')) {
        problems.push(`token case without a token_ reason (${decision.reasons.map((r) => r.id).join(',') || 'none'})`);
      }
      if (decision.level < 3) problems.push(`token case at level ${decision.level} (score ${decision.score})`);
    }
  } else if (request.method === 'POST' && path === '/v1/lists') {
    const parsed = ListEntryResponse.safeParse(body);
    if (!parsed.success) problems.push(`list entry shape: ${parsed.error.issues[0]?.message}`);
    else if (parsed.data.entry.dimension === 'mobile' && !isMasked(parsed.data.entry.value, '****')) problems.push(`mobile shown unmasked: ${parsed.data.entry.value}`);
    else if (parsed.data.entry.dimension === 'email' && !parsed.data.entry.value.split('@')[0]!.includes('***')) problems.push(`email shown unmasked: ${parsed.data.entry.value}`);
  } else if (request.method === 'GET' && path === '/v1/lists') {
    const parsed = ListEntriesResponse.safeParse(body);
    if (!parsed.success) problems.push(`list entries shape: ${parsed.error.issues[0]?.message}`);
  } else if (request.method === 'GET' && path.startsWith('/v1/decisions/')) {
    const parsed = DecisionResponse.safeParse(body);
    if (!parsed.success) problems.push(`decision shape: ${parsed.error.issues[0]?.message}`);
    else if (typeof parsed.data.decision.request.black_box === 'string' && !/^<token \d+ chars>$/.test(parsed.data.decision.request.black_box)) {
      problems.push('decision log holds the black_box');
    }
  } else if (request.method === 'DELETE') {
    if (record.message !== 'deleted') problems.push(`delete 200 message ${String(record.message)}`);
  } else {
    problems.push(`unexpected 200 for ${request.method} ${path}`);
  }
  return problems;
}

function describeCase(index: number, fuzzCase: FuzzCase, response: LightMyRequestResponse | undefined): string {
  const { request } = fuzzCase;
  const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s);
  return [
    `case #${index} [${fuzzCase.kind}] seed ${SEED_TEXT} (RISKGATE_FUZZ_SEED=${SEED_TEXT})`,
    `  ${request.method} ${clip(request.url, 200)}`,
    `  headers ${clip(JSON.stringify(request.headers), 300)}`,
    ...(request.payload !== undefined ? [`  payload ${clip(JSON.stringify(request.payload), 400)}`] : []),
    ...(response ? [`  -> ${response.statusCode} ${clip(response.body, 400)}`] : []),
  ].join('\n');
}

class Failures {
  private readonly groups = new Map<string, { count: number; example: string }>();
  total = 0;

  add(signature: string, example: string): void {
    this.total++;
    const group = this.groups.get(signature);
    if (group) group.count++;
    else this.groups.set(signature, { count: 1, example });
  }

  report(): string[] {
    return [...this.groups].map(([signature, { count, example }]) => `${signature} — ${count}×\n${example}`);
  }
}

async function inject(app: TestApp['app'], request: FuzzCase['request']): Promise<LightMyRequestResponse> {
  const options: InjectOptions = { method: request.method, url: request.url, headers: request.headers };
  if (request.payload !== undefined) options.payload = request.payload;
  return app.inject(options);
}

// ---------------------------------------------------------------------------

describe(`fuzzing every route (seed ${SEED_TEXT}, ${CASES} cases)`, () => {
  let t: TestApp;
  let material: TokenMaterial;
  let baseline: EvaluateResponse;
  const stackLeaks: string[] = [];

  const validEvaluate = async (ip: string) => {
    const token = await makeToken({ serverKey: material.serverKey, appKey: APP_KEY, payload: { behavior: { pointer_moves: 40, clicks: 2, key_presses: 12, dwell_ms: 9000 } } });
    return t.app.inject({ method: 'POST', url: '/v1/risk/evaluate', headers: { ...t.auth, 'content-type': 'application/json' }, payload: { event: 'login', black_box: token, ip, account_id: `final-${ip}` } });
  };

  beforeAll(async () => {
    t = await testApp();
    const serverKey = t.app.riskgate.tokenKeys().primary;
    const devices = await Promise.all(Array.from({ length: 6 }, () => newDevice()));
    const bases = await Promise.all(Array.from({ length: 16 }, (_, i) => makeToken({ serverKey, appKey: APP_KEY, device: devices[i % devices.length] })));
    material = { serverKey, devices, bases };
    const first = await validEvaluate('192.0.2.101');
    expect(first.statusCode, first.body).toBe(200);
    baseline = EvaluateResponse.parse(first.json());
  });

  afterAll(async () => {
    await t?.close();
  });

  it(`survives ${CASES} malformed requests without a 5xx, each answered by the contract`, { timeout: 120_000 }, async () => {
    const rng = new Rng(SEED);
    const failures = new Failures();
    const known = { listIds: [] as string[], sequenceIds: [] as string[] };
    const stats = new Map<string, number>();
    // RISKGATE_FUZZ_VERBOSE=1 prints which token_* reason each kind of forgery got.
    const tokenReasons = new Map<string, Set<string>>();
    const statuses = new Map<string, number>();
    const startedAt = performance.now();
    let sent = 0;

    for (let index = 0; index < CASES; index++) {
      let fuzzCase: FuzzCase;
      if (rng.bool(0.22)) {
        const { kind, token, replayOf } = await tokenCase(rng, material);
        const request = evaluateWithToken(rng, token);
        fuzzCase = { kind: `token.${kind}`, request, token: true };
        if (replayOf) fuzzCase.before = evaluateWithToken(rng, replayOf);
      } else {
        fuzzCase = genericCase(rng, known);
      }
      const family = fuzzCase.kind.split('.').slice(0, 2).join('.');
      stats.set(family, (stats.get(family) ?? 0) + 1);

      for (const request of fuzzCase.before ? [fuzzCase.before, fuzzCase.request] : [fuzzCase.request]) {
        const current = request === fuzzCase.request ? fuzzCase : { kind: `${fuzzCase.kind}.first_use`, request };
        let response: LightMyRequestResponse;
        try {
          response = await inject(t.app, request);
        } catch (error) {
          failures.add(`${current.kind}: inject threw ${(error as Error).message}`, describeCase(index, current, undefined));
          continue;
        }
        sent++;
        const statusKey = `${current.kind.split('.')[0]} ${response.statusCode}`;
        statuses.set(statusKey, (statuses.get(statusKey) ?? 0) + 1);
        for (const problem of checkResponse(current, response)) {
          failures.add(`${current.kind.split('.').slice(0, 2).join('.')}: ${problem}`, describeCase(index, current, response));
          if (problem.startsWith('stack trace')) stackLeaks.push(describeCase(index, current, response));
        }
        if (response.statusCode === 200 && request.method === 'POST') {
          const body = response.json() as { entry?: { id: string }; sequence_id?: string; reasons?: { id: string }[]; level?: number };
          if (current.token && body.reasons) {
            const seen = tokenReasons.get(current.kind) ?? new Set<string>();
            seen.add(`${body.reasons.map((r) => r.id).filter((id) => id.startsWith('token_')).join('+')}@${body.level}`);
            tokenReasons.set(current.kind, seen);
          }
          if (body.entry?.id) known.listIds.push(body.entry.id);
          if (body.sequence_id) known.sequenceIds.push(body.sequence_id);
        }
      }
    }

    const seconds = (performance.now() - startedAt) / 1000;
    console.info(
      `fuzz: seed ${SEED_TEXT}, ${CASES} cases, ${sent} requests in ${seconds.toFixed(1)} s; ` +
        [...stats].sort().map(([k, n]) => `${k}=${n}`).join(' '),
    );
    if (process.env.RISKGATE_FUZZ_VERBOSE) {
      console.info([...statuses].sort().map(([k, n]) => `${k}: ${n}`).join('\n'));
      console.info([...tokenReasons].sort().map(([kind, seen]) => `${kind}: ${[...seen].join(' ')}`).join('\n'));
    }
    expect(sent).toBeGreaterThanOrEqual(3000);
    expect(failures.report(), `${failures.total} contract violations (seed ${SEED_TEXT}); one example per kind:\n\n${failures.report().join('\n\n')}`).toEqual([]);
  });

  it('still answers a valid evaluate correctly after the fuzzing, and is healthy', async () => {
    const response = await validEvaluate('192.0.2.102');
    expect(response.statusCode, response.body).toBe(200);
    const decision = EvaluateResponse.parse(response.json());
    expect(decision.reasons.filter((r) => r.id.startsWith('token_')).map((r) => r.id)).toEqual([]);
    expect(decision.device_id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // The same request shape from a fresh device and address decides as it did before the fuzzing.
    expect({ score: decision.score, level: decision.level, decision: decision.decision, reasons: decision.reasons.map((r) => r.id) }).toEqual({
      score: baseline.score,
      level: baseline.level,
      decision: baseline.decision,
      reasons: baseline.reasons.map((r) => r.id),
    });
    expect(decision.degraded).toBe(false);

    const logged = await t.app.inject({ method: 'GET', url: `/v1/decisions/${decision.sequence_id}`, headers: t.auth });
    expect(logged.statusCode, logged.body).toBe(200);
    expect(DecisionResponse.parse(logged.json()).decision.score).toBe(decision.score);

    const health = await t.app.inject({ method: 'GET', url: '/healthz' });
    expect(health.statusCode).toBe(200);
    expect(health.json()).toEqual({ status: 'ok' });
    const ready = await t.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode, ready.body).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'ready' });

    // Lists still work end to end.
    const added = await t.app.inject({ method: 'POST', url: '/v1/lists', headers: t.auth, payload: { list: 'black', dimension: 'ip', value: '192.0.2.103', reason: 'after fuzz' } });
    expect(added.statusCode, added.body).toBe(200);
    const found = await t.app.inject({ method: 'GET', url: '/v1/lists?dimension=ip&value=192.0.2.103', headers: t.auth });
    expect(found.json()).toMatchObject({ code: 200, entries: [{ value: '192.0.2.103', list: 'black' }] });
    const declined = await validEvaluate('192.0.2.103');
    expect(declined.json()).toMatchObject({ decision: 'decline', reasons: [{ id: 'list_black' }] });
  });

  it('answers control characters in every string field of every route without a 5xx, a NUL with 9002 naming the field', async () => {
    expect(await controlCharacterProblems(t.app, t.auth, APP_KEY)).toEqual([]);
  });

  it('refuses a body that is not application/json with 415 / 9202', async () => {
    const body = JSON.stringify({ event: 'login', ip: '203.0.113.50', list: 'black', dimension: 'ip', value: '203.0.113.50' });
    const wrong: string[] = [];
    for (const url of ['/v1/risk/evaluate', '/v1/lists']) {
      for (const type of ['text/plain', 'text/plain; charset=utf-8', 'application/xml', 'application/x-www-form-urlencoded', 'application/octet-stream', 'multipart/form-data; boundary=x']) {
        const response = await t.app.inject({ method: 'POST', url, headers: { ...t.auth, 'content-type': type }, payload: body });
        const code = (response.json() as { code?: unknown }).code;
        if (response.statusCode !== 415 || code !== ERROR_CODES.BAD_CONTENT_TYPE.code) wrong.push(`POST ${url} with content-type ${type}: ${response.statusCode} ${response.body}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("answers a malformed or over-long URL from the error table, not with Fastify's own body", async () => {
    // Found by the fuzzing: the router's FST_ERR_BAD_URL / FST_ERR_MAX_PARAM_LENGTH bypass setErrorHandler.
    const wrong: string[] = [];
    for (const [method, url] of [
      ['DELETE', '/v1/lists/%ZZ'],
      ['GET', '/v1/decisions/%E0%A4%A'],
      ['GET', `/v1/decisions/${'A'.repeat(101)}`],
      ['DELETE', `/v1/lists/${'a'.repeat(101)}`],
      ['GET', '/%ZZ'],
    ] as const) {
      const response = await t.app.inject({ method, url, headers: t.auth });
      const body = response.json() as Record<string, unknown>;
      const entry = ERROR_BY_CODE.get(body.code as number);
      if (response.statusCode >= 500 || !entry || entry.name !== body.error || (entry.status !== response.statusCode && response.statusCode !== 413)) {
        wrong.push(`${method} ${url.slice(0, 40)}: ${response.statusCode} ${response.body.slice(0, 200)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('never puts a stack trace or a source path in a response', async () => {
    // Whatever the fuzzing saw, plus requests aimed at every error path.
    const auth = { authorization: `Bearer ${APP_SECRET}` };
    const json = { ...auth, 'content-type': 'application/json' };
    const requests: FuzzCase['request'][] = [
      { method: 'POST', url: '/v1/risk/evaluate', headers: json, payload: '{"event":' },
      { method: 'POST', url: '/v1/risk/evaluate', headers: json, payload: '' },
      { method: 'POST', url: '/v1/risk/evaluate', headers: json, payload: '{"__proto__":{"x":1},"event":"login","ip":"1.2.3.4"}' },
      { method: 'POST', url: '/v1/risk/evaluate', headers: json, payload: '{"constructor":{"prototype":{"x":1}},"event":"login"}' },
      { method: 'POST', url: '/v1/risk/evaluate', headers: json, payload: '['.repeat(30_000) + ']'.repeat(30_000) },
      { method: 'POST', url: '/v1/risk/evaluate', headers: json, payload: `{"event":"login","ip":"1.2.3.4","ext":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}` },
      { method: 'POST', url: '/v1/risk/evaluate', headers: json, payload: JSON.stringify({ event: 'login', ip: 'x'.repeat(100_000) }) },
      { method: 'POST', url: '/v1/risk/evaluate', headers: { ...auth, 'content-type': 'text/plain' }, payload: 'hello' },
      { method: 'POST', url: '/v1/risk/evaluate', headers: { ...auth, 'content-type': 'application/xml' }, payload: '<a/>' },
      { method: 'POST', url: '/v1/risk/evaluate', headers: { ...json, 'content-length': '5' }, payload: '{"event":"login"}' },
      { method: 'POST', url: '/v1/risk/evaluate', headers: json, payload: JSON.stringify({ event: 'login', black_box: 'a.b.c.d.e' }) },
      { method: 'POST', url: '/v1/risk/evaluate', headers: { 'content-type': 'application/json' }, payload: '{}' },
      { method: 'POST', url: '/v1/lists', headers: json, payload: JSON.stringify({ list: 'black', dimension: 'ip', value: 'x', ttl_seconds: 1e308 }) },
      { method: 'GET', url: '/v1/lists?limit=abc&dimension=%ZZ', headers: auth },
      { method: 'DELETE', url: '/v1/lists/%ZZ', headers: auth },
      { method: 'DELETE', url: `/v1/lists/${'a'.repeat(100)}`, headers: auth },
      { method: 'GET', url: '/v1/decisions/%E0%A4%A', headers: auth },
      { method: 'GET', url: '/v1/decisions/not-a-sequence-id', headers: auth },
      { method: 'GET', url: '/v1/decisions/00000000000000000000000000000000', headers: auth },
      { method: 'PUT', url: '/v1/keys', headers: auth },
      { method: 'GET', url: '/no/such/route', headers: auth },
    ];
    const leaks = [...stackLeaks];
    for (const [index, request] of requests.entries()) {
      const response = await inject(t.app, request);
      expect(response.statusCode, `${request.method} ${request.url}: ${response.body}`).toBeLessThan(500);
      const leak = STACK_TRACE.exec(response.body);
      if (leak) leaks.push(describeCase(index, { kind: 'stack', request }, response));
      expect(response.body).not.toMatch(/\n\s+at /);
    }
    expect(leaks).toEqual([]);
  });
});
