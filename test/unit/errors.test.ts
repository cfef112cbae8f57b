/**
 * The one table from the services' refusals to API answers
 * (server/http/errors.ts FAILURE_ANSWERS): every failure code answers exactly
 * what the API answered before the services stopped throwing HTTP errors —
 * status, numeric code, name, message and field.
 */
import { describe, expect, it } from 'vitest';
import { apiErrorFor, FAILURE_ANSWERS } from '../../server/http/errors.js';
import type { ServiceFailure } from '../../server/services/failures.js';

const ANSWERS: [ServiceFailure, { status: number; body: Record<string, unknown> }][] = [
  [{ code: 'challenge_token_unknown' }, { status: 404, body: { code: 4040, error: 'NOT_FOUND', message: 'challenge_token is unknown, used or expired', field: 'challenge_token' } }],
  [{ code: 'starts_rate_limited' }, { status: 429, body: { code: 4290, error: 'RATE_LIMITED', message: 'too many challenges started from this address; retry in a minute' } }],
  [{ code: 'slider_tries_exhausted' }, { status: 429, body: { code: 4290, error: 'RATE_LIMITED', message: 'too many slider answers from this device or network; retry later' } }],
  [{ code: 'sms_mobile_empty' }, { status: 400, body: { code: 9001, error: 'FIELD_EMPTY', message: 'mobile is empty (an SMS challenge needs it)', field: 'mobile' } }],
  [
    { code: 'sms_country_not_allowed', country: '44' },
    { status: 400, body: { code: 9002, error: 'FIELD_INVALID', message: 'mobile is invalid: country code "44" is not allowed for SMS', field: 'mobile' } },
  ],
  [
    { code: 'sms_number_not_given' },
    { status: 400, body: { code: 9001, error: 'FIELD_EMPTY', message: 'mobile is empty (an SMS challenge needs the number, given by the backend)', field: 'mobile' } },
  ],
  [{ code: 'slider_answer_incomplete', missing: 'x' }, { status: 400, body: { code: 9001, error: 'FIELD_EMPTY', message: 'x and track are required for a slider', field: 'x' } }],
  [{ code: 'slider_answer_incomplete', missing: 'track' }, { status: 400, body: { code: 9001, error: 'FIELD_EMPTY', message: 'x and track are required for a slider', field: 'track' } }],
  [{ code: 'sms_code_missing' }, { status: 400, body: { code: 9001, error: 'FIELD_EMPTY', message: 'code is empty', field: 'code' } }],
  [{ code: 'sms_challenge_not_found' }, { status: 404, body: { code: 4040, error: 'NOT_FOUND', message: 'no running SMS challenge with this id', field: 'challenge_id' } }],
  [{ code: 'sms_resend_too_soon', waitSeconds: 42 }, { status: 429, body: { code: 4290, error: 'RATE_LIMITED', message: 'wait 42 s before asking for another code' } }],
  [{ code: 'sms_rate_limited' }, { status: 429, body: { code: 4290, error: 'RATE_LIMITED', message: 'too many codes sent; retry later' } }],
  [{ code: 'sms_send_failed' }, { status: 502, body: { code: 5020, error: 'SMS_FAILED', message: 'the code could not be sent; try again' } }],
  [{ code: 'challenge_state_unavailable' }, { status: 503, body: { code: 5030, error: 'STORE_UNAVAILABLE', message: 'challenge state is unavailable; try again shortly' } }],
  [{ code: 'puzzle_unreadable' }, { status: 400, body: { code: 4001, error: 'PUZZLE_INVALID', message: 'the puzzle is not one this server issued', field: 'puzzle' } }],
  [{ code: 'puzzle_not_issued' }, { status: 400, body: { code: 4001, error: 'PUZZLE_INVALID', message: 'the puzzle was not issued by this server', field: 'puzzle' } }],
  [{ code: 'puzzle_expired' }, { status: 410, body: { code: 4100, error: 'PUZZLE_EXPIRED', message: 'the puzzle has expired; ask for a new one', field: 'puzzle' } }],
  [{ code: 'puzzle_other_app' }, { status: 403, body: { code: 4031, error: 'PUZZLE_FOREIGN', message: 'the puzzle was issued to another app', field: 'puzzle' } }],
  [{ code: 'puzzle_other_network' }, { status: 403, body: { code: 4031, error: 'PUZZLE_FOREIGN', message: 'the puzzle was issued to another network', field: 'puzzle' } }],
  [{ code: 'solution_wrong' }, { status: 400, body: { code: 4002, error: 'SOLUTION_WRONG', message: 'the solution does not solve the puzzle', field: 'solution' } }],
  [{ code: 'proof_invalid' }, { status: 400, body: { code: 4003, error: 'PROOF_INVALID', message: "proof is not the public key's ES256 signature of the puzzle", field: 'proof' } }],
  [{ code: 'puzzle_used' }, { status: 409, body: { code: 4091, error: 'PUZZLE_USED', message: 'the puzzle was already used; ask for a new one', field: 'puzzle' } }],
  [{ code: 'device_enrolled' }, { status: 409, body: { code: 4092, error: 'DEVICE_ENROLLED', message: 'this device key is already enrolled for this app', field: 'public_key' } }],
  [{ code: 'enrollment_state_unavailable' }, { status: 503, body: { code: 5030, error: 'STORE_UNAVAILABLE', message: 'enrollment state is unavailable; try again shortly' } }],
];

describe('service refusals on the wire', () => {
  it.each(ANSWERS)('%o answers as before', (failure, expected) => {
    const error = apiErrorFor(failure);
    expect(error.statusCode).toBe(expected.status);
    expect(error.toBody()).toEqual(expected.body);
  });

  it('every failure code of the table is pinned above', () => {
    expect(new Set(ANSWERS.map(([failure]) => failure.code))).toEqual(new Set(Object.keys(FAILURE_ANSWERS)));
  });
});
