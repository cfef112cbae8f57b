/**
 * Why a service refuses a request, as values with stable codes: the services
 * know no transport, so they throw `Refused` with one of these, and the HTTP
 * shell answers it from its one table (http/errors.ts `FAILURE_ANSWERS`).
 * A code says what went wrong in the domain's words; the table decides the
 * error name, status, message and field on the wire.
 */

/** A challenge start, answer, SMS send or verify refused. */
export type ChallengeFailure =
  /** The challenge_token is unknown, spent, expired, or another app's. */
  | { code: 'challenge_token_unknown' }
  /** Too many challenges started from this address this minute. */
  | { code: 'starts_rate_limited' }
  /** The device or network has used up its slider answers: no fresh puzzle. */
  | { code: 'slider_tries_exhausted' }
  /** A backend asked for an SMS challenge without a number. */
  | { code: 'sms_mobile_empty' }
  /** The number's country is not one SMS may go to (challenges.sms.allowed_countries). */
  | { code: 'sms_country_not_allowed'; country: string }
  /** An SMS challenge whose origin carries no number (only a backend can give one). */
  | { code: 'sms_number_not_given' }
  /** A slider answer without its drop position or track. */
  | { code: 'slider_answer_incomplete'; missing: 'x' | 'track' }
  /** An SMS answer without a code. */
  | { code: 'sms_code_missing' }
  /** No running SMS challenge with this id (for this app). */
  | { code: 'sms_challenge_not_found' }
  /** A code was sent moments ago: the next one waits. */
  | { code: 'sms_resend_too_soon'; waitSeconds: number }
  /** Too many codes for this number, address, device or app. */
  | { code: 'sms_rate_limited' }
  /** The SMS provider did not take the message. */
  | { code: 'sms_send_failed' }
  /** The hot state is down or full on a challenge path: fail closed. */
  | { code: 'challenge_state_unavailable' };

/** A device enrollment refused. */
export type EnrollmentFailure =
  | { code: 'puzzle_unreadable' }
  | { code: 'puzzle_not_issued' }
  | { code: 'puzzle_expired' }
  | { code: 'puzzle_other_app' }
  | { code: 'puzzle_other_network' }
  | { code: 'solution_wrong' }
  | { code: 'proof_invalid' }
  | { code: 'puzzle_used' }
  | { code: 'device_enrolled' }
  /** The hot state is down or full on an enrollment path: fail closed. */
  | { code: 'enrollment_state_unavailable' };

export type ServiceFailure = ChallengeFailure | EnrollmentFailure;
export type ServiceFailureCode = ServiceFailure['code'];

/** A request a service refused; `failure` says why. */
export class Refused extends Error {
  override readonly name = 'Refused';

  constructor(readonly failure: ServiceFailure) {
    super(`refused: ${failure.code}`);
  }
}
