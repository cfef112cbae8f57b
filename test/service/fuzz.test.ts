/**
 * Property-based fuzzing of every API route through `app.inject`, with
 * fast-check: arbitraries over each route's body, headers, path and query, and
 * over the black_box token (random, structurally broken, re-signed or
 * re-encrypted with the wrong keys, valid but with a mutated payload). Every
 * answer is checked against the wire contract of DESIGN.md: never a 5xx; an
 * error is a JSON body whose numeric `code`, name and HTTP status are one row
 * of ERROR_CODES; a 200 parses with the shared zod response schema of its
 * route; numbers and emails are masked, the decision log holds no black_box;
 * CORS answers only allowed origins; no stack trace or source path; and a
 * forged or broken black_box is a high-risk decision with a `token_*` reason,
 * never an error. A failing case is shrunk to a small one before it is shown.
 *
 * `npm test` runs a bounded number of cases from a fixed seed; `npm run fuzz`
 * (bench/fuzz.ts) runs many more from a fresh seed. Environment:
 *   RISKGATE_FUZZ_RUNS=<n>     cases over all properties (default 3000), shared out by SHARES
 *   RISKGATE_FUZZ_SEED=<int>   the fast-check seed (default 0x5eed2026)
 *   RISKGATE_FUZZ_PATH=<path>  replay one (shrunk) case of a seed; pick its property with -t
 *   RISKGATE_FUZZ_VERBOSE=1    print statuses per route and the token_* reasons per forgery
 * A failure prints the command that replays its shrunk case, for example
 *   RISKGATE_FUZZ_SEED=1592598566 RISKGATE_FUZZ_PATH=812:3:0 npx vitest run fuzz.test.ts -t "property: lists"
 * Cases follow from the seed; the key material inside token cases and the ids
 * the app hands out are fresh on each run.
 */
import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveContentKey, type DeviceSigner } from '../../client/core/token/build.js';
import type { ServerTokenKey } from '../../shared/jwk.js';
import { CHALLENGE_TYPES, DEFAULT_LEVEL_FLOORS, ERROR_CODES, EVENTS, LIST_DIMENSIONS, LIST_KINDS } from '../../shared/constants.js';
import { EnrollResponse, PuzzleResponse } from '../../shared/enrollment.js';
import {
  ChallengeAnswerResponse,
  ChallengeStartResponse,
  DecisionResponse,
  ErrorBody,
  EvaluateResponse,
  ListEntriesResponse,
  ListEntryResponse,
  SmsSendResponse,
  VerifyResponse,
} from '../../shared/schemas.js';
import { APP_KEY, APP_SECRET, OTHER_APP_KEY, OTHER_APP_SECRET, testApp, type TestApp } from '../support/app.js';
import { controlCharacterTargets, CONTROL_SAMPLES } from '../support/control-chars.js';
import { askPuzzle, enrollBody, post } from '../support/enroll.js';
import { cleanWebSignals, makeToken, newDevice, personBehavior, tokenCrypto } from '../support/tokens.js';

const SEED = envInteger('RISKGATE_FUZZ_SEED') ?? 0x5eed2026;
const RUNS = envInteger('RISKGATE_FUZZ_RUNS') ?? 3000;
const PATH = process.env.RISKGATE_FUZZ_PATH || undefined;
const VERBOSE = Boolean(process.env.RISKGATE_FUZZ_VERBOSE);

/** Each property's share of RUNS: most go where most code is. */
const SHARES = {
  evaluate: 0.28,
  token: 0.2,
  lists: 0.15,
  challenges: 0.13,
  enrollment: 0.07,
  'decisions and keys': 0.07,
  'health, docs, SDK files and unknown routes': 0.04,
  'control characters': 0.03,
  'content types': 0.02,
  'malformed paths': 0.01,
} as const;
type PropertyName = keyof typeof SHARES;

function envInteger(name: string): number | undefined {
  const text = process.env[name];
  if (!text) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new Error(`${name} must be an integer, not ${text}`);
  return n;
}

/** The origin test/support/app.ts allows for APP_KEY (OTHER_APP_KEY allows none). */
const SHOP_ORIGIN = 'https://shop.example';
/** The number the known SMS challenges text (an allowed country, +86). */
const KNOWN_MOBILE = '+8613812345678';

// ---------------------------------------------------------------------------
// Combinators

/** A weighted choice of constants and arbitraries; a failing case shrinks towards the first. */
function pick<T>(...choices: [weight: number, value: T | fc.Arbitrary<T>][]): fc.Arbitrary<T> {
  return fc.oneof({ withCrossShrink: true }, ...choices.map(([weight, value]) => ({ weight, arbitrary: arbitrary(value) })));
}

function arbitrary<T>(value: T | fc.Arbitrary<T>): fc.Arbitrary<T> {
  return value instanceof fc.Arbitrary ? value : fc.constant(value);
}

/** `undefined`, but one time in `oneIn` a value. */
function rarely<T>(values: fc.Arbitrary<T>, oneIn: number): fc.Arbitrary<T | undefined> {
  return pick<T | undefined>([oneIn - 1, undefined], [1, values]);
}

/** The JSON text of each value. */
const json = (values: fc.Arbitrary<unknown>) => values.map((value) => JSON.stringify(value));

// ---------------------------------------------------------------------------
// Text and JSON text (JSON as text, so keys like __proto__ and repeated keys survive as written)

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
const unicodeChar = fc.oneof(...UNICODE_RANGES.map(([min, max]) => fc.integer({ min, max }).map((c) => String.fromCodePoint(c))));
const b64u = (minLength: number, maxLength: number) => fc.string({ unit: fc.constantFrom(...B64U_ALPHABET), minLength, maxLength, size: 'max' });
const hex = (length: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: length, maxLength: length });

/** A random chunk repeated to a length: long strings stay cheap to make and to shrink. */
function repeated(minLength: number, maxLength: number): fc.Arbitrary<string> {
  const chunk = fc.string({ unit: pick<string>([1, fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 })], [1, unicodeChar]), minLength: 1, maxLength: 64 });
  return fc.tuple(chunk, fc.integer({ min: minLength, max: maxLength })).map(([c, length]) => c.repeat(Math.ceil(length / c.length)).slice(0, length));
}

/** Any text: ASCII, special values, any plane with lone surrogates, and lengths around and far past the 1024 bound. */
function anyText(maxLength = 40): fc.Arbitrary<string> {
  return pick<string>(
    [40, fc.string({ unit: 'grapheme-ascii', maxLength, size: 'max' })],
    [15, fc.constantFrom(...SPECIAL_STRINGS)],
    [20, fc.string({ unit: unicodeChar, maxLength, size: 'max' })],
    [5, fc.string({ unit: 'grapheme', maxLength })],
    [10, repeated(100, 1100)],
    [6, repeated(1023, 1026)],
    [4, repeated(2000, 20_000)],
  );
}

/** Printable ASCII plus Latin-1: what survives as an HTTP header value. */
function headerText(maxLength: number): fc.Arbitrary<string> {
  const char = pick<number>([9, fc.integer({ min: 0x20, max: 0x7e })], [1, fc.integer({ min: 0xa0, max: 0xff })]).map((c) => String.fromCharCode(c));
  return fc.string({ unit: char, maxLength, size: 'max' });
}

/** encodeURIComponent refuses lone surrogates; URLs get U+FFFD for them. */
function uri(text: string): string {
  return encodeURIComponent(text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'));
}

const NUMBER_TEXTS = ['0', '-0', '1', '-1', '1.5', '-273.15', '1e308', '-1e308', '1e-320', '5e-324', '9007199254740993', '-9223372036854775808', '123456789012345678901234567890', '1E3', '0.0000001', '100', '101', '4', '5'];
const numberText = pick<string>(
  [6, fc.constantFrom(...NUMBER_TEXTS)],
  [2, fc.integer({ min: -1_000_000, max: 1_000_000 }).map(String)],
  [2, fc.double({ noNaN: true, noDefaultInfinity: true }).map(String)],
);
const KEY_TEXTS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__', '', ' ', 'a', 'event', 'ip', 'black_box', '\u0000', '💥', '键', 'k'.repeat(300)];
const keyText = json(pick<string>([6, fc.constantFrom(...KEY_TEXTS)], [4, anyText(12)]));

/** Any JSON value, as text, nested a few levels. */
const { value: jsonText, object: jsonObjectText } = fc.letrec<{ value: string; array: string; object: string }>((tie) => ({
  value: fc.oneof({ maxDepth: 3, depthIdentifier: 'json' }, fc.constant('null'), fc.constantFrom('true', 'false'), numberText, json(anyText()), tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 60, depthIdentifier: 'json' }).map((items) => `[${items.join(',')}]`),
  object: fc.array(fc.tuple(keyText, tie('value')), { maxLength: 60, depthIdentifier: 'json' }).map((entries) => `{${entries.map(([k, v]) => `${k}:${v}`).join(',')}}`),
}));

/** Arrays or objects nested far past MAX_DETAIL_DEPTH (within the 64 KiB body limit). */
const deepText = fc.tuple(fc.constantFrom(64, 500, 2_000, 10_000, 20_000), fc.constantFrom('arrays', 'objects', 'proto')).map(([depth, shape]) => {
  if (shape === 'arrays') return '['.repeat(depth) + ']'.repeat(depth);
  if (shape === 'objects') return '{"a":'.repeat(Math.min(depth, 10_000)) + '1' + '}'.repeat(Math.min(depth, 10_000));
  return '[{"__proto__":'.repeat(Math.min(depth, 8_000)) + 'null' + '}]'.repeat(Math.min(depth, 8_000));
});

/** JSON text broken in one of many ways. */
function mangled(text: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const how = fc.constantFrom('truncate', 'append', 'bom', 'insert', 'single_quotes', 'nan', 'fragment', 'garbage', 'double_commas', 'flip_bit');
  const INSERTS = ['"', '\\', '\u0000', '/*c*/', ',', ':', 'NaN', 'Infinity', 'undefined', "'"];
  const SUFFIXES = [',', '}', ']', 'x', '\u0000', ' garbage', '{}', '\n{"a":1}'];
  const FRAGMENTS = ['', ' ', '\n', '{', '[', '"', 'nul', 'tru', '{"', '{"event"', '{"event":', '{"event":"login"', '}{', ']'];
  return fc.record({ text, how, at: fc.nat(), choice: fc.nat(), garbage: fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 200 }) }).map(({ text, how, at, choice, garbage }) => {
    const i = at % (text.length + 1);
    switch (how) {
      case 'truncate':
        return text.slice(0, at % Math.max(1, text.length));
      case 'append':
        return text + SUFFIXES[choice % SUFFIXES.length]!;
      case 'bom':
        return `\ufeff${text}`;
      case 'insert':
        return text.slice(0, i) + INSERTS[choice % INSERTS.length]! + text.slice(i);
      case 'single_quotes':
        return text.replace(/"/g, "'");
      case 'nan':
        return text.replace(/:/, ': NaN, "x":');
      case 'fragment':
        return FRAGMENTS[choice % FRAGMENTS.length]!;
      case 'garbage':
        return garbage;
      case 'double_commas':
        return text.replace(/,/g, ',,');
      case 'flip_bit': {
        const j = at % Math.max(1, text.length);
        return text.slice(0, j) + String.fromCharCode((text.charCodeAt(j) || 0) ^ (1 << choice % 7)) + text.slice(j + 1);
      }
    }
  });
}

// ---------------------------------------------------------------------------
// Field values: valid ones (so requests get past validation) and plausible ones that may not be

// Disjoint address pools: fuzzed list entries only ever name FUZZ_IPS, so the
// token cases (TOKEN_IPS) and the final checks never hit a list.
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

const isoAt = (offsetSeconds: number) => new Date(Date.now() + offsetSeconds * 1000).toISOString();
const VALID_EVENT_TIMES = [isoAt(0), isoAt(-600), isoAt(3600), isoAt(0).replace('Z', '+08:00'), '2020-02-29T12:00:00Z'];
const EVENT_TIMES = [
  ...VALID_EVENT_TIMES,
  isoAt(86_400 * 365),
  isoAt(0).replace('Z', '-23:59'),
  isoAt(0).replace(/\.\d+Z$/, 'Z'),
  isoAt(0).replace('Z', '123456789Z'),
  '0000-01-01T00:00:00Z',
  '0000-01-01T00:00:00+23:59',
  '9999-12-31T23:59:59.999999999-23:59',
  '1970-01-01T00:00:00Z',
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
];

/** One field of a JSON body, as JSON text: values that pass validation, and plausible ones that may not. */
interface FieldValues {
  valid: fc.Arbitrary<string>;
  loose: fc.Arbitrary<string>;
}
const values = (valid: fc.Arbitrary<string>, loose: fc.Arbitrary<string> = valid): FieldValues => ({ valid, loose });
const constants = (...texts: string[]) => json(fc.constantFrom(...texts));

/** `field-12`, or something near it. */
function identifier(field: string): FieldValues {
  const label = fc.nat({ max: 49 }).map((n) => `${field}-${n}`);
  return values(json(label), json(pick<string>([7, fc.tuple(label, anyText(8)).map(([a, b]) => a + b)], [3, anyText(60)])));
}

const EVENT_FIELD = values(constants(...EVENTS), json(pick<string>([8, fc.constantFrom(...EVENTS)], [2, fc.constantFrom(...EVENT_VARIANTS)])));

/** Five base64url segments, the shape of a compact JWE, with random content. */
const jweShaped = fc
  .tuple(b64u(0, 300), pick<string>([8, ''], [2, b64u(1, 20)]), pick<string>([2, b64u(16, 16)], [1, b64u(15, 17)], [1, '']), b64u(0, 600), pick<string>([2, b64u(22, 22)], [1, b64u(21, 23)], [1, '']), fc.constantFrom('five', 'six', 'four'))
  .map(([a, b, c, d, e, count]) => (count === 'five' ? [a, b, c, d, e] : count === 'six' ? [a, b, c, d, e, 'AAAA'] : [a, b, c, d]).join('.'));

const detailText = pick<string>([85, jsonObjectText], [8, '{}'], [7, deepText.map((deep) => `{"deep":${deep}}`)]);

const EVALUATE_FIELDS: Record<string, FieldValues> = {
  event: EVENT_FIELD,
  event_time: values(constants(...VALID_EVENT_TIMES), constants(...EVENT_TIMES)),
  account_id: identifier('account_id'),
  session_id: identifier('session_id'),
  black_box: values(json(pick<string>([1, jweShaped], [1, anyText(200).map((s) => `bb-${s}`)])), json(pick<string>([1, jweShaped], [1, anyText(200)]))),
  ip: values(constants(...FUZZ_IPS)),
  user_agent: values(constants(...USER_AGENTS)),
  mobile: values(constants(...MOBILES)),
  email: values(constants(...EMAILS)),
  nickname: identifier('nickname'),
  referer: identifier('referer'),
  ext: values(detailText),
  event_detail: values(detailText),
};

/** List values by dimension, so a near-valid entry names a value of its own dimension. */
const LIST_VALUES: Record<(typeof LIST_DIMENSIONS)[number], fc.Arbitrary<string>> = {
  ip: fc.constantFrom(...FUZZ_IPS),
  device: pick<string>([2, b64u(43, 43)], [1, anyText(80)]),
  account: pick<string>([2, fc.nat({ max: 19 }).map((n) => `acct-${n}`)], [1, anyText(80).map((s) => `v-${s}`)]),
  mobile: fc.constantFrom(...MOBILES),
  email: fc.constantFrom(...EMAILS),
};

function listFields(dimension: (typeof LIST_DIMENSIONS)[number]): Record<string, FieldValues> {
  return {
    list: values(constants(...LIST_KINDS), json(pick<string>([85, fc.constantFrom(...LIST_KINDS)], [15, fc.constantFrom('BLACK', 'grey', '', 'white ', '__proto__')]))),
    dimension: values(constants(dimension), json(pick<string>([85, fc.constantFrom(...LIST_DIMENSIONS)], [15, fc.constantFrom('IP', 'phone', '', 'constructor', 'device ')]))),
    value: values(json(LIST_VALUES[dimension]), json(pick<string>([4, fc.oneof(...Object.values(LIST_VALUES))], [1, anyText(80)]))),
    reason: values(json(pick<string>([1, 'fuzz reason'], [1, anyText(80)]))),
    ttl_seconds: values(fc.constantFrom('1', '60', '3600', '315360000'), fc.constantFrom('1', '60', '0', '-1', '1.5', '315360000', '315360001', '1e308', '"60"', 'null', '9007199254740993')),
  };
}

/**
 * A JSON object over `fields`, as text. Near-valid (half the time): the
 * `required` fields and some others, all valid, then maybe one broken, so most
 * requests get past validation into the handler. Chaos: any of the fields,
 * each plausible or any JSON at all. Either may carry unknown keys, the ones
 * prototype pollution uses among them, and keys that repeat a field.
 */
function objectText(fields: Record<string, FieldValues>, required: readonly string[] = []): fc.Arbitrary<string> {
  const names = Object.keys(fields);
  const entry = (name: string, value: string) => `${JSON.stringify(name)}:${value}`;
  const unknownKeys = (max: number) => fc.array(fc.tuple(keyText, jsonText).map(([k, v]) => `${k}:${v}`), { maxLength: max });
  const nearValid = fc
    .record({
      present: fc.tuple(...names.map((name) => (required.includes(name) ? fields[name]!.valid : rarely(fields[name]!.valid, 2)))),
      broken: rarely(fc.oneof(...names.map((name) => pick<string>([1, fields[name]!.loose], [1, jsonText]).map((value) => [name, value] as const))), 3),
      unknown: pick<string[]>([6, []], [1, unknownKeys(1)]),
    })
    .map(({ present, broken, unknown }) => {
      const parts = names.flatMap((name, i) => {
        const value = broken?.[0] === name ? broken[1] : present[i];
        return value === undefined ? [] : [entry(name, value)];
      });
      if (broken && present[names.indexOf(broken[0])] === undefined) parts.push(entry(...broken));
      return `{${[...parts, ...unknown].join(',')}}`;
    });
  const chaos = fc
    .record({
      present: fc.tuple(...names.map((name) => rarely(pick<string>([7, fields[name]!.loose], [3, jsonText]), 2))),
      unknown: pick<string[]>([7, []], [3, unknownKeys(6)]),
    })
    .map(({ present, unknown }) => `{${[...names.flatMap((name, i) => (present[i] === undefined ? [] : [entry(name, present[i])])), ...unknown].join(',')}}`);
  return pick<string>([1, nearValid], [1, chaos]);
}

/** A body: usually structured, sometimes broken JSON, any JSON, deep nesting, none, or too big. */
function bodyFor(structured: fc.Arbitrary<string>): fc.Arbitrary<string | undefined> {
  return pick<string | undefined>(
    [55, structured],
    [18, mangled(structured)],
    [8, jsonText],
    [5, deepText],
    [3, undefined],
    [3, fc.constantFrom('', ' ', '\n', 'null', '{}', '[]', '0', '""', 'true')],
    [4, fc.constantFrom(40_000, 70_000, 200_000).map((n) => `{"event":"login","ip":"203.0.113.7","nickname":${JSON.stringify('n'.repeat(n))}}`)],
    [4, fc.constantFrom(8_193, 20_000, 66_000).map((n) => `{"event":"login","black_box":${JSON.stringify('b'.repeat(n))}}`)],
  );
}

const evaluateBody = pick<string>([2, objectText(EVALUATE_FIELDS, ['event', 'ip'])], [1, objectText(EVALUATE_FIELDS, ['event', 'black_box'])]);
const listBody = fc.oneof(...LIST_DIMENSIONS.map((dimension) => objectText(listFields(dimension), ['list', 'dimension', 'value'])));

// ---------------------------------------------------------------------------
// Requests: headers, paths and queries

type Method = 'GET' | 'HEAD' | 'POST' | 'DELETE' | 'PUT' | 'PATCH' | 'OPTIONS';

/** One request as sent through `inject`. */
interface Sent {
  method: Method;
  url: string;
  headers: Record<string, string>;
  payload?: string;
  remoteAddress: string;
}

/** Header sets merged, absent ones dropped. */
function headers(...parts: Record<string, string | undefined>[]): Record<string, string> {
  return Object.fromEntries(parts.flatMap((part) => Object.entries(part)).filter((e): e is [string, string] => e[1] !== undefined));
}

/** The Authorization of a server-to-server call: mostly the right secret. */
const secretAuth = pick<string | undefined>(
  [75, `Bearer ${APP_SECRET}`],
  [6, `Bearer ${OTHER_APP_SECRET}`],
  [4, undefined],
  [
    12,
    fc.constantFrom(
      '',
      'Bearer',
      'Bearer ',
      `bearer ${APP_SECRET}`,
      `Bearer  ${APP_SECRET}`,
      `Bearer ${APP_SECRET} `,
      `Bearer ${APP_SECRET.slice(0, -1)}`,
      `Bearer ${APP_SECRET}x`,
      APP_SECRET,
      `Basic ${Buffer.from(`shop:${APP_SECRET}`).toString('base64')}`,
      `Bearer ${APP_KEY}`,
      `Bearer ${'A'.repeat(512)}`,
      `Bearer ${'A'.repeat(513)}`,
      `Bearer ${APP_SECRET}, Bearer ${OTHER_APP_SECRET}`,
    ),
  ],
  [3, headerText(600).map((s) => `Bearer ${s}`)],
  [3, headerText(100)],
);

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
const contentType = pick<string | undefined>([80, 'application/json'], [5, 'application/json; charset=utf-8'], [10, fc.constantFrom(...CONTENT_TYPES)], [2, headerText(60)], [3, undefined]);

/** Now and then other headers the server reads or might trip on. */
const extraHeaders = fc.record({
  'accept-language': rarely(pick<string>([7, fc.constantFrom('zh-CN,zh;q=0.9', 'en', 'fr', '', ' ', 'z', 'zh')], [1, headerText(30)]), 10),
  'x-riskgate-actor': rarely(headerText(200), 20),
  origin: rarely(pick<string>([1, fc.constantFrom(SHOP_ORIGIN, 'null')], [1, headerText(40)]), 33),
  'x-forwarded-for': rarely(fc.constantFrom(...FUZZ_IPS), 50),
  accept: rarely(pick<string>([3, fc.constantFrom('text/html', '*/*', 'application/xml')], [1, headerText(20)]), 50),
});
const secretHeaders = fc.tuple(secretAuth, extraHeaders).map(([authorization, extra]) => headers({ authorization }, extra));

/** The Origin of a browser-facing (SDK) call: mostly the app's own. */
const sdkOrigin = pick<string | undefined>([60, SHOP_ORIGIN], [15, undefined], [10, 'https://evil.example'], [5, 'null'], [5, `${SHOP_ORIGIN}/`], [5, headerText(40)]);
/** Headers of an SDK call: an Origin, now and then a secret (a backend may call these too). */
const sdkHeaders = fc.tuple(sdkOrigin, pick<string | undefined>([85, undefined], [15, secretAuth]), extraHeaders).map(([origin, authorization, extra]) => headers(extra, { origin, authorization }));

/** A JSON body with its content-type, and now and then a content-length that lies. */
function jsonBody(structured: fc.Arbitrary<string>) {
  return fc.record({ payload: bodyFor(structured), type: contentType, skew: rarely(fc.constantFrom(-1, 1, 1000), 50) }).map(({ payload, type, skew }) => ({
    payload,
    headers: headers({ 'content-type': type, 'content-length': payload !== undefined && skew !== undefined ? String(Buffer.byteLength(payload) + skew) : undefined }),
  }));
}

/** The client's address: mostly one, so rate limits are met, and a few others (IPv6, IPv4-mapped). */
const clientAddress = pick<string>([90, '127.0.0.1'], [10, fc.constantFrom('203.0.113.200', '2001:db8:f00::1', '::ffff:192.0.2.55')]);

const queryValue = pick<string>(
  [40, pick<string>([1, fc.constantFrom(...LIST_DIMENSIONS, ...LIST_KINDS, ...FUZZ_IPS, '10', '1000', '1001', '0')], [1, anyText(30)]).map(uri)],
  [15, fc.constantFrom('', '%', '%ZZ', '%E0%A4%A', '%00', '%C0%AF', '%u0041', '+', '%2B', '[]', '[a]=1', '1e3', '0x10', 'Infinity', '-1', '1.5', ' 5 ')],
  [5, fc.constantFrom(1024, 1025, 5000).map((n) => 'v'.repeat(n))],
);

/** A query string for GET /v1/lists (and, now and then, for routes that take none). */
const listQuery = fc
  .record({
    pairs: fc.array(
      fc.tuple(pick<string>([85, fc.constantFrom('dimension', 'value', 'list', 'limit', '__proto__', 'constructor', 'dimension[]', 'value[0]', 'a.b', '')], [15, anyText(10).map(uri)]), pick<string | null>([9, queryValue], [1, null])),
      { maxLength: 5 },
    ),
    separator: pick<string>([19, '&'], [1, ';']),
  })
  .map(({ pairs, separator }) => (pairs.length === 0 ? '' : `?${pairs.map(([key, value]) => (value === null ? key : `${key}=${value}`)).join(separator)}`));

/** A path segment: one the app handed out, random text, a plausible id, broken percent-encoding or too long. */
function pathSegment(known: readonly string[]): fc.Arbitrary<string> {
  return pick<string>(
    [25, known.length > 0 ? fc.constantFrom(...known) : 'none'],
    [25, anyText(70).map(uri)],
    [10, hex(32).map((s) => s.toUpperCase())],
    [5, fc.constantFrom('%', '%ZZ', '%E0%A4%A', '%00', '%2F', '..', '%2e%2e%2f', '.', '%C0%AF', '%uFFFF')],
    [5, fc.constantFrom(63, 64, 65, 1024, 3000).map((n) => 'a'.repeat(n))],
  );
}

/** Ids and values the app handed out before the fuzzing, so cases reach past "not found". */
interface Known {
  listIds: string[];
  sequenceIds: string[];
  /** Challenges started by the backend: sliders, and SMS challenges whose code was not sent yet (each to its own number). */
  sliderIds: string[];
  smsIds: string[];
  challengeTokens: string[];
  sessionIds: string[];
  /** A solved enrollment of a fresh device, not sent: the first valid variant the fuzzing sends enrolls it. */
  enrollment: { app_key: string; puzzle: string; solution: { counter: number; derived_key: string }; public_key: Record<string, string>; proof: string };
}

/** Requests to a route: its method, path, headers and maybe a JSON body, from some client address. */
function requests(
  method: Method | fc.Arbitrary<Method>,
  url: string | fc.Arbitrary<string>,
  head: fc.Arbitrary<Record<string, string>>,
  body: fc.Arbitrary<{ payload: string | undefined; headers: Record<string, string> } | undefined> = fc.constant(undefined),
): fc.Arbitrary<Sent> {
  return fc
    .record({ method: arbitrary(method), url: arbitrary(url), head, body, from: clientAddress })
    .map(({ method, url, head, body, from }) => ({ method, url, headers: { ...head, ...body?.headers }, payload: body?.payload, remoteAddress: from }));
}

const withQuery = (path: string, oneIn: number) => rarely(listQuery, oneIn).map((query) => path + (query ?? ''));

function listRequests(known: Known): fc.Arbitrary<Sent> {
  return pick<Sent>(
    [14, requests('POST', '/v1/lists', secretHeaders, jsonBody(listBody))],
    [12, requests('GET', listQuery.map((query) => `/v1/lists${query}`), secretHeaders, rarely(jsonBody(listBody), 20))],
    [10, requests('DELETE', pathSegment(known.listIds).map((id) => `/v1/lists/${id}`), secretHeaders, rarely(jsonBody(jsonObjectText), 10))],
  );
}

function decisionAndKeyRequests(known: Known): fc.Arbitrary<Sent> {
  const decisionUrl = fc.tuple(pathSegment(known.sequenceIds), withQuery('', 20)).map(([id, query]) => `/v1/decisions/${id}${query}`);
  const anyone = pick<Record<string, string>>([1, extraHeaders.map((extra) => headers(extra))], [1, secretHeaders]);
  return pick<Sent>([10, requests('GET', decisionUrl, secretHeaders)], [6, requests('GET', withQuery('/v1/keys', 3), anyone)]);
}

/** app_key of an SDK call: mostly the app's. */
const APP_KEY_FIELD = values(
  json(fc.constant(APP_KEY)),
  json(pick<string>([6, APP_KEY], [2, OTHER_APP_KEY], [2, fc.constantFrom(APP_KEY.toUpperCase(), ` ${APP_KEY}`, '', APP_SECRET, 'pk_unknown_0000')], [3, anyText(140)])),
);
const knownOr = (known: readonly string[], other: fc.Arbitrary<string>) => (known.length > 0 ? pick<string>([3, fc.constantFrom(...known)], [1, other]) : other);

function challengeRequests(known: Known): fc.Arbitrary<Sent> {
  const startBody = pick<string>(
    [2, objectText({ app_key: APP_KEY_FIELD, challenge_token: values(json(knownOr(known.challengeTokens, b64u(16, 32))), json(anyText(130))) }, ['app_key', 'challenge_token'])],
    [2, objectText({ app_key: APP_KEY_FIELD, type: values(constants('slider'), constants('sms', 'SLIDER', '', 'block')), event: EVENT_FIELD }, ['app_key', 'type'])],
    [
      3,
      objectText(
        {
          type: values(constants(...CHALLENGE_TYPES), constants('block', 'SMS', '', 'none')),
          event: EVENT_FIELD,
          account_id: identifier('account_id'),
          mobile: values(constants(KNOWN_MOBILE, '13800138001', '+1 415 555 0100'), constants(...MOBILES)),
        },
        ['type', 'event'],
      ),
    ],
  );

  const point = pick<number>([3, fc.integer({ min: -10, max: 3000 })], [1, fc.double()]);
  const track = pick<string>([10, json(fc.array(fc.tuple(point, point, point), { maxLength: 30 }))], [1, fc.constant(JSON.stringify(Array.from({ length: 1001 }, (_, i) => [i, i, 0])))]);
  const pow = json(fc.record({ counter: pick<number>([3, fc.nat()], [1, fc.double()]), derived_key: pick<string>([3, hex(64)], [1, anyText(300)]) }, { requiredKeys: [] }));
  const answerBody = pick<string>(
    [3, objectText({ app_key: APP_KEY_FIELD, x: values(fc.integer({ min: 0, max: 400 }).map(String), numberText), track: values(track, jsonText), pow: values(pow, jsonText) }, ['app_key', 'x', 'track'])],
    [2, objectText({ app_key: APP_KEY_FIELD, code: values(json(fc.stringMatching(/^\d{6}$/)), constants('12345', '1234567', 'abcdef', '１２３４５６', ' 123456', '12345\u0000')) }, ['app_key', 'code'])],
  );

  const verifyBody = objectText(
    {
      session_id: values(json(knownOr(known.sessionIds, b64u(24, 24))), json(anyText(130))),
      account_id: identifier('account_id'),
      event: EVENT_FIELD,
      sequence_id: values(json(knownOr(known.sequenceIds, hex(32).map((s) => s.toUpperCase()))), json(pick<string>([1, hex(32)], [1, anyText(40)]))),
      min_type: values(constants(...CHALLENGE_TYPES), constants('block', 'SMS', '', 'none')),
    },
    ['session_id'],
  );

  return pick<Sent>(
    [30, requests('POST', '/v1/challenges', pick<Record<string, string>>([1, sdkHeaders], [1, secretHeaders]), jsonBody(startBody))],
    [25, requests('POST', pathSegment([...known.sliderIds, ...known.smsIds]).map((id) => `/v1/challenges/${id}/answer`), sdkHeaders, jsonBody(answerBody))],
    [15, requests('POST', pathSegment(known.smsIds).map((id) => `/v1/challenges/${id}/sms`), sdkHeaders, jsonBody(objectText({ app_key: APP_KEY_FIELD }, ['app_key'])))],
    [20, requests('POST', '/v1/challenges/verify', secretHeaders, jsonBody(verifyBody))],
    [10, preflights],
  );
}

/** CORS preflights of the SDK routes. */
const preflights = requests(
  'OPTIONS',
  pick<string>([4, fc.constantFrom('/v1/challenges', '/v1/challenges/verify', '/v1/challenges/abcdefgh/answer', '/v1/devices/puzzle', '/v1/devices/enroll')], [1, anyText(20).map((s) => `/v1/devices/${uri(s)}`)]),
  fc.tuple(sdkOrigin, rarely(fc.constantFrom('POST', 'GET', 'DELETE'), 2)).map(([origin, method]) => headers({ origin, 'access-control-request-method': method })),
);

function enrollmentRequests(known: Known, otherDevice: DeviceSigner): fc.Arbitrary<Sent> {
  const real = known.enrollment;
  const flipped = (text: string) => fc.nat().map((at) => text.slice(0, at % text.length) + (text[at % text.length] === 'A' ? 'B' : 'A') + text.slice((at % text.length) + 1));
  const { kty, crv, x, y } = otherDevice.publicKey;
  const enroll = objectText(
    {
      app_key: APP_KEY_FIELD,
      puzzle: values(json(fc.constant(real.puzzle)), json(pick<string>([2, flipped(real.puzzle)], [1, b64u(1, 400)], [1, anyText(300)]))),
      solution: values(
        json(fc.constant(real.solution)),
        json(fc.record({ counter: pick<number>([2, fc.constantFrom(real.solution.counter + 1, 0, 0xffffffff, 0x100000000, -1)], [1, fc.double()]), derived_key: pick<string>([2, fc.constant(real.solution.derived_key)], [2, hex(64)], [1, anyText(130)]) }, { requiredKeys: [] })),
      ),
      public_key: values(
        json(fc.constant(real.public_key)),
        json(pick<unknown>([2, { kty, crv, x, y }], [1, { ...real.public_key, crv: 'P-384' }], [1, { ...real.public_key, x: 'AAAA' }], [1, fc.record({ kty: fc.constantFrom('EC', 'OKP', 'RSA'), crv: fc.constantFrom('P-256', 'X25519'), x: b64u(0, 70), y: b64u(0, 70) })])),
      ),
      proof: values(json(fc.constant(real.proof)), json(pick<string>([2, flipped(real.proof)], [1, b64u(0, 130)]))),
    },
    ['app_key', 'puzzle', 'solution', 'public_key', 'proof'],
  );
  return pick<Sent>(
    [2, requests('POST', '/v1/devices/puzzle', sdkHeaders, jsonBody(objectText({ app_key: APP_KEY_FIELD }, ['app_key'])))],
    [5, requests('POST', '/v1/devices/enroll', sdkHeaders, jsonBody(enroll))],
    [1, preflights],
  );
}

const OTHER_PATHS = [
  '/healthz',
  '/readyz',
  '/metrics',
  '/v1/keys',
  '/sdk/riskgate.min.js',
  '/sdk/riskgate.mjs',
  '/sdk/riskgate-challenge.min.js',
  '/sdk/riskgate.js',
  '/sdk/%2e%2e%2fpackage.json',
  '/sdk/..%2F..%2Fpackage.json',
  '/docs',
  '/docs/json',
  '/docs/yaml',
  '/docs/static/index.html',
  '/docs/static/%2e%2e/%2e%2e/package.json',
  '/',
  '/v1',
  '/v1/',
  '/v1/lists/',
  '/v1/decisions',
  '/v1/decisions/',
  '/v1/risk/evaluate',
  '/v1/challenges',
  '/v1/challenges/verify',
  '/v1/devices/enroll',
  '/demo/',
  '/favicon.ico',
];

/** Health, metrics, docs, SDK files, and every method on routes that do not take it. */
const otherRequests = requests(
  pick<Method>([40, 'GET'], [10, 'HEAD'], [10, 'POST'], [10, 'PUT'], [10, 'DELETE'], [10, 'PATCH'], [10, 'OPTIONS']),
  fc.tuple(pick<string>([80, fc.constantFrom(...OTHER_PATHS)], [15, pathSegment([]).map((s) => `/${s}`)], [5, anyText(20).map((s) => `/sdk/${uri(s)}`)]), withQuery('', 10)).map(([path, query]) => path + query),
  fc.tuple(pick<string | undefined>([60, undefined], [40, secretAuth]), extraHeaders, rarely(pick<string>([1, '*'], [1, headerText(40)]), 5)).map(([authorization, extra, etag]) => headers(extra, { authorization, 'if-none-match': etag })),
  rarely(jsonBody(evaluateBody), 4),
);

// ---------------------------------------------------------------------------
// Black-box forgeries: a recipe (what fast-check generates and shrinks), then the token it makes

const b64uJson = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
const utf8 = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'));

interface TokenMaterial {
  serverKey: ServerTokenKey;
  devices: DeviceSigner[];
  /** Real, valid tokens for APP_KEY; never sent unmodified, so they stay fresh bases. */
  bases: string[];
}
const BASES = 16;
const DEVICES = 6;

/** A compact JWE around any plaintext, encrypted for the real server key: lets the inner JWS be forged. */
async function seal(serverKey: ServerTokenKey, plaintext: Uint8Array): Promise<string> {
  const { sharedSecret, ephemeralKey } = await tokenCrypto.agree(serverKey);
  const contentKey = await deriveContentKey(tokenCrypto, sharedSecret);
  const header = b64uJson({ alg: 'ECDH-ES', enc: 'A256GCM', kid: serverKey.kid, epk: ephemeralKey });
  const iv = tokenCrypto.randomBytes(12);
  const sealed = await tokenCrypto.aesGcmEncrypt(contentKey, iv, plaintext, utf8(header));
  const b = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
  return `${header}..${b(iv)}.${b(sealed.subarray(0, sealed.length - 16))}.${b(sealed.subarray(sealed.length - 16))}`;
}

/** A complete, valid payload for APP_KEY, as the web SDK writes it. */
function fullPayload(patch: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    v: 1,
    app: APP_KEY,
    jti: randomBytes(16).toString('base64url'),
    iat: Math.floor(Date.now() / 1000),
    platform: 'web',
    sdk: 'fuzz/1',
    degraded: false,
    signals: cleanWebSignals(),
    behavior: personBehavior(),
    ...patch,
  };
}

async function signJws(device: DeviceSigner, header: Record<string, unknown>, payloadSegment: string): Promise<string> {
  const input = `${b64uJson(header)}.${payloadSegment}`;
  return `${input}.${Buffer.from(await device.sign(utf8(input))).toString('base64url')}`;
}

/** Flips one bit of one decoded byte of a base64url segment (always changes what it decodes to). */
function flipSegment(segment: string, at: number, bit: number): string {
  const bytes = Buffer.from(segment, 'base64url');
  if (bytes.length === 0) return Buffer.from([1 << bit]).toString('base64url');
  bytes[at % bytes.length]! ^= 1 << bit;
  return bytes.toString('base64url');
}

const offCurve = () => randomBytes(32).toString('base64url');

function otherCurveJwk(curve: 'P-384' | 'P-521' | 'secp256k1'): Record<string, unknown> {
  const jwk = generateKeyPairSync('ec', { namedCurve: curve }).publicKey.export({ format: 'jwk' });
  return { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y };
}

const HEADER_VARIANTS = [
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
] as const;
const INNER_VARIANTS = [
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
  'payload_v2',
  'payload_out_of_bounds',
  'payload_array',
  'payload_not_json',
  'app_other',
  'iat_future',
  'iat_past',
] as const;
const REAL_VARIANTS = ['extra_segment', 'missing_segment', 'encrypted_key', 'inner_space', 'padding', 'too_large', 'doubled'] as const;

/** Payload fields with a value of the wrong type fail the token (token_payload_invalid), whatever the value. */
const PAYLOAD_FIELDS: readonly [path: string, fits: (value: unknown) => boolean][] = [
  ['v', (v) => v === 1],
  ['app', (v) => typeof v === 'string'],
  ['jti', (v) => typeof v === 'string'],
  ['iat', (v) => Number.isInteger(v) && (v as number) > 0],
  ['platform', (v) => v === 'web' || v === 'wechat'],
  ['sdk', (v) => typeof v === 'string'],
  ['degraded', (v) => typeof v === 'boolean'],
  ['signals', (v) => typeof v === 'object' && v !== null && !Array.isArray(v)],
  ['behavior', (v) => typeof v === 'object' && v !== null && !Array.isArray(v)],
  ['signals.visitor_id', (v) => typeof v === 'string'],
  ['signals.languages', (v) => Array.isArray(v) && v.every((s) => typeof s === 'string')],
  ['signals.screen', (v) => typeof v === 'object' && v !== null && !Array.isArray(v)],
  ['signals.screen.width', (v) => typeof v === 'number'],
  ['signals.automation.webdriver', (v) => typeof v === 'boolean'],
  ['signals.automation.automation_globals', (v) => Array.isArray(v) && v.every((s) => typeof s === 'string')],
  ['signals.lies', (v) => Array.isArray(v) && v.every((s) => typeof s === 'string')],
  ['behavior.clicks', (v) => Number.isInteger(v) && (v as number) >= 0],
  ['behavior.dwell_ms', (v) => typeof v === 'number' && v >= 0],
];

const index = (n: number) => fc.nat({ max: n - 1 });
const tokenRecipes = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('random_string' as const), token: anyText(2000) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('random_b64u' as const), token: jweShaped }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('real_header' as const), base: index(BASES), iv: b64u(16, 16), ciphertext: b64u(1, 400), tag: b64u(22, 22) }) },
  { weight: 14, arbitrary: fc.record({ kind: fc.constant('flipped' as const), base: index(BASES), segments: pick<number[]>([4, fc.integer({ min: 0, max: 4 }).map((i) => [i])], [1, [0, 1, 2, 3, 4]]), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('swapped' as const), base: index(BASES), other: index(BASES - 1), mask: fc.integer({ min: 1, max: 14 }) }) },
  { weight: 12, arbitrary: fc.record({ kind: fc.constant('header' as const), base: index(BASES), variant: fc.constantFrom(...HEADER_VARIANTS), choice: fc.nat() }) },
  { weight: 20, arbitrary: fc.record({ kind: fc.constant('inner' as const), device: index(DEVICES), other: index(DEVICES - 1), variant: fc.constantFrom(...INNER_VARIANTS), choice: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('inner_binary' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 300 }) }) },
  {
    weight: 8,
    arbitrary: fc.oneof(
      ...PAYLOAD_FIELDS.map(([path, fits]) => fc.record({ kind: fc.constant('payload_mutated' as const), device: index(DEVICES), path: fc.constant(path), value: fc.jsonValue({ maxDepth: 2 }).filter((v) => !fits(v)) })),
    ),
  },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('truncated' as const), base: index(BASES), cut: fc.nat() }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('real_variant' as const), base: index(BASES), variant: fc.constantFrom(...REAL_VARIANTS) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('replayed' as const), device: index(DEVICES) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('app_mismatch' as const), device: index(DEVICES) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('clock' as const), device: index(DEVICES), issuedAt: fc.constantFrom('hour_ago', 'in_an_hour', 'epoch') }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('unknown_key' as const), device: index(DEVICES), sameKid: fc.boolean() }) },
);
type TokenRecipe = typeof tokenRecipes extends fc.Arbitrary<infer T> ? T : never;

/** What a recipe is called in reports: its kind and variant. */
const recipeName = (recipe: TokenRecipe) => ('variant' in recipe ? `${recipe.kind}.${recipe.variant}` : 'path' in recipe ? `${recipe.kind}.${recipe.path}` : recipe.kind);

/** The token a recipe makes; `replay` when it is to be sent twice. */
async function forge(recipe: TokenRecipe, material: TokenMaterial): Promise<{ token: string; replay?: boolean }> {
  const { serverKey, devices, bases } = material;
  const parts = 'base' in recipe ? bases[recipe.base]!.split('.') : [];
  const device = 'device' in recipe ? devices[recipe.device]! : devices[0]!;
  switch (recipe.kind) {
    case 'random_string':
      // At most 9,000 characters (past the 8,192 token bound), so even \u-escaped the body stays under 64 KiB.
      return { token: /\S/.test(recipe.token) ? recipe.token.slice(0, 9000) : `${recipe.token}x` };
    case 'random_b64u':
      return { token: recipe.token || 'x' };
    case 'real_header':
      return { token: [parts[0], '', recipe.iv, recipe.ciphertext, recipe.tag].join('.') };
    case 'flipped': {
      // One segment, or every segment at once; segment 1 (the empty encrypted key) gains content.
      const out = [...parts];
      for (const i of recipe.segments) out[i] = flipSegment(out[i]!, recipe.at, recipe.bit);
      return { token: out.join('.') };
    }
    case 'swapped': {
      // Of the four non-empty segments (0, 2, 3, 4), those in `mask` come from another token: some, never all (that is a valid token).
      const second = bases[(recipe.base + 1 + recipe.other) % BASES]!.split('.');
      return { token: parts.map((p, i) => (i !== 1 && recipe.mask & (1 << (i === 0 ? 0 : i - 1)) ? second[i]! : p)).join('.') };
    }
    case 'header':
      return { token: [forgedHeader(parts[0]!, recipe.variant, recipe.choice), ...parts.slice(1)].join('.') };
    case 'inner':
      return { token: await seal(serverKey, utf8(await forgedJws(device, devices[(recipe.device + 1 + recipe.other) % DEVICES]!, recipe.variant, recipe.choice))) };
    case 'inner_binary':
      return { token: await seal(serverKey, recipe.bytes) };
    case 'payload_mutated': {
      const payload = fullPayload();
      const keys = recipe.path.split('.');
      let node = payload;
      for (const key of keys.slice(0, -1)) node = node[key] as Record<string, unknown>;
      node[keys[keys.length - 1]!] = recipe.value;
      return { token: await seal(serverKey, utf8(await signJws(device, { alg: 'ES256', jwk: device.publicKey }, b64uJson(payload)))) };
    }
    case 'truncated': {
      const base = bases[recipe.base]!;
      return { token: base.slice(0, 1 + (recipe.cut % (base.length - 1))) };
    }
    case 'real_variant': {
      const base = bases[recipe.base]!;
      const token = {
        extra_segment: () => `${base}.AAAA`,
        missing_segment: () => parts.filter((_, i) => i !== 1).join('.'),
        encrypted_key: () => [parts[0], 'AAAA', ...parts.slice(2)].join('.'),
        inner_space: () => `${base.slice(0, 40)} ${base.slice(40)}`,
        padding: () => [parts[0], '', `${parts[2]}=`, parts[3], parts[4]].join('.'),
        too_large: () => `${parts[0]}..${parts[2]}.${parts[3]}${'A'.repeat(8200)}.${parts[4]}`,
        doubled: () => `${base}${base}`,
      }[recipe.variant]();
      return { token };
    }
    case 'replayed':
      return { token: await makeToken({ serverKey, appKey: APP_KEY, device }), replay: true };
    case 'app_mismatch':
      return { token: await makeToken({ serverKey, appKey: OTHER_APP_KEY, device }) };
    case 'clock': {
      const now = Math.floor(Date.now() / 1000);
      return { token: await makeToken({ serverKey, appKey: APP_KEY, device, issuedAt: { hour_ago: now - 3600, in_an_hour: now + 3600, epoch: 1 }[recipe.issuedAt] }) };
    }
    case 'unknown_key': {
      // Encrypted for a key the server never had, under its real kid or another.
      const foreign = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
      const kid = recipe.sameKid ? serverKey.kid : 'retired-or-unknown';
      return { token: await makeToken({ serverKey: { kty: 'EC', crv: 'P-256', x: foreign.x!, y: foreign.y!, kid }, appKey: APP_KEY, device }) };
    }
  }
}

/** The protected header of a real token, changed: each change breaks decryption or is refused before it. */
function forgedHeader(segment: string, variant: (typeof HEADER_VARIANTS)[number], choice: number): string {
  const header = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as Record<string, unknown>;
  const epk = header.epk as Record<string, unknown>;
  const { alg: _alg, ...noAlg } = header;
  const { epk: _epk, ...noEpk } = header;
  const { kid: _kid, ...noKid } = header;
  const patched: Record<(typeof HEADER_VARIANTS)[number], () => unknown> = {
    alg_none: () => ({ ...header, alg: 'none' }),
    alg_hs256: () => ({ ...header, alg: 'HS256' }),
    alg_kw: () => ({ ...header, alg: 'ECDH-ES+A256KW' }),
    alg_missing: () => noAlg,
    enc_a128: () => ({ ...header, enc: 'A128GCM' }),
    enc_cbc: () => ({ ...header, enc: 'A256CBC-HS512' }),
    epk_p384: () => ({ ...header, epk: otherCurveJwk('P-384') }),
    epk_p521: () => ({ ...header, epk: otherCurveJwk('P-521') }),
    epk_secp256k1: () => ({ ...header, epk: otherCurveJwk('secp256k1') }),
    // A point of another 256-bit curve labelled P-256: not on P-256 (invalid-curve attack).
    epk_secp256k1_as_p256: () => ({ ...header, epk: { ...otherCurveJwk('secp256k1'), crv: 'P-256' } }),
    epk_missing: () => noEpk,
    epk_null: () => ({ ...header, epk: null }),
    epk_string: () => ({ ...header, epk: 'epk' }),
    epk_off_curve: () => ({ ...header, epk: { ...epk, x: offCurve(), y: offCurve() } }),
    epk_zero: () => ({ ...header, epk: { ...epk, x: Buffer.alloc(32).toString('base64url'), y: Buffer.alloc(32).toString('base64url') } }),
    epk_with_d: () => ({ ...header, epk: { ...epk, d: offCurve() } }),
    epk_short_x: () => ({ ...header, epk: { ...epk, x: String(epk.x).slice(0, 42) } }),
    epk_kty_okp: () => ({ ...header, epk: { ...epk, kty: 'OKP', crv: 'X25519' } }),
    kid_missing: () => noKid,
    kid_number: () => ({ ...header, kid: 1 }),
    kid_unknown: () => ({ ...header, kid: 'no-such-key' }),
    kid_proto: () => ({ ...header, kid: ['__proto__', 'constructor', 'toString', ''][choice % 4] }),
    zip: () => ({ ...header, zip: 'DEF' }),
    crit: () => ({ ...header, crit: ['exp'], exp: 1 }),
    apu: () => ({ ...header, apu: 'QWxpY2U', apv: 'Qm9i' }),
    array: () => [header],
    not_json: () => undefined,
    proto_key: () => undefined,
  };
  if (variant === 'not_json') return Buffer.from(JSON.stringify(header).slice(0, -1)).toString('base64url');
  if (variant === 'proto_key') return Buffer.from(`{"__proto__":{"alg":"ECDH-ES"},${JSON.stringify(header).slice(1)}`).toString('base64url');
  return b64uJson(patched[variant]());
}

/** Payload changes of the right type but out of bounds (the wrong types are payload_mutated's). */
const OUT_OF_BOUNDS: Record<string, unknown>[] = [
  { jti: 'short' },
  { jti: 'j'.repeat(129) },
  { iat: 1.5 },
  { iat: -1 },
  { iat: 0 },
  { sdk: 'x'.repeat(65) },
  { signals: { ...cleanWebSignals(), visitor_id: 'v'.repeat(513), lies: Array.from({ length: 65 }, (_, i) => `lie${i}`) } },
  { behavior: { ...personBehavior(), clicks: -5 } },
  { behavior: { ...personBehavior(), pointer_moves: 1.5 } },
  { app: OTHER_APP_KEY, signals: { lies: 'x'.repeat(3000), automation: [1, 2] }, behavior: { clicks: -5 } },
];

/** An inner JWS with a complete, valid payload but for what the variant breaks. */
async function forgedJws(device: DeviceSigner, other: DeviceSigner, variant: (typeof INNER_VARIANTS)[number], choice: number): Promise<string> {
  const jwk = device.publicKey;
  const payloadSegment = b64uJson(fullPayload());
  const es256 = (payload: string, header: Record<string, unknown> = { alg: 'ES256', jwk }) => signJws(device, header, payload);
  switch (variant) {
    case 'alg_none':
      return `${b64uJson({ alg: 'none', jwk })}.${payloadSegment}.`;
    case 'alg_none_no_jwk':
      return `${b64uJson({ alg: 'none' })}.${payloadSegment}.`;
    case 'alg_None':
      return `${b64uJson({ alg: 'None', jwk })}.${payloadSegment}.${randomBytes(64).toString('base64url')}`;
    case 'hs256':
    case 'hs512': {
      // The classic confusion: HMAC with the public key as the secret.
      const alg = variant === 'hs256' ? 'HS256' : 'HS512';
      const input = `${b64uJson({ alg, jwk })}.${payloadSegment}`;
      return `${input}.${createHmac(alg === 'HS256' ? 'sha256' : 'sha512', JSON.stringify(jwk)).update(input).digest('base64url')}`;
    }
    case 'wrong_signer':
      return signJws(other, { alg: 'ES256', jwk }, payloadSegment);
    case 'payload_changed': {
      const signed = (await es256(payloadSegment)).split('.');
      return `${signed[0]}.${b64uJson(fullPayload({ sdk: 'tampered' }))}.${signed[2]}`;
    }
    case 'es384_label':
      return es256(payloadSegment, { alg: 'ES384', jwk });
    case 'es256k_label':
      return es256(payloadSegment, { alg: 'ES256K', jwk });
    case 'jwk_with_d':
      return es256(payloadSegment, { alg: 'ES256', jwk: { ...jwk, d: offCurve() } });
    case 'jwk_p384':
      return es256(payloadSegment, { alg: 'ES256', jwk: otherCurveJwk('P-384') });
    case 'jwk_off_curve':
      return es256(payloadSegment, { alg: 'ES256', jwk: { ...jwk, y: offCurve() } });
    case 'sig_der': {
      const [h, p, s] = (await es256(payloadSegment)).split('.') as [string, string, string];
      const raw = Buffer.from(s, 'base64url');
      const int = (b: Buffer) => (b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
      const r = int(raw.subarray(0, 32));
      const t = int(raw.subarray(32));
      const der = Buffer.concat([Buffer.from([0x30, r.length + t.length + 4, 2, r.length]), r, Buffer.from([2, t.length]), t]);
      return `${h}.${p}.${der.toString('base64url')}`;
    }
    case 'sig_zero':
      return `${b64uJson({ alg: 'ES256', jwk })}.${payloadSegment}.${Buffer.alloc(64).toString('base64url')}`;
    case 'sig_empty':
      return `${b64uJson({ alg: 'ES256', jwk })}.${payloadSegment}.`;
    case 'crit':
      return es256(payloadSegment, { alg: 'ES256', jwk, crit: ['b64'], b64: false });
    case 'two_parts':
      return `${b64uJson({ alg: 'ES256', jwk })}.${payloadSegment}`;
    case 'four_parts':
      return `${await es256(payloadSegment)}.extra`;
    case 'empty':
      return '';
    case 'payload_v2':
      return es256(b64uJson(fullPayload({ v: 2 })));
    case 'payload_out_of_bounds':
      return es256(b64uJson(fullPayload(OUT_OF_BOUNDS[choice % OUT_OF_BOUNDS.length])));
    case 'payload_array':
      return es256(b64uJson([fullPayload()]));
    case 'payload_not_json':
      return es256(Buffer.from('{"v":1,').toString('base64url'));
    case 'app_other':
      return es256(b64uJson(fullPayload({ app: OTHER_APP_KEY })));
    case 'iat_future':
      return es256(b64uJson(fullPayload({ iat: Math.floor(Date.now() / 1000) + [3600, 86_400 * 365 * 100][choice % 2]! })));
    case 'iat_past':
      return es256(b64uJson(fullPayload({ iat: [1, Math.floor(Date.now() / 1000) - 3600][choice % 2]! })));
  }
}

/** What a token travels in: an evaluate call, near the ones a backend makes. */
const tokenEnvelopes = fc.record({
  event: fc.constantFrom(...EVENTS),
  ip: pick<string | undefined>([6, fc.constantFrom(...TOKEN_IPS)], [4, undefined]),
  user_agent: rarely(fc.constantFrom(...USER_AGENTS), 3),
  event_time: rarely(fc.constant(isoAt(0)), 5),
  language: rarely(fc.constant('zh-CN'), 5),
});

type TokenEnvelope = typeof tokenEnvelopes extends fc.Arbitrary<infer T> ? T : never;

function evaluateWithToken(token: string, { language, ...fields }: Partial<TokenEnvelope> & Pick<TokenEnvelope, 'event'>): Sent {
  return {
    method: 'POST',
    url: '/v1/risk/evaluate',
    headers: headers({ authorization: `Bearer ${APP_SECRET}`, 'content-type': 'application/json', 'accept-language': language }),
    payload: JSON.stringify({ ...fields, black_box: token }),
    remoteAddress: '127.0.0.1',
  };
}

// ---------------------------------------------------------------------------
// Checking answers against the contract

const ERROR_BY_CODE = new Map<number, (typeof ERROR_CODES)[keyof typeof ERROR_CODES]>(Object.values(ERROR_CODES).map((e) => [e.code, e]));

/** A stack frame or a source path: `at fn (/x/y.js:1:2)`, `at file:///…`, `node_modules/`, `server/…ts:12`. */
const STACK_TRACE = /\bat (?:\S+ )?\(?(?:file:\/\/|node:|\/|[A-Za-z]:\\)[^\s)]*:\d+|\bat \S+ \([^)]*:\d+:\d+\)|node_modules[\\/]|\/work\/|\b[\w-]+\.(?:ts|js|mjs|cjs):\d+:\d+/;

function levelOf(score: number): number {
  for (let level = 4; level > 0; level--) if (score >= DEFAULT_LEVEL_FLOORS[level]!) return level;
  return 0;
}

/** A masked identifier shows at most 7 characters of the value around its stars. */
const isMasked = (value: string, stars: string) => value.includes(stars) && Array.from(value.replace(/\*/g, '')).length <= 7;

/** The route a request is for, as the checks and the tallies name it. */
function routeOf(request: Sent): string {
  const path = request.url.split('?')[0]!;
  if (request.method === 'OPTIONS' && /^\/v1\/(challenges|devices\/)/.test(path)) return 'preflight';
  const routes: [Method, RegExp, string][] = [
    ['POST', /^\/v1\/risk\/evaluate$/, 'evaluate'],
    ['POST', /^\/v1\/lists$/, 'lists.add'],
    ['GET', /^\/v1\/lists$/, 'lists.find'],
    ['DELETE', /^\/v1\/lists\/[^/]+$/, 'lists.delete'],
    ['GET', /^\/v1\/decisions\/[^/]+$/, 'decisions.get'],
    ['GET', /^\/v1\/keys$/, 'keys'],
    ['POST', /^\/v1\/challenges$/, 'challenges.start'],
    ['POST', /^\/v1\/challenges\/verify$/, 'challenges.verify'],
    ['POST', /^\/v1\/challenges\/[^/]+\/answer$/, 'challenges.answer'],
    ['POST', /^\/v1\/challenges\/[^/]+\/sms$/, 'challenges.sms'],
    ['POST', /^\/v1\/devices\/puzzle$/, 'devices.puzzle'],
    ['POST', /^\/v1\/devices\/enroll$/, 'devices.enroll'],
    ['GET', /^\/healthz$/, 'healthz'],
    ['GET', /^\/readyz$/, 'readyz'],
    ['GET', /^\/metrics$/, 'metrics'],
    ['GET', /^\/sdk\/[^/]+$/, 'sdk'],
    ['GET', /^\/docs(\/|$)/, 'docs'],
  ];
  return routes.find(([method, pattern]) => (method === request.method || (method === 'GET' && request.method === 'HEAD')) && pattern.test(path))?.[2] ?? 'other';
}

const SUCCESS_SHAPES = {
  evaluate: EvaluateResponse,
  'lists.add': ListEntryResponse,
  'lists.find': ListEntriesResponse,
  'decisions.get': DecisionResponse,
  'challenges.start': ChallengeStartResponse,
  'challenges.answer': ChallengeAnswerResponse,
  'challenges.sms': SmsSendResponse,
  'challenges.verify': VerifyResponse,
  'devices.puzzle': PuzzleResponse,
  'devices.enroll': EnrollResponse,
} as const;

/** Problems with one answer, as short stable strings. `expectDecision`: the request carried a forged or broken black_box. */
function contractProblems(request: Sent, response: LightMyRequestResponse, expectDecision = false): string[] {
  const problems: string[] = [];
  const status = response.statusCode;
  const route = routeOf(request);
  const contentType = String(response.headers['content-type'] ?? '');
  if (status >= 500) problems.push(`status ${status}`);
  const leak = STACK_TRACE.exec(response.body);
  if (leak && !`${request.url}\n${JSON.stringify(request.headers)}\n${request.payload ?? ''}`.includes(leak[0])) problems.push(`stack trace or source path in body: ${leak[0]}`);
  // CORS only for the origins an app allows, or for anyone on the public routes.
  const allowOrigin = response.headers['access-control-allow-origin'];
  if (allowOrigin !== undefined && !(allowOrigin === '*' ? route === 'keys' || route === 'sdk' : allowOrigin === request.headers.origin && allowOrigin === SHOP_ORIGIN)) {
    problems.push(`access-control-allow-origin ${String(allowOrigin)} for origin ${request.headers.origin}`);
  }

  // Answers that are not JSON by design.
  if (request.method === 'HEAD') return response.body === '' ? problems : [...problems, 'HEAD answered with a body'];
  if (route === 'preflight' && status === 204) return response.body === '' && allowOrigin === SHOP_ORIGIN ? problems : [...problems, 'preflight without CORS for an allowed origin'];
  if (route === 'sdk' && (status === 304 || (status === 200 && contentType.startsWith('application/javascript')))) return problems;
  if (route === 'metrics' && status === 200) return contentType.startsWith('text/plain') ? problems : [...problems, `metrics content-type ${contentType}`];
  if (route === 'docs' && status < 400) return problems;

  if (!contentType.startsWith('application/json')) problems.push(`content-type ${contentType}`);
  let body: unknown;
  try {
    body = JSON.parse(response.body);
  } catch {
    return [...problems, 'body is not JSON'];
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return [...problems, 'body is not a JSON object'];
  const record = body as Record<string, unknown>;

  // The 200s without code/message: a plain JWK Set (SDKs and jose read it as is) and the health probes.
  if (status === 200 && route === 'keys') {
    const keys = record.keys;
    if (!Array.isArray(keys) || keys.length === 0) problems.push('keys: no keys');
    else if (!keys.every((k: Record<string, unknown>) => k.kty === 'EC' && k.crv === 'P-256' && typeof k.kid === 'string' && k.d === undefined)) problems.push('keys: bad JWK');
    return problems;
  }
  if (status === 200 && (route === 'healthz' || route === 'readyz')) return record.status === (route === 'healthz' ? 'ok' : 'ready') ? problems : [...problems, `${route} status ${String(record.status)}`];

  if (typeof record.code !== 'number') return [...problems, `code is ${typeof record.code === 'string' ? `the string "${record.code}"` : typeof record.code}, not a number`];
  if (typeof record.message !== 'string') problems.push('message is not a string');

  if (status !== 200) {
    const parsed = ErrorBody.safeParse(body);
    if (!parsed.success) problems.push(`error body: ${parsed.error.issues[0]?.message}`);
    const entry = ERROR_BY_CODE.get(record.code);
    if (!entry) problems.push(`code ${record.code} is not in ERROR_CODES`);
    else {
      if (record.error !== entry.name) problems.push(`error name ${String(record.error)} does not match code ${record.code}`);
      if (status !== entry.status && !(entry.name === 'FIELD_TOO_LONG' && status === 413)) problems.push(`status ${status} with code ${record.code}`);
    }
    if (expectDecision) problems.push(`token case answered ${status} ${record.code}, not a decision`);
    return problems;
  }

  if (record.code !== 200) problems.push(`status 200 with code ${record.code}`);
  if (route === 'lists.delete') return record.message === 'deleted' ? problems : [...problems, `delete 200 message ${String(record.message)}`];
  if (!(route in SUCCESS_SHAPES)) return [...problems, `unexpected 200 for ${request.method} ${route}`];
  const parsed = SUCCESS_SHAPES[route as keyof typeof SUCCESS_SHAPES].safeParse(body);
  if (!parsed.success) return [...problems, `${route} 200 shape: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`];
  const data = parsed.data;

  if ('score' in data) {
    if (!/^[0-9A-F]{32}$/.test(data.sequence_id)) problems.push('sequence_id format');
    if (data.level !== levelOf(data.score)) problems.push(`level ${data.level} does not match score ${data.score}`);
    if (expectDecision) {
      if (!data.reasons.some((r) => r.id.startsWith('token_') && r.id !== 'token_degraded')) problems.push(`token case without a token_ reason (${data.reasons.map((r) => r.id).join(',') || 'none'})`);
      if (data.level < 3) problems.push(`token case at level ${data.level} (score ${data.score})`);
    }
  } else if ('entry' in data) {
    if (data.entry.dimension === 'mobile' && !isMasked(data.entry.value, '****')) problems.push(`mobile shown unmasked: ${data.entry.value}`);
    if (data.entry.dimension === 'email' && !data.entry.value.split('@')[0]!.includes('***')) problems.push(`email shown unmasked: ${data.entry.value}`);
  } else if ('decision' in data) {
    const blackBox = data.decision.request.black_box;
    if (typeof blackBox === 'string' && !/^<token \d+ chars>$/.test(blackBox)) problems.push('decision log holds the black_box');
  } else if (route === 'challenges.answer') {
    const { success, session_id, failure } = data as ChallengeAnswerResponse;
    if (success !== (session_id !== undefined) || success === (failure !== undefined)) problems.push(`answer success ${success} with session ${session_id} and failure ${failure}`);
  }
  const masked = 'masked_mobile' in data ? data.masked_mobile : 'sms' in data ? data.sms?.masked_mobile : undefined;
  if (masked && !isMasked(masked, '****')) problems.push(`SMS number shown unmasked: ${masked}`);
  // Enrollment answers CORS for an allowed Origin (checked above); a browser from any other is refused.
  if (route.startsWith('devices.') && request.headers.origin !== undefined && allowOrigin === undefined) problems.push(`${route} 200 for origin ${request.headers.origin} without CORS`);
  return problems;
}

function describeRequest(request: Sent, response: LightMyRequestResponse | undefined): string {
  const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s);
  return [
    `  ${request.method} ${clip(request.url, 200)} from ${request.remoteAddress}`,
    `  headers ${clip(JSON.stringify(request.headers), 300)}`,
    ...(request.payload !== undefined ? [`  payload ${clip(JSON.stringify(request.payload), 400)}`] : []),
    ...(response ? [`  -> ${response.statusCode} ${clip(response.body, 400)}`] : []),
  ].join('\n');
}

/**
 * A fast-check plugin: on a failure, the error names the property, shows the
 * shrunk case (the predicate's own error) and the command that replays it.
 */
function replayHint(name: PropertyName): fc.UniversalPlugin {
  return () => ({
    onAllRunsComplete: (details) => {
      if (!details.failed) return;
      if (details.counterexamplePath === null) throw new Error(fc.defaultReportMessage(details));
      const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
      const counterexample = fc.stringify(details.counterexample);
      throw new Error(
        [
          `property "${name}" failed after ${details.numRuns} runs, shrunk ${details.numShrinks} times:`,
          error,
          `  case ${counterexample.length > 600 ? `${counterexample.slice(0, 600)}…` : counterexample}`,
          `Replay: RISKGATE_FUZZ_SEED=${details.seed} RISKGATE_FUZZ_PATH=${details.counterexamplePath} npx vitest run fuzz.test.ts -t "property: ${name}"`,
        ].join('\n'),
      );
    },
  });
}

const runsOf = (name: PropertyName) => Math.max(1, Math.round(RUNS * SHARES[name]));
/** Vitest's limit for one property: generous, since shrinking a failure re-runs many cases. */
const timeoutOf = (name: PropertyName) => 60_000 + runsOf(name) * 40;

// ---------------------------------------------------------------------------

describe(`fuzzing every route (seed ${SEED}, ${RUNS} runs)`, () => {
  let t: TestApp;
  let material: TokenMaterial;
  let known: Known;
  let baseline: EvaluateResponse;
  const smsCodes = new Map<string, string>();
  /** `route status` → answers, over all properties. */
  const tally = new Map<string, number>();
  const tokenReasons = new Map<string, Set<string>>();
  const timings: string[] = [];

  const validEvaluate = async (ip: string) => {
    const token = await makeToken({ serverKey: material.serverKey, appKey: APP_KEY, payload: { behavior: { pointer_moves: 40, clicks: 2, key_presses: 12, dwell_ms: 9000 } } });
    return t.app.inject({ method: 'POST', url: '/v1/risk/evaluate', headers: { ...t.auth, 'content-type': 'application/json' }, payload: { event: 'login', black_box: token, ip, account_id: `final-${ip}` } });
  };

  /** Sends a request and throws, with the request and the answer, if the answer breaks the contract. */
  async function sendChecked(request: Sent, expectDecision = false): Promise<LightMyRequestResponse> {
    const options: InjectOptions = { method: request.method, url: request.url, headers: request.headers, remoteAddress: request.remoteAddress };
    if (request.payload !== undefined) options.payload = request.payload;
    let response: LightMyRequestResponse;
    try {
      response = await t.app.inject(options);
    } catch (error) {
      throw new Error(`inject threw ${(error as Error).message}\n${describeRequest(request, undefined)}`);
    }
    const key = `${routeOf(request)} ${response.statusCode}`;
    tally.set(key, (tally.get(key) ?? 0) + 1);
    const problems = contractProblems(request, response, expectDecision);
    if (problems.length > 0) throw new Error(`${problems.join('; ')}\n${describeRequest(request, response)}`);
    return response;
  }

  /** Runs one property; `examples` run first, on top of its share of RUNS. */
  async function fuzz<T>(name: PropertyName, cases: fc.Arbitrary<T>, predicate: (value: T) => Promise<void>, examples: T[] = []): Promise<void> {
    const startedAt = performance.now();
    const numRuns = runsOf(name) + examples.length;
    await fc.assert(fc.asyncProperty(cases, predicate), {
      seed: SEED,
      numRuns,
      examples: examples.map((example): [T] => [example]),
      ...(PATH ? { path: PATH, endOnFailure: true } : {}),
      plugins: [replayHint(name)],
    });
    timings.push(`${name} ${numRuns} in ${((performance.now() - startedAt) / 1000).toFixed(1)} s`);
  }

  /** Guards against a fuzzer that only ever meets validation: each route answered 200 at least once. */
  function expectReached(name: PropertyName, routes: string[]): void {
    if (PATH || runsOf(name) < 200) return;
    expect(routes.filter((route) => !tally.has(`${route} 200`))).toEqual([]);
  }

  beforeAll(async () => {
    t = await testApp(
      {},
      {
        smsProvider: {
          name: 'fuzz',
          async send(message) {
            if (message.code) smsCodes.set(message.challengeId, message.code);
          },
        },
      },
    );
    const serverKey = t.app.riskgate.keys.current().primary;
    const devices = await Promise.all(Array.from({ length: DEVICES }, () => newDevice()));
    const bases = await Promise.all(Array.from({ length: BASES }, (_, i) => makeToken({ serverKey, appKey: APP_KEY, device: devices[i % DEVICES] })));
    material = { serverKey, devices, bases };
    known = await handOut();
    const first = await validEvaluate('192.0.2.101');
    expect(first.statusCode, first.body).toBe(200);
    baseline = EvaluateResponse.parse(first.json());
    // The forged payloads start from fullPayload(): unbroken, it must make a clean token, or the forgeries prove nothing.
    const device = material.devices[0]!;
    const clean = await seal(serverKey, utf8(await signJws(device, { alg: 'ES256', jwk: device.publicKey }, b64uJson(fullPayload()))));
    const decided = await sendChecked(evaluateWithToken(clean, { event: 'login', ip: TOKEN_IPS[0] }));
    expect(EvaluateResponse.parse(decided.json()).reasons.map((r) => r.id).filter((id) => id.startsWith('token_'))).toEqual([]);
  });

  afterAll(async () => {
    console.info(`fuzz: seed ${SEED}; ${timings.join(', ')}`);
    if (VERBOSE) {
      console.info([...tally].sort().map(([key, n]) => `${key}: ${n}`).join('\n'));
      console.info([...tokenReasons].sort().map(([kind, seen]) => `${kind}: ${[...seen].join(' ')}`).join('\n'));
    }
    await t?.close();
  });

  /** List entries, decisions, challenges, sessions and a solved enrollment, from their own address. */
  async function handOut(): Promise<Known> {
    const from = '192.0.2.9';
    const call = async <T = Record<string, unknown>>(url: string, payload: unknown, auth: Record<string, string> = t.auth) => {
      const { status, body } = await post<T>(t.app, url, payload, from, auth);
      if (status !== 200) throw new Error(`${url}: ${status} ${JSON.stringify(body)}`);
      return body;
    };
    const listIds: string[] = [];
    for (const [i, list] of LIST_KINDS.entries()) listIds.push((await call<{ entry: { id: string } }>('/v1/lists', { list, dimension: 'account', value: `known-${i}`, reason: 'handed out' })).entry.id);
    const evaluations = [
      await call<EvaluateResponse>('/v1/risk/evaluate', { event: 'login', ip: '192.0.2.10' }),
      await call<EvaluateResponse>('/v1/risk/evaluate', { event: 'register', ip: '192.0.2.11', black_box: 'not-a-token', mobile: KNOWN_MOBILE }),
    ];
    const start = async (type: 'slider' | 'sms', mobile = KNOWN_MOBILE) => (await call<{ challenge_id: string }>('/v1/challenges', { type, event: 'login', mobile })).challenge_id;
    const sliderIds = [await start('slider'), await start('slider')];
    const smsIds = [await start('sms', '+8613812340001'), await start('sms', '+8613812340002'), await start('sms', '+8613812340003')];
    const sessionIds: string[] = [];
    for (let i = 0; i < 2; i++) {
      const id = await start('sms');
      await call(`/v1/challenges/${id}/sms`, {});
      sessionIds.push((await call<{ session_id: string }>(`/v1/challenges/${id}/answer`, { code: smsCodes.get(id) })).session_id);
    }
    const { puzzle } = await askPuzzle(t.app, APP_KEY, '127.0.0.1');
    const enrollment = await enrollBody(await newDevice(), APP_KEY, puzzle);
    return {
      listIds,
      sequenceIds: evaluations.map((e) => e.sequence_id),
      sliderIds,
      smsIds,
      challengeTokens: evaluations.flatMap((e) => (e.challenge_token ? [e.challenge_token] : [])),
      sessionIds,
      enrollment,
    };
  }

  it('property: evaluate', { timeout: timeoutOf('evaluate') }, async () => {
    await fuzz('evaluate', requests('POST', withQuery('/v1/risk/evaluate', 20), secretHeaders, jsonBody(evaluateBody)), async (request) => void (await sendChecked(request)));
    expectReached('evaluate', ['evaluate']);
  });

  it('property: token', { timeout: timeoutOf('token') }, async () => {
    const cases = fc.record({ recipe: tokenRecipes, envelope: tokenEnvelopes });
    await fuzz('token', cases, async ({ recipe, envelope }) => {
      const { token, replay } = await forge(recipe, material);
      if (replay) await sendChecked(evaluateWithToken(token, envelope));
      const response = await sendChecked(evaluateWithToken(token, envelope), true);
      if (VERBOSE) {
        const { reasons, level } = response.json() as EvaluateResponse;
        const seen = tokenReasons.get(recipeName(recipe)) ?? new Set<string>();
        tokenReasons.set(recipeName(recipe), seen.add(`${reasons.map((r) => r.id).filter((id) => id.startsWith('token_')).join('+')}@${level}`));
      }
    });
  });

  it('property: lists', { timeout: timeoutOf('lists') }, async () => {
    await fuzz('lists', listRequests(known), async (request) => void (await sendChecked(request)));
    expectReached('lists', ['lists.add', 'lists.find', 'lists.delete']);
  });

  it('property: decisions and keys', { timeout: timeoutOf('decisions and keys') }, async () => {
    await fuzz('decisions and keys', decisionAndKeyRequests(known), async (request) => void (await sendChecked(request)));
    expectReached('decisions and keys', ['decisions.get', 'keys']);
  });

  it('property: challenges', { timeout: timeoutOf('challenges') }, async () => {
    await fuzz('challenges', challengeRequests(known), async (request) => void (await sendChecked(request)));
    expectReached('challenges', ['challenges.start', 'challenges.answer', 'challenges.sms', 'challenges.verify']);
  });

  it('property: enrollment', { timeout: timeoutOf('enrollment') }, async () => {
    await fuzz('enrollment', enrollmentRequests(known, material.devices[1]!), async (request) => void (await sendChecked(request)));
    expectReached('enrollment', ['devices.puzzle', 'devices.enroll']);
  });

  it('property: health, docs, SDK files and unknown routes', { timeout: timeoutOf('health, docs, SDK files and unknown routes') }, async () => {
    await fuzz('health, docs, SDK files and unknown routes', otherRequests, async (request) => void (await sendChecked(request)));
  });

  it('property: control characters — a NUL or a lone surrogate in any string field is 9002 naming it, other controls never a 5xx', { timeout: timeoutOf('control characters') }, async () => {
    const targets = controlCharacterTargets(APP_KEY);
    const plain = fc.string({ unit: fc.constantFrom(...'abcXYZ019-_.@'), maxLength: 8 });
    const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
    const cases = fc.record({
      target: fc.constantFrom(...targets),
      bad: pick<string>([3, '\u0000'], [3, loneSurrogate], [2, fc.integer({ min: 0x01, max: 0x1f }).map((c) => String.fromCharCode(c))], [2, fc.integer({ min: 0x7f, max: 0x9f }).map((c) => String.fromCharCode(c))]),
      before: plain,
      after: plain,
    });
    // Every field with every sample first (what controlCharacterProblems covers on PostgreSQL), then random ones.
    const examples = targets.flatMap((target) => CONTROL_SAMPLES.map((bad) => ({ target, bad: bad as string, before: '', after: '' })));
    await fuzz(
      'control characters',
      cases,
      async ({ target, bad, before, after }) => {
        const { url, payload } = target.build(`${before}${bad}${after}`);
        const request: Sent = { method: target.method, url, headers: payload ? { ...t.auth, 'content-type': 'application/json' } : t.auth, remoteAddress: '127.0.0.1' };
        if (payload) request.payload = JSON.stringify(payload);
        const response = await sendChecked(request, Boolean(target.nulIsDecision) && bad === '\u0000');
        // In a query a lone surrogate has no UTF-8 spelling: what arrives is U+FFFD, a plain character.
        const refused = bad === '\u0000' || (/\p{Cs}/u.test(bad) && target.method === 'POST');
        if (!refused || target.nulIsDecision) return;
        const body = response.json() as { code?: number; field?: string };
        if (response.statusCode !== 400 || body.code !== ERROR_CODES.FIELD_INVALID.code || body.field !== target.field) {
          throw new Error(`${target.name} with ${JSON.stringify(bad)}: ${response.statusCode} ${body.code} field ${body.field}, not 400 9002 field ${target.field}`);
        }
      },
      examples,
    );
  });

  it('property: content types — a body that is not application/json is refused with 415 / 9202 on every route that takes one', { timeout: timeoutOf('content types') }, async () => {
    const token = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-.+'), minLength: 1, maxLength: 16 });
    const mediaType = fc
      .record({
        type: pick<string>([1, fc.constantFrom('text', 'application', 'multipart', 'image', 'audio', 'font', 'message', 'x-custom')], [1, token]),
        subtype: pick<string>([1, fc.constantFrom('plain', 'xml', 'x-www-form-urlencoded', 'octet-stream', 'form-data', 'html', 'json-seq', 'jsonx', 'vnd.api+json', 'problem+json', 'csv', 'javascript')], [1, token]),
        parameters: fc.array(fc.tuple(token, token).map(([k, v]) => `; ${k}=${v}`), { maxLength: 2 }),
        upper: fc.boolean(),
      })
      .filter(({ type, subtype }) => `${type}/${subtype}`.toLowerCase() !== 'application/json')
      .map(({ type, subtype, parameters, upper }) => `${upper ? `${type}/${subtype}`.toUpperCase() : `${type}/${subtype}`}${parameters.join('')}`);
    const ROUTES = ['/v1/risk/evaluate', '/v1/lists', '/v1/challenges', '/v1/challenges/verify', '/v1/challenges/abcdefgh/answer', '/v1/challenges/abcdefgh/sms', '/v1/devices/puzzle', '/v1/devices/enroll'];
    const body = JSON.stringify({ event: 'login', ip: '203.0.113.50', list: 'black', dimension: 'ip', value: '203.0.113.50', app_key: APP_KEY });
    const cases = fc.record({ url: fc.constantFrom(...ROUTES), type: mediaType, payload: pick<string>([3, body], [1, jsonText]) });
    const examples = ['text/plain', 'text/plain; charset=utf-8', 'application/xml', 'application/x-www-form-urlencoded', 'application/octet-stream', 'multipart/form-data; boundary=x'].flatMap((type) =>
      ROUTES.map((url) => ({ url, type, payload: body })),
    );
    await fuzz(
      'content types',
      cases,
      async ({ url, type, payload }) => {
        const response = await sendChecked({ method: 'POST', url, headers: { ...t.auth, 'content-type': type }, payload, remoteAddress: '127.0.0.1' });
        const code = (response.json() as { code?: unknown }).code;
        if (response.statusCode !== 415 || code !== ERROR_CODES.BAD_CONTENT_TYPE.code) throw new Error(`POST ${url} with content-type ${type}: ${response.statusCode} ${response.body}`);
      },
      examples,
    );
  });

  it("property: malformed paths — broken percent-encoding or an over-long parameter is an error from the table, not Fastify's own body", { timeout: timeoutOf('malformed paths') }, async () => {
    // Found by the fuzzing: the router's FST_ERR_BAD_URL / FST_ERR_MAX_PARAM_LENGTH bypass setErrorHandler.
    const ROUTES: [Method, string][] = [
      ['DELETE', '/v1/lists/'],
      ['GET', '/v1/decisions/'],
      ['POST', '/v1/challenges/{}/answer'],
      ['POST', '/v1/challenges/{}/sms'],
      ['GET', '/sdk/'],
      ['GET', '/'],
    ];
    const badEscape = fc.constantFrom('%', '%Z', '%ZZ', '%G0', '%E0%A4%A', '%C0%AF', '%ED%A0%80', '%FF', '%u0041', '%%');
    const segment = pick<string>([2, fc.tuple(b64u(0, 6), badEscape, b64u(0, 6)).map((p) => p.join(''))], [1, fc.integer({ min: 101, max: 3000 }).map((n) => 'a'.repeat(n))]);
    const at = (route: [Method, string], s: string): Sent => ({
      method: route[0],
      url: route[1].includes('{}') ? route[1].replace('{}', s) : route[1] + s,
      headers: { ...t.auth, ...(route[0] === 'POST' ? { 'content-type': 'application/json' } : {}) },
      ...(route[0] === 'POST' ? { payload: '{}' } : {}),
      remoteAddress: '127.0.0.1',
    });
    const examples = [at(ROUTES[0]!, '%ZZ'), at(ROUTES[1]!, '%E0%A4%A'), at(ROUTES[1]!, 'A'.repeat(101)), at(ROUTES[0]!, 'a'.repeat(101)), at(ROUTES[5]!, '%ZZ')];
    await fuzz(
      'malformed paths',
      fc.tuple(fc.constantFrom(...ROUTES), segment).map(([route, s]) => at(route, s)),
      async (request) => {
        const response = await sendChecked(request);
        if (response.statusCode < 400) throw new Error(`${request.method} ${request.url.slice(0, 60)}: ${response.statusCode}, not an error`);
      },
      examples,
    );
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

  it('never puts a stack trace or a source path in a response', async () => {
    // Requests aimed at every error path (the properties check every answer they get too).
    const auth = { authorization: `Bearer ${APP_SECRET}` };
    const json = { ...auth, 'content-type': 'application/json' };
    const requests: Omit<Sent, 'remoteAddress'>[] = [
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
    const leaks: string[] = [];
    for (const request of requests) {
      const response = await t.app.inject({ method: request.method, url: request.url, headers: request.headers, ...(request.payload !== undefined ? { payload: request.payload } : {}) });
      expect(response.statusCode, `${request.method} ${request.url}: ${response.body}`).toBeLessThan(500);
      if (STACK_TRACE.test(response.body) || /\n\s+at /.test(response.body)) leaks.push(describeRequest({ ...request, remoteAddress: '127.0.0.1' }, response));
    }
    expect(leaks).toEqual([]);
  });
});
