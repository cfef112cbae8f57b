/**
 * The contract between the SDK core and its challenge UI chunk
 * (`riskgate-challenge.min.js`, built from ./index.ts). The core only loads the
 * chunk and hands it a request; the chunk makes every `/v1/challenges` call and
 * draws the dialog. Keep this file free of runtime imports: both sides use it.
 */
import type { RiskEvent } from '../../../shared/constants.js';
import type { RiskGateError } from '../errors.js';

/** Which challenge started, for `onStart`. */
export interface ChallengeInfo {
  challenge_id: string;
  type: 'slider' | 'sms';
}

export interface ChallengeOptions {
  /**
   * Called once the challenge has started and its dialog is on screen, with the
   * challenge's id and type (for logging, or a development page's helpers).
   */
  onStart?: (challenge: ChallengeInfo) => void;
}

export interface SliderOptions extends ChallengeOptions {
  /** The business event the captcha guards; recorded with the session. Default `login`. */
  event?: RiskEvent;
}

/** What a passed challenge gives: a single-use id for the business backend to verify. */
export interface ChallengeResult {
  session_id: string;
}

/** The body of `POST /v1/challenges` without `app_key`. */
export type ChallengeStart = { challenge_token: string } | { type: 'slider'; event?: RiskEvent };

export interface ChallengeRequest {
  endpoint: string;
  appKey: string;
  start: ChallengeStart;
  options?: ChallengeOptions | undefined;
  /** The core's error class, so that the page's `instanceof RiskGateError` holds. */
  Err: typeof RiskGateError;
}

/** What the chunk registers on `globalThis[Symbol.for(CHALLENGE_GLOBAL)]`. */
export type ChallengeRunner = (request: ChallengeRequest) => Promise<ChallengeResult>;

/** A registered symbol: private to RiskGate, shared by every copy of the SDK on the page. */
export const CHALLENGE_GLOBAL = 'riskgate.challenge.v1';
/** Served by RiskGate beside riskgate.min.js. */
export const CHALLENGE_SCRIPT = 'riskgate-challenge.min.js';
