/**
 * Challenges in a mini-program: the `/v1/challenges` calls (through
 * wx.request), a `ChallengeSession` that turns their answers into outcomes a
 * UI can show, and the registry through which the `<riskgate-slider>` and
 * `<riskgate-sms>` components offer themselves to `rg.challenge()`.
 *
 * Error codes are the core's (client/core/errors.ts): `challenge_failed`,
 * `challenge_cancelled`, `challenge_expired`, `challenge_unavailable`.
 */
import type { ChallengeAnswerResponse, ChallengeStartResponse, SliderPuzzleView, SmsSendResponse } from '../../../shared/schemas.js';
import type { ChallengeOptions, ChallengeResult, ChallengeStart } from '../../core/challenge/contract.js';
import { solvePow, type PowSolution, type Sha256 } from '../../core/challenge/pow.js';
import { RiskGateError, type RiskGateErrorCode } from '../../core/errors.js';
import { wxRequest, type Answer } from './transport.js';
import type { Wx } from './wx.js';

/** One request's budget: a slow phone network, not a hung server. */
export const CHALLENGE_REQUEST_TIMEOUT_MS = 15_000;

export type ChallengeType = 'slider' | 'sms';

const error = (code: RiskGateErrorCode, message: string, cause?: unknown) =>
  new RiskGateError(code, `RiskGate: ${message}`, cause === undefined ? undefined : { cause });

/** What an answer led to. `offline`: nothing was decided (network, 5xx, 429); the same step can be tried again. */
export type AnswerOutcome =
  | { kind: 'passed'; session_id: string }
  | { kind: 'retry'; reason: 'wrong' | 'code_expired' | 'code_not_sent'; attempts_left: number; slider?: SliderPuzzleView }
  | { kind: 'ended'; error: RiskGateError }
  | { kind: 'offline'; error: RiskGateError };

export type SendOutcome =
  | { kind: 'sent'; masked_mobile: string; resend_after_seconds: number }
  /** Asked again too soon (HTTP 429). */
  | { kind: 'wait' }
  /** The SMS provider failed (HTTP 502). */
  | { kind: 'send_failed' }
  | { kind: 'ended'; error: RiskGateError }
  | { kind: 'offline'; error: RiskGateError };

export interface ChallengeApi {
  post<T>(path: string, body: object): Promise<Answer<T>>;
  /** SHA-256 for the slider's proof of work (from the crypto chunk); without it answers carry no solution and fail. */
  sha256?: () => Promise<Sha256>;
}

export function challengeApi(wx: Wx, endpoint: string, appKey: string, sha256?: () => Promise<Sha256>): ChallengeApi {
  return {
    post: (path, body) => wxRequest(wx, 'POST', `${endpoint}${path}`, { app_key: appKey, ...body }, CHALLENGE_REQUEST_TIMEOUT_MS),
    ...(sha256 ? { sha256 } : {}),
  };
}

const offline = (answer: Answer<unknown>): { kind: 'offline'; error: RiskGateError } => ({
  kind: 'offline',
  error: error('challenge_unavailable', answer.status === 0 ? `cannot reach RiskGate (${answer.body.message})` : `HTTP ${answer.status} ${answer.body.message ?? ''}`.trim()),
});

/** A started challenge. One UI drives it; it holds no timers and no UI state. */
export class ChallengeSession {
  readonly id: string;
  readonly type: ChallengeType;
  readonly expiresAt: string;
  attemptsLeft: number;
  /** The current puzzle (slider). */
  slider: SliderPuzzleView | undefined;
  /** The current puzzle's proof of work, solving since the puzzle arrived. */
  private pow: Promise<PowSolution | undefined> = Promise.resolve(undefined);
  /** The masked number the code goes to (SMS). */
  maskedMobile: string;

  constructor(
    private readonly api: ChallengeApi,
    started: ChallengeStartResponse,
  ) {
    this.id = started.challenge_id;
    this.type = started.type;
    this.expiresAt = started.expires_at;
    this.attemptsLeft = started.attempts_left;
    this.setSlider(started.slider);
    this.maskedMobile = started.sms?.masked_mobile ?? '';
  }

  private setSlider(slider: SliderPuzzleView | undefined): void {
    this.slider = slider;
    const view = slider?.pow;
    // SHA-256 comes from the crypto chunk (required on first use, as tokens do).
    // Without it the answer goes without a solution, and fails like a wrong one.
    this.pow =
      view && this.api.sha256
        ? this.api.sha256().then(
            (sha256) => solvePow(view, sha256),
            () => undefined,
          )
        : Promise.resolve(undefined);
  }

  private path(step: 'answer' | 'sms') {
    return `/v1/challenges/${encodeURIComponent(this.id)}/${step}`;
  }

  /** Slider: where the piece was released (image px) and the drag track `[t, x, y][]`. */
  async answerSlider(answer: { x: number; track: number[][] }): Promise<AnswerOutcome> {
    const pow = await this.pow;
    return this.outcome(await this.api.post<ChallengeAnswerResponse>(this.path('answer'), { ...answer, ...(pow ? { pow } : {}) }));
  }

  /** SMS: the 6-digit code. */
  async answerSms(code: string): Promise<AnswerOutcome> {
    return this.outcome(await this.api.post<ChallengeAnswerResponse>(this.path('answer'), { code }));
  }

  /** SMS: sends (or resends) the code. */
  async sendSms(): Promise<SendOutcome> {
    const answer = await this.api.post<SmsSendResponse>(this.path('sms'), {});
    const { status, body } = answer;
    if (status === 200 && body.sent) {
      if (body.masked_mobile) this.maskedMobile = body.masked_mobile;
      return { kind: 'sent', masked_mobile: this.maskedMobile, resend_after_seconds: body.resend_after_seconds ?? 60 };
    }
    if (status === 429) return { kind: 'wait' };
    if (status === 502) return { kind: 'send_failed' };
    if (status === 404) return { kind: 'ended', error: error('challenge_expired', 'the challenge is unknown or expired') };
    return offline(answer);
  }

  private outcome(answer: Answer<ChallengeAnswerResponse>): AnswerOutcome {
    const { status, body } = answer;
    if (status !== 200) return offline(answer);
    if (body.success && typeof body.session_id === 'string') return { kind: 'passed', session_id: body.session_id };
    if (typeof body.attempts_left === 'number') this.attemptsLeft = body.attempts_left;
    switch (body.failure) {
      case 'failed':
        if (body.slider) this.setSlider(body.slider);
        return { kind: 'retry', reason: 'wrong', attempts_left: this.attemptsLeft, ...(body.slider ? { slider: body.slider } : {}) };
      case 'too_many_attempts':
        return { kind: 'ended', error: error('challenge_failed', 'too many wrong answers') };
      case 'code_not_sent':
        return { kind: 'retry', reason: 'code_not_sent', attempts_left: this.attemptsLeft };
      case 'expired':
        // An SMS code expires before its challenge: the answer still says how many attempts remain.
        if (this.type === 'sms' && typeof body.attempts_left === 'number') return { kind: 'retry', reason: 'code_expired', attempts_left: this.attemptsLeft };
        return { kind: 'ended', error: error('challenge_expired', 'the challenge has expired') };
      default:
        return { kind: 'ended', error: error('challenge_expired', 'the challenge is unknown or expired') };
    }
  }
}

/** Starts a challenge: `{challenge_token}` from evaluate, or `{type: "slider"}` for a standalone captcha. */
export async function openChallenge(api: ChallengeApi, start: ChallengeStart): Promise<ChallengeSession> {
  const answer = await api.post<ChallengeStartResponse>('/v1/challenges', start);
  const { status, body } = answer;
  if (status === 200 && typeof body.challenge_id === 'string' && (body.type === 'slider' || body.type === 'sms')) {
    return new ChallengeSession(api, body as ChallengeStartResponse);
  }
  // 404: the challenge_token is unknown, already used or expired.
  if (status === 404) throw error('challenge_expired', 'the challenge token is unknown, used or expired');
  throw offline(answer).error;
}

// ---------------------------------------------------------------- the components' registry

/** A mounted challenge component, as it offers itself to `rg.challenge()`. */
export interface ChallengeUi {
  readonly type: ChallengeType;
  /** Shows the session and settles when it passes (session_id) or ends (RiskGateError). */
  run(session: ChallengeSession, options?: ChallengeOptions): Promise<ChallengeResult>;
}

// Created on first use; the latest mounted component of a type wins (the page on top of the stack).
let mounted: ChallengeUi[] | undefined;

/** Called by the components when attached; returns the function to call when detached. */
export function registerChallengeUi(ui: ChallengeUi): () => void {
  (mounted ??= []).push(ui);
  return () => {
    const index = mounted?.lastIndexOf(ui) ?? -1;
    if (index >= 0) mounted!.splice(index, 1);
  };
}

export function challengeUiFor(type: ChallengeType): ChallengeUi | undefined {
  const list = mounted ?? [];
  for (let i = list.length - 1; i >= 0; i--) if (list[i]!.type === type) return list[i];
  return undefined;
}

export function hasChallengeUi(): boolean {
  return (mounted?.length ?? 0) > 0;
}

/** `rg.challenge()` and `rg.slider()`: start, then hand the session to a mounted component. */
export async function runChallenge(api: ChallengeApi, start: ChallengeStart, options?: ChallengeOptions): Promise<ChallengeResult> {
  // Checked before the token is spent: without any component nothing can be shown.
  if (!hasChallengeUi()) throw error('challenge_unavailable', 'no <riskgate-slider> or <riskgate-sms> component is on the page');
  const session = await openChallenge(api, start);
  const ui = challengeUiFor(session.type);
  if (!ui) throw error('challenge_unavailable', `the challenge is ${session.type}, and no <riskgate-${session.type}> component is on the page`);
  try {
    options?.onStart?.({ challenge_id: session.id, type: session.type });
  } catch {
    // The page's callback must not break the challenge.
  }
  return ui.run(session, options);
}
