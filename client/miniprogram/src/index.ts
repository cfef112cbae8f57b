/**
 * RiskGate for WeChat mini-programs: the web SDK's API (`init` →
 * `getBlackBox()`, `challenge()`), device and environment signals from wx
 * APIs, tokens in the same JOSE format (ECDH-ES + A256GCM around ES256, in
 * pure JS), and two challenge components, `<riskgate-slider>` and
 * `<riskgate-sms>`.
 *
 * Requiring this module runs nothing and reads no global; `wx` is first
 * touched by `init`.
 *
 * @example
 * ```js
 * // After WeChat DevTools' "build npm" (the package's `miniprogram` field)
 * const { init } = require('riskgate');
 * const rg = init({ appKey: 'pk_live_…', endpoint: 'https://risk.example.com' });
 *
 * Page({
 *   onTouch(event) { rg.trackTouch(event); },       // bindtouchstart / bindtouchmove / bindtap
 *   async submit() {
 *     const blackBox = await rg.getBlackBox();      // send it with the form
 *     const verdict = await post('/api/register', { …form, black_box: blackBox });
 *     if (verdict.challenge_token) {                // <riskgate-slider/> and <riskgate-sms/> in the page
 *       const { session_id } = await rg.challenge(verdict.challenge_token);
 *     }
 *   },
 * });
 * ```
 */
import { createClient, type RiskGateClient, type RiskGateOptions } from './client.js';

export type { RiskGateClient, RiskGateOptions } from './client.js';
export type { ChallengeInfo, ChallengeOptions, ChallengeResult, SliderOptions } from '../../core/challenge/contract.js';
export { RiskGateError, type RiskGateErrorCode } from '../../core/errors.js';
export { VERSION } from '../../core/version.js';

// For the components (and custom challenge UIs).
export { ChallengeSession, registerChallengeUi, type AnswerOutcome, type ChallengeUi, type SendOutcome } from './challenge.js';
export { challengeTexts, type Texts } from './texts.js';
export { TrackRecorder } from '../../core/challenge/track.js';

let latest: RiskGateClient | undefined;

/**
 * Starts collecting: the server key, the crypto and the stable sources begin
 * now, so call it early (app.js `onLaunch`, or the page's `onLoad`).
 * Throws a `TypeError` for bad options or outside a mini-program.
 */
export function init(options: RiskGateOptions): RiskGateClient {
  latest = createClient(options);
  return latest;
}

/** The instance the last `init` made: the one the challenge components use. */
export function getClient(): RiskGateClient | undefined {
  return latest;
}
