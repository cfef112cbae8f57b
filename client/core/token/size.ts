/**
 * Keeps a black_box within TOKEN_BUDGET_CHARS. The token's length follows
 * from the payload's: the JWS is base64url inside the JWE's base64url, so each
 * payload byte costs about 1.78 characters, plus fixed headers and tags. When
 * a payload would not fit (an unusual page: many lies, huge user agent), the
 * least useful parts go first and the token says so in `signals.errors.size`.
 */
import { BLACK_BOX_JWE_ALG, BLACK_BOX_JWE_ENC, BLACK_BOX_JWS_ALG } from '../../../shared/constants.js';
import type { BlackBoxPayloadInput } from '../../../shared/schemas.js';
import type { BuildBlackBoxOptions } from './build.js';
import { utf8 } from './encoding.js';

/**
 * The SDK's own bound, three quarters of the server's BLACK_BOX_MAX_LENGTH:
 * a token from a clean Chromium is 4.0–4.6 K characters once it carries the
 * worker's report (`signals.worker`), so a 4 K budget would drop
 * FingerprintJS's components from most tokens.
 */
export const TOKEN_BUDGET_CHARS = 6144;

type Payload = BuildBlackBoxOptions['payload'];

const b64Length = (bytes: number) => Math.ceil((bytes * 4) / 3);
const COORDINATE = 'A'.repeat(43);
const JWS_HEADER_BYTES = JSON.stringify({ alg: BLACK_BOX_JWS_ALG, jwk: { kty: 'EC', crv: 'P-256', x: COORDINATE, y: COORDINATE } }).length;

/** The exact length of the token `buildBlackBox` makes from `payload` for the key `kid`. */
export function tokenLength(payload: Payload, kid: string): number {
  const full: BlackBoxPayloadInput = { ...payload, jti: COORDINATE.slice(0, 22), iat: 1_000_000_000 };
  const jwsLength = b64Length(JWS_HEADER_BYTES) + 1 + b64Length(utf8(JSON.stringify(full)).length) + 1 + b64Length(64);
  const jweHeader = JSON.stringify({
    alg: BLACK_BOX_JWE_ALG,
    enc: BLACK_BOX_JWE_ENC,
    kid,
    cty: 'JWT',
    epk: { kty: 'EC', crv: 'P-256', x: COORDINATE, y: COORDINATE },
  });
  return b64Length(utf8(jweHeader).length) + 2 + b64Length(12) + 1 + b64Length(jwsLength) + 1 + b64Length(16);
}

type Trim = (payload: Payload) => void;

const capList = (list: string[] | undefined, n: number) => list?.slice(0, n);

/** Ways to shrink a payload, least useful first; each is applied on top of the previous ones. */
const TRIMS: Trim[] = [
  (p) => {
    if (p.signals) delete p.signals.components;
  },
  (p) => {
    const s = p.signals;
    if (!s) return;
    s.lies = capList(s.lies, 8);
    s.inconsistencies = capList(s.inconsistencies, 8);
    if (s.automation) {
      s.automation.automation_globals = capList(s.automation.automation_globals, 4);
      s.automation.missing_chrome_objects = capList(s.automation.missing_chrome_objects, 4);
    }
    if (s.languages) s.languages = s.languages.slice(0, 4);
  },
  (p) => {
    const s = p.signals;
    if (!s) return;
    if (s.user_agent) s.user_agent = s.user_agent.slice(0, 256);
    if (s.webgl_renderer) s.webgl_renderer = s.webgl_renderer.slice(0, 128);
    if (s.timezone) s.timezone = s.timezone.slice(0, 64);
    if (s.platform) s.platform = s.platform.slice(0, 64);
    if (s.worker?.user_agent) s.worker.user_agent = s.worker.user_agent.slice(0, 256);
    if (s.worker?.webgl_renderer) s.worker.webgl_renderer = s.worker.webgl_renderer.slice(0, 128);
  },
];

/** `payload` unchanged when it fits, else a trimmed copy marked degraded. */
export function fitPayload(payload: Payload, kid: string, budget = TOKEN_BUDGET_CHARS): Payload {
  if (tokenLength(payload, kid) <= budget) return payload;
  const copy = JSON.parse(JSON.stringify(payload)) as Payload;
  copy.degraded = true;
  copy.signals = { ...copy.signals, errors: { ...copy.signals?.errors, size: 'truncated' } };
  for (const trim of TRIMS) {
    trim(copy);
    if (tokenLength(copy, kid) <= budget) break;
  }
  return copy;
}
