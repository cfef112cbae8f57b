/**
 * The contract between the web SDK and its challenge UI chunk
 * (`riskgate-challenge.min.js`, built from ./index.ts). The SDK only loads the
 * chunk and hands it a request; the chunk makes every `/v1/challenges` call and
 * draws the dialog. Keep this file free of runtime imports: both sides use it.
 */
import type { ChallengeOptions, ChallengeResult, ChallengeStart } from '../../core/challenge/contract.js';
import type { RiskGateError } from '../../core/errors.js';

export interface ChallengeRequest {
  endpoint: string;
  appKey: string;
  start: ChallengeStart;
  options?: ChallengeOptions | undefined;
  /** The SDK's error class, so that the page's `instanceof RiskGateError` holds. */
  Err: typeof RiskGateError;
}

/** What the chunk registers on `globalThis[Symbol.for(CHALLENGE_GLOBAL)]`. */
export type ChallengeRunner = (request: ChallengeRequest) => Promise<ChallengeResult>;

/** A registered symbol: private to RiskGate, shared by every copy of the SDK on the page. */
export const CHALLENGE_GLOBAL = 'riskgate.challenge.v1';
/** Served by RiskGate beside riskgate.min.js. */
export const CHALLENGE_SCRIPT = 'riskgate-challenge.min.js';
