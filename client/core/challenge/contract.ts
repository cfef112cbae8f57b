/**
 * What a challenge is to the page, on every platform: the options and result
 * of `challenge()` and `slider()`, the body that starts one, and the HTTP
 * answers the challenge endpoints give. Types only.
 */
import type { RiskEvent } from '../../../shared/constants.js';

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

/** An HTTP answer: the JSON body and the status (0 when the network failed). */
export interface Answer<T> {
  status: number;
  body: Partial<T> & { code?: number; message?: string };
}
