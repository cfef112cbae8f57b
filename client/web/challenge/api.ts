/**
 * The challenge endpoints, as the browser calls them: every body carries the
 * app's public key (`app_key`); the server checks the page's Origin against the
 * app's allowed origins. No cookies are sent.
 */
import type { ChallengeAnswerResponse, ChallengeStartResponse, SmsSendResponse } from '../../../shared/schemas.js';
import type { Answer, ChallengeStart } from '../../core/challenge/contract.js';
import type { RiskGateError, RiskGateErrorCode } from '../../core/errors.js';

/** One request's budget: a slow phone network, not a hung server. */
const REQUEST_TIMEOUT_MS = 15_000;

export interface ChallengeApi {
  start(start: ChallengeStart): Promise<ChallengeStartResponse>;
  answer(challengeId: string, answer: { x: number; track: number[][]; pow?: { counter: number; derived_key: string } } | { code: string }): Promise<Answer<ChallengeAnswerResponse>>;
  sendSms(challengeId: string): Promise<Answer<SmsSendResponse>>;
  error(code: RiskGateErrorCode, message: string, cause?: unknown): RiskGateError;
}

export function challengeApi(win: Window & typeof globalThis, endpoint: string, appKey: string, Err: typeof RiskGateError): ChallengeApi {
  const error = (code: RiskGateErrorCode, message: string, cause?: unknown) => new Err(code, `RiskGate: ${message}`, cause === undefined ? undefined : { cause });

  async function post<T>(path: string, body: object): Promise<Answer<T>> {
    const controller = typeof win.AbortController === 'function' ? new win.AbortController() : undefined;
    const timer = win.setTimeout(() => controller?.abort(), REQUEST_TIMEOUT_MS);
    try {
      const response = await win.fetch(`${endpoint}${path}`, {
        method: 'POST',
        credentials: 'omit',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ app_key: appKey, ...body }),
        signal: controller?.signal,
      });
      let parsed: Answer<T>['body'] = {};
      try {
        parsed = (await response.json()) as Answer<T>['body'];
      } catch {
        // A proxy's HTML error page: the status says enough.
      }
      return { status: response.status, body: parsed ?? {} };
    } catch (cause) {
      return { status: 0, body: { message: cause instanceof Error ? cause.message : String(cause) } as Answer<T>['body'] };
    } finally {
      win.clearTimeout(timer);
    }
  }

  return {
    error,
    async start(start) {
      const { status, body } = await post<ChallengeStartResponse>('/v1/challenges', start);
      if (status === 200 && typeof body.challenge_id === 'string') return body as ChallengeStartResponse;
      // 404: the challenge_token is unknown, already used or expired.
      if (status === 404) throw error('challenge_expired', 'the challenge token is unknown, used or expired');
      throw error('challenge_unavailable', status === 0 ? `cannot reach ${endpoint} (${body.message})` : `starting the challenge failed: HTTP ${status} ${body.message ?? ''}`.trim());
    },
    answer: (id, answer) => post(`/v1/challenges/${encodeURIComponent(id)}/answer`, answer),
    sendSms: (id) => post(`/v1/challenges/${encodeURIComponent(id)}/sms`, {}),
  };
}
