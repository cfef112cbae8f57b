/**
 * RiskGate web SDK: collects device and interaction signals and seals them in
 * a single-use, device-signed, server-encrypted black_box token.
 *
 * Importing this module touches no browser global; everything starts at `init`.
 *
 * @example
 * ```ts
 * import { init } from 'riskgate/client';
 *
 * const rg = init({ appKey: 'app_demo', endpoint: 'https://risk.example.com' });
 * form.addEventListener('submit', async () => {
 *   const blackBox = await rg.getBlackBox(); // send it with the form; the backend calls /v1/risk/evaluate
 * });
 * // When the backend passes on a challenge_token from evaluate:
 * const { session_id } = await rg.challenge(challengeToken); // slider or SMS dialog; the backend verifies session_id
 * ```
 * In a page, `<script src="https://risk.example.com/sdk/riskgate.min.js">`
 * gives the same API as the global `RiskGate`.
 */
import { createClient, type RiskGateClient, type RiskGateOptions } from './client.js';

export type { RiskGateClient, RiskGateOptions, RiskGatePublicKey } from './client.js';
export type { ChallengeInfo, ChallengeOptions, ChallengeResult, SliderOptions } from '../core/challenge/contract.js';
export { RiskGateError, type RiskGateErrorCode } from '../core/errors.js';
export { VERSION } from '../core/version.js';

/**
 * Starts collecting: behaviour listeners, the server key, the device key and
 * the slow sources begin now, so call it as soon as the page loads.
 *
 * Throws a `TypeError` for bad options or outside a browser.
 *
 * @example
 * ```ts
 * const rg = RiskGate.init({ appKey: 'app_demo', endpoint: 'https://risk.example.com', timeoutMs: 800 });
 * const blackBox = await rg.getBlackBox();
 * ```
 */
export function init(options: RiskGateOptions): RiskGateClient {
  return createClient(options);
}
