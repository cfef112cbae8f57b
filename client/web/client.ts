/**
 * One SDK instance: `init` starts everything slow at once (behaviour listeners,
 * the server key, the device key, FingerprintJS, WebGL and the lie probes), so
 * that `getBlackBox()` mostly waits for what is already done.
 */
import { BLACK_BOX_VERSION } from '../../shared/constants.js';
import type { ServerTokenKey } from '../../shared/jwk.js';
import type { ChallengeOptions, ChallengeResult, ChallengeStart, SliderOptions } from '../core/challenge/contract.js';
import { loadChallengeUi } from './challenge/loader.js';
import { loadDeviceKey, type DeviceKey } from './device-key.js';
import { enrollWebDevice } from './enrollment.js';
import { RiskGateError } from '../core/errors.js';
import { asServerKey } from '../core/keys.js';
import { loadServerKey } from './keys.js';
import { assembleSignals } from './signals.js';
import { BehaviorCollector } from './sources/behavior.js';
import { sources } from './sources/index.js';
import { SourceRunner } from '../core/sources/runner.js';
import { fitPayload } from '../core/token/size.js';
import { buildBlackBox } from '../core/token/build.js';
import { webCryptoTokenCrypto } from './webcrypto.js';
import { VERSION } from '../core/version.js';

/** A server token key as `GET /v1/keys` lists it (extra JWK members are ignored). */
export type RiskGatePublicKey = ServerTokenKey;

export interface RiskGateOptions {
  /** The app's public key (`app_key`), named in every token. */
  appKey: string;
  /** RiskGate's base URL, e.g. `https://risk.example.com`; keys come from `{endpoint}/v1/keys`. */
  endpoint: string;
  /** The server key to encrypt to, instead of fetching `{endpoint}/v1/keys`. */
  publicKey?: RiskGatePublicKey;
  /** Time budget of one `getBlackBox()` call in milliseconds. Default 1000. */
  timeoutMs?: number;
}

export interface RiskGateClient {
  /**
   * A fresh, single-use black_box for the business backend to pass to
   * `POST /v1/risk/evaluate`. Resolves within `timeoutMs` once the server key
   * is known; sources that fail or run out of time are named in the token,
   * which then says `degraded: true`. Rejects only with a `RiskGateError`:
   * `key_unavailable` or `crypto_unavailable`.
   */
  getBlackBox(): Promise<string>;

  /**
   * Runs the challenge `POST /v1/risk/evaluate` advised (its `challenge_token`):
   * a slider puzzle or an SMS code, in a modal dialog. Resolves with a
   * single-use `session_id` for the business backend to confirm with
   * `POST /v1/challenges/verify`. Rejects with a `RiskGateError`:
   * `challenge_failed` (attempts used up), `challenge_cancelled` (the user
   * closed it), `challenge_expired` (token or challenge unknown, used or too old)
   * or `challenge_unavailable` (network, server, or the UI script failed to load);
   * with a `TypeError` when `challengeToken` is not a string.
   *
   * The dialog's code is a separate script, `{endpoint}/sdk/riskgate-challenge.min.js`,
   * loaded on the first call (with the npm builds too).
   *
   * @example
   * ```ts
   * const verdict = await fetch('/api/claim', …).then((r) => r.json());
   * if (verdict.challenge_token) {
   *   const { session_id } = await rg.challenge(verdict.challenge_token);
   *   await fetch('/api/claim/confirm', { method: 'POST', body: JSON.stringify({ session_id }) });
   * }
   * ```
   */
  challenge(challengeToken: string, options?: ChallengeOptions): Promise<ChallengeResult>;

  /**
   * A standalone slider captcha (no evaluation needed): the same dialog,
   * result and errors as `challenge()`. `event` (default `login`) is recorded
   * with the session and returned by verify.
   */
  slider(options?: SliderOptions): Promise<ChallengeResult>;
}

export const DEFAULT_TIMEOUT_MS = 1000;
/** Part of the budget kept for signing and encrypting (a few ms on desktops, more on old phones). */
const CRYPTO_RESERVE_MS = 100;
/** Each of the (at most two) key requests may take this long, or the budget if longer. */
const MIN_KEY_FETCH_MS = 1500;

function invalid(problem: string): never {
  throw new TypeError(`RiskGate.init: ${problem}`);
}

function checkOptions(options: RiskGateOptions): { serverKey?: ServerTokenKey; timeoutMs: number; endpoint: string } {
  if (options === null || typeof options !== 'object') invalid('options must be an object');
  const { appKey, endpoint, publicKey, timeoutMs = DEFAULT_TIMEOUT_MS } = options;
  if (typeof appKey !== 'string' || appKey.length === 0 || appKey.length > 128) invalid('appKey must be a string of 1 to 128 characters');
  if (typeof endpoint !== 'string' || endpoint.length === 0) invalid('endpoint must be the RiskGate base URL');
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0) || !Number.isFinite(timeoutMs)) invalid('timeoutMs must be a positive number');
  const serverKey = publicKey === undefined ? undefined : (asServerKey(publicKey) ?? invalid('publicKey must be a P-256 JWK with kid, x and y'));
  return { serverKey, timeoutMs, endpoint: endpoint.replace(/\/+$/, '') };
}

const ignore = () => {};

export function createClient(options: RiskGateOptions): RiskGateClient {
  const { serverKey, timeoutMs, endpoint } = checkOptions(options);
  const { appKey } = options;
  const win = globalThis as unknown as Window & typeof globalThis;
  if (typeof win.document === 'undefined' || typeof win.navigator === 'undefined') {
    invalid('call it in a browser page');
  }
  const clock = () => win.performance.now();
  const subtle: SubtleCrypto | undefined = win.crypto?.subtle;
  const tokenCrypto = subtle && webCryptoTokenCrypto(subtle, win.crypto);
  const fetchTimeoutMs = Math.max(timeoutMs, MIN_KEY_FETCH_MS);
  const serverKeyNow = () => (serverKey ? Promise.resolve(serverKey) : loadServerKey(win, endpoint, fetchTimeoutMs));

  const behavior = new BehaviorCollector(win, clock());
  behavior.start();
  const runner = new SourceRunner(sources, { behavior, window: win }, clock);
  // Early starts; their failures surface from getBlackBox(), not as unhandled rejections.
  serverKeyNow().catch(ignore);
  if (subtle) loadDeviceKey(win, subtle).catch(ignore);
  // Device enrollment (proof of work, once per key) runs beside everything; tokens carry its state.
  const enrollment = subtle ? enrollWebDevice(win, endpoint, appKey, loadDeviceKey(win, subtle).then((k) => k.signer)) : async () => ({ state: 'failed' as const });
  runner.prime();
  const challenge = (start: ChallengeStart, options?: ChallengeOptions) =>
    loadChallengeUi(win, endpoint).then((run) => run({ endpoint, appKey, start, options, Err: RiskGateError }));

  return {
    challenge: (challengeToken, options) => challenge({ challenge_token: challengeToken }, options),
    slider: (options) => challenge({ type: 'slider', ...(options?.event ? { event: options.event } : {}) }, options),
    async getBlackBox() {
      const startedAt = clock();
      if (!subtle || !tokenCrypto) throw new RiskGateError('crypto_unavailable', 'RiskGate: WebCrypto is unavailable (HTTPS or localhost is required)');
      const deadline = startedAt + timeoutMs - Math.min(CRYPTO_RESERVE_MS, timeoutMs / 5);
      const device: Promise<DeviceKey> = loadDeviceKey(win, subtle).catch((error: unknown) => {
        throw new RiskGateError('crypto_unavailable', 'RiskGate: cannot create the device key', { cause: error });
      });
      const pendingKey = serverKeyNow();
      // This token's ephemeral ECDH agreement needs no signal: it runs (off the main thread) while they are collected.
      const agreement = pendingKey.then((key) => tokenCrypto.agree(key));
      agreement.catch(ignore);
      const [outcomes, deviceKey, key] = await Promise.all([runner.collect(deadline), device, pendingKey]);
      const { signals, behavior: behaviorSignals, degraded } = assembleSignals(outcomes, deviceKey.store);
      const payload = fitPayload(
        { v: BLACK_BOX_VERSION, app: appKey, platform: 'web', sdk: `web/${VERSION}`, degraded, signals, behavior: behaviorSignals, enrollment: await enrollment() },
        key.kid,
      );
      try {
        return await buildBlackBox({ serverKey: key, signer: deviceKey.signer, crypto: { ...tokenCrypto, agree: () => agreement }, payload });
      } catch (error) {
        throw new RiskGateError('crypto_unavailable', 'RiskGate: WebCrypto failed to seal the token', { cause: error });
      }
    },
  };
}
