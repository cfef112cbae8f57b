/**
 * Constants shared by the server, the SDKs and outside clients.
 *
 * This file imports nothing, so the browser and mini-program builds can use it
 * without pulling in zod or any server code.
 */

/** Business events a caller can ask about (Alibaba's scenarios and TongDun's `decision_event`s). */
export const EVENTS = [
  'register',
  'login',
  'modify_info',
  'marketing',
  'marketing_code',
  'marketing_exchange',
  'send_gift',
  'get_coupon',
  'withdraw',
  'invite',
  'sms',
  'browse',
  'activate',
  'like',
  'comment',
  'favorite',
] as const;
export type RiskEvent = (typeof EVENTS)[number];

/** WeChat's risk rank: 0 no risk … 4 highly suspicious. */
export const LEVELS = [0, 1, 2, 3, 4] as const;
export type RiskLevel = (typeof LEVELS)[number];

/**
 * The one field a backend acts on: `accept` go on; `challenge` go on only after
 * the advised challenge passes (its session_id verified); `review` hold for a
 * person (or an SMS challenge, when advised); `decline` refuse.
 */
export const DECISIONS = ['accept', 'challenge', 'review', 'decline'] as const;
export type Decision = (typeof DECISIONS)[number];

/** The verification a caller should put in front of the user (JAQ's `captcha_type`). */
export const CHALLENGES = ['none', 'slider', 'sms', 'block'] as const;
export type ChallengeKind = (typeof CHALLENGES)[number];

export const LIST_KINDS = ['black', 'white'] as const;
export type ListKind = (typeof LIST_KINDS)[number];

export const LIST_DIMENSIONS = ['ip', 'device', 'account', 'mobile', 'email'] as const;
export type ListDimension = (typeof LIST_DIMENSIONS)[number];

export const PLATFORMS = ['web', 'wechat'] as const;
export type Platform = (typeof PLATFORMS)[number];

/** Device and risk tags a decision can carry. */
export const TAGS = [
  'bot',
  'headless',
  'automation',
  'tampered',
  'inconsistent',
  'emulator',
  'devtools',
  'replayed',
  'token_invalid',
  'token_missing',
  'degraded_token',
  'new_device',
  'gang',
  'velocity',
  'disposable_email',
  'virtual_mobile',
  'private_ip',
  'ua_mismatch',
  'blacklist',
  'whitelist',
] as const;
export type RiskTag = (typeof TAGS)[number];

/** Token format version carried as `v` in the black_box payload. */
export const BLACK_BOX_VERSION = 1;
export const BLACK_BOX_JWE_ALG = 'ECDH-ES';
export const BLACK_BOX_JWE_ENC = 'A256GCM';
export const BLACK_BOX_JWS_ALG = 'ES256';
/** Upper bound on a compact black_box token, in characters. */
export const BLACK_BOX_MAX_LENGTH = 8192;

/**
 * Why a black_box could not be used. Each is a reason id in decisions.
 * A failed token is a risk signal, never a request error.
 */
export const TOKEN_FAILURES = [
  'TOKEN_MISSING',
  'TOKEN_TOO_LARGE',
  'TOKEN_MALFORMED',
  'TOKEN_UNKNOWN_KEY',
  'TOKEN_DECRYPT_FAILED',
  'TOKEN_BAD_SIGNATURE',
  'TOKEN_PAYLOAD_INVALID',
  'TOKEN_APP_MISMATCH',
  'TOKEN_EXPIRED',
  'TOKEN_FROM_FUTURE',
  'TOKEN_REPLAYED',
] as const;
export type TokenFailure = (typeof TOKEN_FAILURES)[number];

/** One entry of the error table: HTTP status, stable numeric code, stable name. */
export interface ErrorCodeEntry {
  readonly code: number;
  readonly status: number;
  readonly name: string;
  readonly description: string;
}

/**
 * Every error code the API returns. TongDun's 9xxx codes are kept (seed 002);
 * 4xxx codes are RiskGate's own. The README's table is checked against this.
 */
export const ERROR_CODES = {
  FIELD_EMPTY: { code: 9001, status: 400, name: 'FIELD_EMPTY', description: 'A required field is missing or empty.' },
  FIELD_INVALID: { code: 9002, status: 400, name: 'FIELD_INVALID', description: 'A field has the wrong type or format.' },
  FIELD_TOO_LONG: { code: 9003, status: 400, name: 'FIELD_TOO_LONG', description: 'A field is longer than 1024 characters, or the body is too large (HTTP 413).' },
  NO_BLACK_BOX_OR_IP: { code: 9004, status: 400, name: 'NO_BLACK_BOX_OR_IP', description: 'Neither black_box nor ip was given.' },
  SYSTEM_ERROR: { code: 9200, status: 500, name: 'SYSTEM_ERROR', description: 'Unexpected server error; nothing was changed.' },
  BAD_CONTENT_TYPE: { code: 9202, status: 415, name: 'BAD_CONTENT_TYPE', description: 'The body is not application/json.' },
  BAD_CREDENTIALS: { code: 4010, status: 401, name: 'BAD_CREDENTIALS', description: 'Missing or wrong app secret or app key.' },
  NOT_ALLOWED: { code: 4030, status: 403, name: 'NOT_ALLOWED', description: 'The origin or app is not allowed to make this call.' },
  NOT_FOUND: { code: 4040, status: 404, name: 'NOT_FOUND', description: 'No such route, decision or list entry.' },
  RATE_LIMITED: { code: 4290, status: 429, name: 'RATE_LIMITED', description: 'Too many requests; retry later.' },
  SMS_FAILED: { code: 5020, status: 502, name: 'SMS_FAILED', description: 'The SMS provider could not send the code; try again.' },
  PUZZLE_INVALID: { code: 4001, status: 400, name: 'PUZZLE_INVALID', description: 'Device enrollment: the puzzle is malformed or was not issued by this server.' },
  SOLUTION_WRONG: { code: 4002, status: 400, name: 'SOLUTION_WRONG', description: 'Device enrollment: the solution does not solve the puzzle.' },
  PROOF_INVALID: { code: 4003, status: 400, name: 'PROOF_INVALID', description: 'Device enrollment: the public key is not a P-256 key or the proof is not its ES256 signature of the puzzle.' },
  PUZZLE_FOREIGN: { code: 4031, status: 403, name: 'PUZZLE_FOREIGN', description: 'Device enrollment: the puzzle was issued to another app or another network (IP prefix).' },
  PUZZLE_USED: { code: 4091, status: 409, name: 'PUZZLE_USED', description: 'Device enrollment: the puzzle was already used (a replay); ask for a new one.' },
  DEVICE_ENROLLED: { code: 4092, status: 409, name: 'DEVICE_ENROLLED', description: 'Device enrollment: this device key is already enrolled for this app.' },
  PUZZLE_EXPIRED: { code: 4100, status: 410, name: 'PUZZLE_EXPIRED', description: 'Device enrollment: the puzzle has expired; ask for a new one.' },
  STORE_UNAVAILABLE: { code: 5030, status: 503, name: 'STORE_UNAVAILABLE', description: 'A store needed to answer safely is unreachable or too slow; challenge answers and verify fail closed, list changes are not acknowledged.' },
} as const satisfies Record<string, ErrorCodeEntry>;
export type ErrorName = keyof typeof ERROR_CODES;

/** Default score intervals (seed 001): level n covers [LEVEL_FLOORS[n], LEVEL_FLOORS[n+1]). */
export const DEFAULT_LEVEL_FLOORS = [0, 20, 35, 65, 85] as const;
export const DEFAULT_LEVEL_DECISIONS: Readonly<Record<RiskLevel, Decision>> = {
  0: 'accept',
  1: 'challenge',
  2: 'challenge',
  3: 'review',
  4: 'decline',
};
export const DEFAULT_LEVEL_CHALLENGES: Readonly<Record<RiskLevel, ChallengeKind>> = {
  0: 'none',
  1: 'slider',
  2: 'slider',
  3: 'sms',
  4: 'block',
};

/** Why `POST /v1/challenges/verify` refused a session_id (like Turnstile's siteverify error codes). */
export const VERIFY_FAILURES = ['not_found', 'expired', 'already_used', 'app_mismatch', 'account_mismatch', 'event_mismatch', 'challenge_mismatch'] as const;
export type VerifyFailure = (typeof VERIFY_FAILURES)[number];

/** Challenge kinds a client can be asked to run (`block` is not a challenge). */
export const CHALLENGE_TYPES = ['slider', 'sms'] as const;
export type ChallengeType = (typeof CHALLENGE_TYPES)[number];

/**
 * Why a challenge answer or send failed, as the browser sees it. The precise
 * track check that failed stays in the server log: a bot learns nothing.
 */
export const CHALLENGE_ANSWER_FAILURES = ['failed', 'expired', 'not_found', 'too_many_attempts', 'code_not_sent'] as const;
export type ChallengeAnswerFailure = (typeof CHALLENGE_ANSWER_FAILURES)[number];
