/**
 * One SDK instance: `init` starts everything slow at once (behaviour listeners,
 * the server key, the device key, FingerprintJS, WebGL and the lie probes), so
 * that `getBlackBox()` mostly waits for what is already done.
 */
import { BLACK_BOX_VERSION } from '../../shared/constants.js';
import { loadChallengeUi } from './challenge/loader.js';
import { loadDeviceKey, type DeviceKey } from './device-key.js';
import { enrollWebDevice } from './enrollment.js';
import { loadServerKey } from './keys.js';
import { assembleSignals } from './signals.js';
import { BehaviorCollector } from './sources/behavior.js';
import { sources } from './sources/index.js';
import { webCryptoTokenCrypto } from './webcrypto.js';
import type { ChallengeOptions, ChallengeResult, ChallengeStart, SliderOptions } from '../core/challenge/contract.js';
import { checkOptions, invalid, type RiskGateOptions } from '../core/client.js';
import { RiskGateError } from '../core/errors.js';
import { SourceRunner } from '../core/sources/runner.js';
import { buildBlackBox } from '../core/token/build.js';
import { fitPayload } from '../core/token/size.js';
import { VERSION } from '../core/version.js';

export type { RiskGateOptions, RiskGatePublicKey } from '../core/client.js';

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

/** Part of the budget kept for signing and encrypting (a few ms on desktops, more on old phones). */
const CRYPTO_RESERVE_MS = 100;
/** Each of the (at most two) key requests may take this long, or the budget if longer. */
const MIN_KEY_FETCH_MS = 1500;

const ignore = () => {};

export function createClient(options: RiskGateOptions): RiskGateClient {
  const { serverKey, timeoutMs, endpoint, appKey } = checkOptions(options);
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
