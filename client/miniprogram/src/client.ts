/**
 * One mini-program SDK instance. `init` starts the slow parts at once (the
 * server key, the crypto chunk, the stable sources) so that `getBlackBox()`
 * mostly waits for what is already done, as in the web SDK.
 */
import { BLACK_BOX_VERSION } from '../../../shared/constants.js';
import type { ChallengeOptions, ChallengeResult, ChallengeStart, SliderOptions } from '../../core/challenge/contract.js';
import { checkOptions, invalid, type RiskGateOptions } from '../../core/client.js';
import { RiskGateError } from '../../core/errors.js';
import { SourceRunner } from '../../core/sources/runner.js';
import { buildBlackBox } from '../../core/token/build.js';
import { fitPayload } from '../../core/token/size.js';
import { VERSION } from '../../core/version.js';
import { TouchBehavior, type TrackedEvent } from './behavior.js';
import { challengeApi, openChallenge, runChallenge, type ChallengeSession } from './challenge.js';
import { enrollMiniProgram } from './enrollment.js';
import { loadDeviceKey, type DeviceKey } from './device-key.js';
import { loadServerKey } from './keys.js';
import { entropyPool, TOKEN_ENTROPY_BYTES } from './random.js';
import { assembleSignals, wechatSources } from './signals.js';
import { nobleDeviceSigner, nobleTokenCrypto, type CryptoChunk } from './token-crypto.js';
import { currentWx, type Wx } from './wx.js';

export type { RiskGateOptions } from '../../core/client.js';

export interface RiskGateClient {
  /**
   * A fresh, single-use black_box for the business backend to pass to
   * `POST /v1/risk/evaluate`. Resolves within `timeoutMs` once the server key
   * is known; wx APIs that fail or run out of time are named in the token's
   * `signals.errors`, and the token says `degraded: true`. Rejects only with a
   * `RiskGateError`: `key_unavailable` (no server key: `{endpoint}/v1/keys`
   * unreachable twice and nothing cached) or `crypto_unavailable` (the engine
   * lacks BigInt, as on iOS before 14, or signing failed).
   */
  getBlackBox(): Promise<string>;
  /**
   * Counts a page's touch event: call it from `bindtouchstart`,
   * `bindtouchmove`, `bindtap` (and `bindinput`) handlers. Reads the event's
   * type and timeStamp only.
   */
  trackTouch(event: TrackedEvent): void;
  /**
   * Runs the challenge evaluate advised (its `challenge_token`) in the
   * `<riskgate-slider>` or `<riskgate-sms>` component on the page, and resolves
   * with a single-use `session_id` for the backend to verify. Rejects with a
   * `RiskGateError`: `challenge_failed`, `challenge_cancelled`,
   * `challenge_expired` or `challenge_unavailable` (network, server, or no
   * component of the challenge's type on the page); a `TypeError` when
   * `challengeToken` is not a string.
   */
  challenge(challengeToken: string, options?: ChallengeOptions): Promise<ChallengeResult>;
  /** A standalone slider captcha in the page's `<riskgate-slider>`; the same result and errors as `challenge()`. */
  slider(options?: SliderOptions): Promise<ChallengeResult>;
  /** For a custom challenge UI: starts a challenge and returns its session (what the components use). */
  openChallenge(start: ChallengeStart): Promise<ChallengeSession>;
}

/** Part of the budget kept for signing and encrypting in pure JS (tens of ms on old phones). */
const CRYPTO_RESERVE_MS = 200;
/** Each of the (at most two) key requests may take this long, or the budget if longer. */
const MIN_KEY_FETCH_MS = 3000;

let cryptoChunk: Promise<CryptoChunk> | undefined;

/** The noble chunk, required once; a failed load (no BigInt) is kept: the engine will not change. */
function loadCrypto(): Promise<CryptoChunk> {
  return (cryptoChunk ??= import('./crypto.js').catch((cause: unknown) => {
    throw new RiskGateError('crypto_unavailable', 'RiskGate: this JavaScript engine cannot run the token crypto (BigInt is required)', { cause });
  }));
}

const ignore = () => {};

export function createClient(options: RiskGateOptions): RiskGateClient {
  const { serverKey, timeoutMs, endpoint, appKey } = checkOptions(options, true);
  const wx: Wx | undefined = currentWx();
  if (!wx) invalid('call it in a WeChat mini-program (no global wx)');
  const clock = () => Date.now();
  const fetchTimeoutMs = Math.max(timeoutMs, MIN_KEY_FETCH_MS);
  const serverKeyNow = () => (serverKey ? Promise.resolve(serverKey) : loadServerKey(wx, endpoint, fetchTimeoutMs));
  const behavior = new TouchBehavior(clock());
  const runner = new SourceRunner(wechatSources, wx, clock);
  const api = challengeApi(wx, endpoint, appKey, () => loadCrypto().then((chunk) => chunk.sha256Bytes));
  let deviceKey: DeviceKey | undefined;
  const deviceKeyFrom = (chunk: CryptoChunk, pool: { take(length: number): Uint8Array }) =>
    (deviceKey ??= loadDeviceKey(wx, chunk, () => pool.take(chunk.SECRET_SEED_BYTES)));

  // Early starts; their failures surface from getBlackBox(), not as unhandled rejections.
  serverKeyNow().catch(ignore);
  runner.prime();
  setTimeout(() => loadCrypto().catch(ignore), 0);
  // Device enrollment (proof of work, once per key) runs beside everything; tokens carry its state.
  const enrollment = enrollMiniProgram(
    wx,
    endpoint,
    appKey,
    new Promise<void>((resolve) => setTimeout(resolve, 0))
      .then(loadCrypto)
      .then(async (chunk) => {
        const pool = await entropyPool(wx, TOKEN_ENTROPY_BYTES, chunk.weakRandomBytes);
        return { chunk, signer: nobleDeviceSigner(chunk, deviceKeyFrom(chunk, pool).secretKey, pool.take) };
      }),
  );

  return {
    async getBlackBox() {
      const startedAt = clock();
      const deadline = startedAt + timeoutMs - Math.min(CRYPTO_RESERVE_MS, timeoutMs / 5);
      const crypto = loadCrypto();
      const [outcomes, chunk, key, pool] = await Promise.all([
        runner.collect(deadline),
        crypto,
        serverKeyNow(),
        crypto.then((c) => entropyPool(wx, TOKEN_ENTROPY_BYTES, c.weakRandomBytes)),
      ]);
      try {
        deviceKeyFrom(chunk, pool);
        const { signals, degraded } = assembleSignals(outcomes, deviceKey!.store, pool.source);
        const payload = fitPayload(
          { v: BLACK_BOX_VERSION, app: appKey, platform: 'wechat', sdk: `wechat/${VERSION}`, degraded, signals, behavior: behavior.snapshot(clock()), enrollment: await enrollment() },
          key.kid,
        );
        return await buildBlackBox({
          serverKey: key,
          signer: nobleDeviceSigner(chunk, deviceKey!.secretKey, pool.take),
          crypto: nobleTokenCrypto(chunk, pool.take),
          payload,
        });
      } catch (cause) {
        throw new RiskGateError('crypto_unavailable', 'RiskGate: the token could not be sealed', { cause });
      }
    },
    trackTouch(event) {
      behavior.track(event);
    },
    async challenge(challengeToken, challengeOptions) {
      if (typeof challengeToken !== 'string' || challengeToken === '') throw new TypeError('RiskGate.challenge: challengeToken must be a non-empty string');
      return runChallenge(api, { challenge_token: challengeToken }, challengeOptions);
    },
    async slider(sliderOptions) {
      return runChallenge(api, { type: 'slider', ...(sliderOptions?.event ? { event: sliderOptions.event } : {}) }, sliderOptions);
    },
    openChallenge: (start) => openChallenge(api, start),
  };
}
