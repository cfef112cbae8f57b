/**
 * The v1 wire contracts as zod schemas, with their inferred types.
 *
 * Server code and tests import this file. Browser and mini-program builds must
 * import only `constants.ts` and `import type` from here, so zod stays out of
 * their bundles.
 */
import { z } from 'zod';
import {
  BLACK_BOX_VERSION,
  CHALLENGE_ANSWER_FAILURES,
  CHALLENGE_TYPES,
  CHALLENGES,
  DECISIONS,
  EVENTS,
  LEVELS,
  LIST_DIMENSIONS,
  LIST_KINDS,
  PLATFORMS,
  VERIFY_FAILURES,
} from './constants.js';

/** Longest accepted value of a plain string field (TongDun's 9003 bound). */
export const MAX_FIELD_LENGTH = 1024;

/**
 * Characters no identifier may hold: C0 controls (NUL included), DEL, C1
 * controls, and lone UTF-16 surrogates (no UTF-8 spelling). PostgreSQL's text
 * refuses NUL outright, so one in a list lookup would fail it (issue 13).
 */
const NOT_IDENTIFIER_TEXT = /[\u0000-\u001f\u007f-\u009f]|\p{Cs}/u;
/** In free text (user agent, nickname, referer, reasons): C0 controls but the tab, DEL and lone surrogates. */
const NOT_FREE_TEXT = /[\u0000-\u0008\u000a-\u001f\u007f]|\p{Cs}/u;
/** In the free-form details' keys and strings: NUL (jsonb refuses it) and lone surrogates. */
const NOT_DETAIL_TEXT = /\u0000|\p{Cs}/u;

/** An identifier (account, session, ip, mobile, email, list value …): trimmed, 1–1024 characters, no control character. */
const field = () =>
  z
    .string()
    .trim()
    .min(1)
    .max(MAX_FIELD_LENGTH)
    .refine((value) => !NOT_IDENTIFIER_TEXT.test(value), 'contains a control character or a lone surrogate');
/** Free text: like `field`, but a tab is allowed. */
const freeText = () =>
  z
    .string()
    .trim()
    .min(1)
    .max(MAX_FIELD_LENGTH)
    .refine((value) => !NOT_FREE_TEXT.test(value), 'contains a control character or a lone surrogate');
/** A short token or key from a client (app_key, challenge_token, session_id): no control character. */
const opaque = (min: number, max: number) =>
  z
    .string()
    .min(min)
    .max(max)
    .refine((value) => !NOT_IDENTIFIER_TEXT.test(value), 'contains a control character or a lone surrogate');
export const controlFree = { field, freeText, opaque };

/**
 * Plain dotted-quad IPv4 (no leading zeros, no port) or IPv6 (no brackets):
 * other spellings of an address (`6.6.6.006`, `6.6.6.6:443`) would key apart
 * from it and pass its list entries. The same test as ipaddr.js's
 * `isValidFourPartDecimal` / `IPv6.isValid`, written out so that shared/ stays
 * free of server packages.
 */
const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;
function isIpv6(value: string): boolean {
  const [address = '', zone, ...rest] = value.split('%');
  if (rest.length > 0 || (zone !== undefined && !/^[0-9A-Za-z._-]{1,32}$/.test(zone))) return false;
  const halves = address.split('::');
  if (halves.length > 2) return false;
  const groups = halves.flatMap((half) => (half === '' ? [] : half.split(':')));
  let width = groups.length;
  // An IPv4 address may end it (`::ffff:6.6.6.6`), standing for two groups.
  if (groups[groups.length - 1]?.includes('.')) {
    if (!IPV4.test(groups.pop()!)) return false;
    width += 1;
  }
  if (!groups.every((group) => HEX_GROUP.test(group))) return false;
  return halves.length === 2 ? width <= 7 : width === 8;
}
const isIp = (value: string) => IPV4.test(value) || isIpv6(value);
/** A list entry or query for the ip dimension names an address in its one spelling. */
function strictIpValue(body: { dimension?: string; value?: string }, ctx: z.RefinementCtx): void {
  if (body.dimension === 'ip' && body.value !== undefined && !isIp(body.value)) {
    ctx.addIssue({ code: 'custom', path: ['value'], message: 'must be an IPv4 address in plain dotted-quad form or an IPv6 address' });
  }
}
const ipField = () => field().refine((value) => IPV4.test(value) || isIpv6(value), 'must be an IPv4 address in plain dotted-quad form or an IPv6 address');

/**
 * Deepest nesting accepted in the free-form objects (`ext`, `event_detail`):
 * more than any business detail needs, and shallow enough that the decision
 * log can always serialise the request (a 64 KiB body can nest 20,000 deep).
 */
export const MAX_DETAIL_DEPTH = 32;

/**
 * The first problem of a free-form object: nested too deep, or a key or string
 * holding a NUL or a lone surrogate; with the path to it (for a bad key, the
 * object that holds it).
 */
function detailProblem(value: unknown, maxDepth: number): { path: (string | number)[]; message: string } | undefined {
  // Iterative, so depth itself cannot exhaust the stack.
  const stack: [unknown, (string | number)[]][] = [[value, []]];
  while (stack.length > 0) {
    const [node, path] = stack.pop()!;
    if (typeof node === 'string') {
      if (NOT_DETAIL_TEXT.test(node)) return { path, message: 'contains a NUL character or a lone surrogate' };
      continue;
    }
    if (node === null || typeof node !== 'object') continue;
    if (path.length + 1 > maxDepth) return { path: [], message: `nested deeper than ${maxDepth} levels` };
    if (Array.isArray(node)) {
      node.forEach((child, i) => stack.push([child, [...path, i]]));
      continue;
    }
    for (const [key, child] of Object.entries(node)) {
      if (NOT_DETAIL_TEXT.test(key)) return { path, message: 'has a key with a NUL character or a lone surrogate' };
      stack.push([child, [...path, key]]);
    }
  }
  return undefined;
}

const freeForm = () =>
  z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
    const problem = detailProblem(value, MAX_DETAIL_DEPTH);
    if (problem) ctx.addIssue({ code: 'custom', message: problem.message, path: problem.path, input: value });
  });

// ---------------------------------------------------------------------------
// POST /v1/risk/evaluate

export const EvaluateRequest = z
  .object({
    event: z.enum(EVENTS),
    event_time: z.iso.datetime({ offset: true }).optional(),
    account_id: field().optional(),
    session_id: field().optional(),
    // A black_box longer than the token bound is not a request error: it
    // decodes to TOKEN_TOO_LARGE. The body limit bounds it in bytes.
    black_box: z.string().trim().min(1).optional(),
    ip: ipField().optional(),
    user_agent: freeText().optional(),
    mobile: field().optional(),
    email: field().optional(),
    nickname: freeText().optional(),
    referer: freeText().optional(),
    ext: freeForm().optional(),
    event_detail: freeForm().optional(),
  })
  .meta({ id: 'EvaluateRequest' });
export type EvaluateRequest = z.infer<typeof EvaluateRequest>;

export const Reason = z.object({
  id: z.string(),
  reason: z.string(),
});
export type Reason = z.infer<typeof Reason>;

export const EvaluateResponse = z
  .object({
    code: z.literal(200),
    message: z.string(),
    sequence_id: z.string(),
    score: z.number().int().min(0).max(100),
    level: z.union(LEVELS.map((l) => z.literal(l))),
    decision: z.enum(DECISIONS),
    challenge: z.enum(CHALLENGES),
    challenge_token: z.string().optional(),
    reasons: z.array(Reason),
    tags: z.array(z.string()),
    device_id: z.string().optional(),
    degraded: z.boolean(),
  })
  .meta({ id: 'EvaluateResponse' });
export type EvaluateResponse = z.infer<typeof EvaluateResponse>;

// ---------------------------------------------------------------------------
// Errors

export const ErrorBody = z
  .object({
    code: z.number().int(),
    error: z.string(),
    message: z.string(),
    field: z.string().optional(),
  })
  .meta({ id: 'ErrorBody' });
export type ErrorBody = z.infer<typeof ErrorBody>;

// ---------------------------------------------------------------------------
// Lists

export const ListEntryCreate = z
  .object({
    list: z.enum(LIST_KINDS),
    dimension: z.enum(LIST_DIMENSIONS),
    value: field(),
    reason: freeText().optional(),
    ttl_seconds: z.number().int().positive().max(10 * 365 * 24 * 3600).optional(),
  })
  .superRefine(strictIpValue)
  .meta({ id: 'ListEntryCreate' });
export type ListEntryCreate = z.infer<typeof ListEntryCreate>;

export const ListEntry = z
  .object({
    id: z.string(),
    list: z.enum(LIST_KINDS),
    dimension: z.enum(LIST_DIMENSIONS),
    /** Masked for mobile and email: lists store a keyed hash of those, not the value. */
    value: z.string(),
    reason: z.string().nullable(),
    created_by: z.string(),
    created_at: z.string(),
    expires_at: z.string().nullable(),
  })
  .meta({ id: 'ListEntry' });
export type ListEntry = z.infer<typeof ListEntry>;

export const ListQuery = z.object({
  dimension: z.enum(LIST_DIMENSIONS).optional(),
  value: field().optional(),
  list: z.enum(LIST_KINDS).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
}).superRefine(strictIpValue);
export type ListQuery = z.infer<typeof ListQuery>;

export const ListEntryResponse = z.object({ code: z.literal(200), message: z.string(), entry: ListEntry });
export const ListEntriesResponse = z.object({ code: z.literal(200), message: z.string(), entries: z.array(ListEntry) });

// ---------------------------------------------------------------------------
// Decisions log

export const DecisionRecord = z
  .object({
    sequence_id: z.string(),
    app_id: z.string(),
    event: z.enum(EVENTS),
    event_time: z.string(),
    created_at: z.string(),
    score: z.number(),
    level: z.number(),
    decision: z.enum(DECISIONS),
    challenge: z.enum(CHALLENGES),
    reasons: z.array(Reason),
    tags: z.array(z.string()),
    device_id: z.string().nullable(),
    degraded: z.boolean(),
    rules_version: z.string(),
    rules_hit: z.array(z.object({ id: z.string(), state: z.enum(['online', 'shadow']), score: z.number() })),
    /** Rules whose condition failed at run time (counted as not hit), with why. */
    rules_errors: z.array(z.object({ id: z.string(), message: z.string() })).optional(),
    /** The request with PII masked. */
    request: z.record(z.string(), z.unknown()),
    features: z.record(z.string(), z.unknown()),
    latency_ms: z.number(),
  })
  .meta({ id: 'DecisionRecord' });
export type DecisionRecord = z.infer<typeof DecisionRecord>;

export const DecisionResponse = z.object({ code: z.literal(200), message: z.string(), decision: DecisionRecord });

// ---------------------------------------------------------------------------
// The black_box v1 payload (the JWS payload inside the JWE)

/**
 * A signal the server reads but never requires: an SDK that lacks it (an old
 * one, or a source that failed) leaves it out, and unknown fields are ignored,
 * so old and new SDKs coexist. A value of the wrong type is not dropped: it
 * fails the token (TOKEN_PAYLOAD_INVALID), because no SDK sends one and a
 * silently dropped value would read as a clean default. Which signals a token
 * must carry is the server's call (server/engine/features/collection.ts).
 */
const opt = <T extends z.ZodType>(schema: T) => schema.optional();
const shortString = z.string().max(512);
const flagList = z.array(z.string().max(64)).max(64);

export const AutomationSignals = z.object({
  webdriver: opt(z.boolean()),
  headless_ua: opt(z.boolean()),
  cdp: opt(z.boolean()),
  automation_globals: opt(flagList),
  missing_chrome_objects: opt(flagList),
  permissions_inconsistent: opt(z.boolean()),
  no_plugins: opt(z.boolean()),
  window_anomaly: opt(z.boolean()),
  software_renderer: opt(z.boolean()),
  /** Which techniques saw a DevTools-protocol client (`cdp` is true when any did): client/web/sources/automation.ts. */
  cdp_signs: opt(flagList),
});

/**
 * What the mini-program SDK reads from wx APIs (`platform: "wechat"` tokens),
 * as `signals.wechat`. Raw values: the server classifies them
 * (server/engine/features/wechat.ts `wechatFeatures`), so a new emulator pattern
 * needs no SDK release.
 */
export const WechatSignals = z.object({
  /** `wx.getDeviceInfo` (or `getSystemInfoSync` on old base libraries): ios, android, ohos, windows, mac, devtools… */
  platform: opt(shortString),
  brand: opt(shortString),
  model: opt(shortString),
  system: opt(shortString),
  /** WeChat's and the device's ABI (Android only): x86 on a phone is an emulator. */
  abi: opt(shortString),
  device_abi: opt(shortString),
  cpu_type: opt(shortString),
  memory_size_mb: opt(z.number()),
  /** Android only: -2 or 0 cannot run mini games, -1 unknown, ≥ 1 performance (under 50). */
  benchmark_level: opt(z.number()),
  /** `wx.getDeviceBenchmarkInfo`: 0 unknown, 1 high-end, 2 mid-range, 3 low-end. */
  model_level: opt(z.number()),
  /** `wx.getWindowInfo`, in logical pixels. */
  screen: opt(
    z.object({
      width: opt(z.number()),
      height: opt(z.number()),
      window_width: opt(z.number()),
      window_height: opt(z.number()),
      pixel_ratio: opt(z.number()),
      status_bar_height: opt(z.number()),
    }),
  ),
  /** `wx.getAppBaseInfo`: base library and WeChat versions, language, debug mode (vConsole), host app (third-party SDK hosts). */
  sdk_version: opt(shortString),
  wechat_version: opt(shortString),
  language: opt(shortString),
  debug: opt(z.boolean()),
  host_app_id: opt(shortString),
  /** `wx.getAccountInfoSync`: the mini-program and its build (develop, trial, release). */
  app_id: opt(shortString),
  env_version: opt(shortString),
  app_version: opt(shortString),
  /** `wx.getEnterOptionsSync` / `getLaunchOptionsSync` scene numbers (1001 …). */
  scene: opt(z.number().int()),
  launch_scene: opt(z.number().int()),
  /** `wx.getNetworkType`: wifi, 2g…5g, unknown, none; a system proxy (packet capture, rewriting). */
  network_type: opt(shortString),
  signal_strength: opt(z.number()),
  system_proxy: opt(z.boolean()),
  /** `wx.getBatteryInfo`. */
  battery_level: opt(z.number()),
  charging: opt(z.boolean()),
  low_power: opt(z.boolean()),
  /** Where the token's randomness came from: `wx` (wx.getRandomValues) or `weak` (the documented fallback). */
  random: opt(shortString),
  /** wx API functions that look unlike their siblings (another kind of function or property): a hook framework's replacements. */
  hooks: opt(flagList),
});
export type WechatSignals = z.infer<typeof WechatSignals>;

/**
 * What a SharedWorker (or, where there is none, a dedicated worker) sees, raw,
 * for the server to compare with the page's values: stealth patches and the
 * DevTools user-agent override reach the page, rarely a worker. Strictly
 * bounded, with no fallbacks: a malformed value is not silently dropped.
 */
export const WorkerSignals = z.object({
  kind: z.enum(['shared', 'dedicated']),
  user_agent: z.string().max(512).optional(),
  platform: z.string().max(128).optional(),
  languages: z.array(z.string().max(64)).max(32).optional(),
  hardware_concurrency: z.number().int().min(0).max(4096).optional(),
  /** `WEBGL_debug_renderer_info` through an OffscreenCanvas in the worker. */
  webgl_vendor: z.string().max(128).optional(),
  webgl_renderer: z.string().max(512).optional(),
});
export type WorkerSignals = z.infer<typeof WorkerSignals>;

export const WebSignals = z.object({
  visitor_id: opt(shortString),
  /** FingerprintJS components; heavy ones (canvas, audio, fonts) as hashes. */
  components: opt(z.record(z.string().max(64), z.union([z.string().max(512), z.number(), z.boolean(), z.null()]))),
  user_agent: opt(shortString),
  platform: opt(shortString),
  languages: opt(z.array(z.string().max(64)).max(32)),
  timezone: opt(shortString),
  screen: opt(z.object({ width: opt(z.number()), height: opt(z.number()), dpr: opt(z.number()), touch_points: opt(z.number()) })),
  webgl_renderer: opt(shortString),
  automation: opt(AutomationSignals),
  /** A worker's own view of the browser (see WorkerSignals); in the tokens made after it answered. */
  worker: WorkerSignals.optional(),
  /** Names of tampering probes that fired ("lies"). */
  lies: opt(flagList),
  /** Names of consistency checks that failed (UA vs platform vs hints vs screen). */
  inconsistencies: opt(flagList),
  /** Where the device key lives: `indexeddb` (web) or `wx_storage` (mini-program), or `memory` when those fail. */
  device_key_store: opt(shortString),
  /** Sources that failed or ran out of time, by name. */
  errors: opt(z.record(z.string().max(64), z.string().max(128))),
  /** Mini-program tokens only; `lies`, `inconsistencies`, `device_key_store` and `errors` above are shared. */
  wechat: opt(WechatSignals),
});
export type WebSignals = z.infer<typeof WebSignals>;

export const BehaviorSignals = z.object({
  pointer_moves: opt(z.number().int().min(0)),
  clicks: opt(z.number().int().min(0)),
  touches: opt(z.number().int().min(0)),
  key_presses: opt(z.number().int().min(0)),
  pastes: opt(z.number().int().min(0)),
  focus_changes: opt(z.number().int().min(0)),
  /** Script-made input events (`isTrusted: false`); they count nowhere else. */
  untrusted_events: opt(z.number().int().min(0)),
  move_interval_mean_ms: opt(z.number().min(0)),
  move_interval_sd_ms: opt(z.number().min(0)),
  key_interval_mean_ms: opt(z.number().min(0)),
  key_interval_sd_ms: opt(z.number().min(0)),
  /** Milliseconds from `init` to `getBlackBox`. */
  dwell_ms: opt(z.number().min(0)),
});
export type BehaviorSignals = z.infer<typeof BehaviorSignals>;

export const BlackBoxPayload = z.object({
  v: z.literal(BLACK_BOX_VERSION),
  app: z.string().min(1).max(128),
  jti: z.string().min(16).max(128),
  iat: z.number().int().positive(),
  platform: z.enum(PLATFORMS),
  sdk: z.string().max(64),
  degraded: z.boolean().default(false),
  signals: WebSignals,
  behavior: BehaviorSignals,
  /** The device key's enrollment (server/services/enrollment.ts): its certificate once enrolled. */
  enrollment: z
    .object({
      state: z.enum(['enrolled', 'enrolling', 'failed']),
      cert: z.string().max(1024).optional(),
      error: z.string().max(64).optional(),
    })
    .optional(),
});
export type BlackBoxPayload = z.infer<typeof BlackBoxPayload>;
/** What an SDK puts into a token, before defaults are applied. */
export type BlackBoxPayloadInput = z.input<typeof BlackBoxPayload>;

// ---------------------------------------------------------------------------
// Challenges

const appKeyField = opaque(1, 128);

/** From the SDK: start the challenge an evaluation advised, or a standalone slider (a plain captcha). */
export const ChallengeStartFromClient = z.union([
  z.object({ app_key: appKeyField, challenge_token: opaque(16, 128) }),
  z.object({ app_key: appKeyField, type: z.literal('slider'), event: z.enum(EVENTS).default('login') }),
]);
/** From a backend (app secret): any challenge, with the account and the number to text. */
export const ChallengeStartFromBackend = z.object({
  type: z.enum(CHALLENGE_TYPES),
  event: z.enum(EVENTS),
  account_id: field().optional(),
  mobile: field().optional(),
});
export const ChallengeStartRequest = z.union([ChallengeStartFromClient, ChallengeStartFromBackend]).meta({ id: 'ChallengeStartRequest' });
export type ChallengeStartRequest = z.infer<typeof ChallengeStartRequest>;

/**
 * A slider puzzle's proof of work (ALTCHA v2, SHA-256): find the counter whose
 * key, SHA-256^cost(salt ‖ nonce ‖ uint32be(counter)) cut to key_length bytes,
 * starts with key_prefix. Hex strings.
 */
export const SliderPow = z.object({
  algorithm: z.string(),
  nonce: z.string(),
  salt: z.string(),
  cost: z.number().int(),
  key_length: z.number().int(),
  key_prefix: z.string(),
});
export type SliderPow = z.infer<typeof SliderPow>;

export const SliderPuzzleView = z.object({
  /** PNG data URLs. */
  background: z.string(),
  piece: z.string(),
  width: z.number().int(),
  height: z.number().int(),
  piece_size: z.number().int(),
  piece_y: z.number().int(),
  /** The proof of work this puzzle's answer must carry. */
  pow: SliderPow.optional(),
});
export type SliderPuzzleView = z.infer<typeof SliderPuzzleView>;

export const ChallengeStartResponse = z
  .object({
    code: z.literal(200),
    message: z.string(),
    challenge_id: z.string(),
    type: z.enum(CHALLENGE_TYPES),
    expires_at: z.string(),
    attempts_left: z.number().int(),
    slider: SliderPuzzleView.optional(),
    sms: z.object({ masked_mobile: z.string(), resend_after_seconds: z.number().int() }).optional(),
  })
  .meta({ id: 'ChallengeStartResponse' });
export type ChallengeStartResponse = z.infer<typeof ChallengeStartResponse>;

export const TrackPoint = z.tuple([z.number(), z.number(), z.number()]);
export const ChallengeAnswerRequest = z
  .union([
    z.object({
      app_key: appKeyField.optional(),
      x: z.number(),
      track: z.array(TrackPoint).max(1000),
      /** The solution of the puzzle's `pow`; missing or wrong, the answer fails (`failed`). */
      pow: z.object({ counter: z.number(), derived_key: opaque(0, 256) }).partial().optional(),
    }),
    z.object({ app_key: appKeyField.optional(), code: z.string().regex(/^\d{6}$/, 'must be 6 digits') }),
  ])
  .meta({ id: 'ChallengeAnswerRequest' });
export type ChallengeAnswerRequest = z.infer<typeof ChallengeAnswerRequest>;

export const ChallengeAnswerResponse = z
  .object({
    code: z.literal(200),
    message: z.string(),
    success: z.boolean(),
    session_id: z.string().optional(),
    failure: z.enum(CHALLENGE_ANSWER_FAILURES).optional(),
    attempts_left: z.number().int().optional(),
    /** A fresh puzzle after a failed slider answer, while attempts remain. */
    slider: SliderPuzzleView.optional(),
  })
  .meta({ id: 'ChallengeAnswerResponse' });
export type ChallengeAnswerResponse = z.infer<typeof ChallengeAnswerResponse>;

export const SmsSendRequest = z.object({ app_key: appKeyField.optional() }).meta({ id: 'SmsSendRequest' });
export const SmsSendResponse = z
  .object({ code: z.literal(200), message: z.string(), sent: z.boolean(), masked_mobile: z.string(), resend_after_seconds: z.number().int() })
  .meta({ id: 'SmsSendResponse' });
export type SmsSendResponse = z.infer<typeof SmsSendResponse>;

export const VerifyRequest = z
  .object({
    session_id: opaque(1, 128),
    /** When given, the session must belong to this account. */
    account_id: field().optional(),
    /** When given, the challenge must have been passed for this event. */
    event: z.enum(EVENTS).optional(),
    /** When given, the session must come from the challenge this evaluation advised (its `sequence_id`). */
    sequence_id: z.string().regex(/^[0-9A-F]{32}$/, 'must be a sequence_id').optional(),
    /** When given, the session's challenge must be at least this strong (`sms` > `slider`). */
    min_type: z.enum(CHALLENGE_TYPES).optional(),
  })
  .meta({ id: 'VerifyRequest' });
export type VerifyRequest = z.infer<typeof VerifyRequest>;

export const VerifyResponse = z
  .object({
    code: z.literal(200),
    message: z.string(),
    success: z.boolean(),
    error: z.enum(VERIFY_FAILURES).optional(),
    type: z.enum(CHALLENGE_TYPES).optional(),
    event: z.enum(EVENTS).optional(),
    account_id: z.string().nullable().optional(),
    verified_at: z.string().optional(),
  })
  .meta({ id: 'VerifyResponse' });
export type VerifyResponse = z.infer<typeof VerifyResponse>;
