/**
 * One challenge from start to end: open the dialog, start the challenge
 * (`POST /v1/challenges`), show the slider or the SMS form, and settle the
 * caller's promise exactly once: `{ session_id }`, or a RiskGateError.
 */
import type { ChallengeAnswerResponse } from '../../../shared/schemas.js';
import type { Answer, ChallengeResult } from '../../core/challenge/contract.js';
import { textsFor } from '../../core/challenge/texts.js';
import type { RiskGateErrorCode } from '../../core/errors.js';
import { challengeApi } from './api.js';
import type { ChallengeRequest } from './contract.js';
import { openDialog } from './dialog.js';
import { h } from './dom.js';
import { mountSlider } from './slider.js';
import { mountSms } from './sms.js';

/** How long the dialog shows a final word (passed, too many attempts …) before it closes. */
const PASSED_MS = 600;
const FAILED_MS = 1600;

export function runChallenge(request: ChallengeRequest): Promise<ChallengeResult> {
  const { endpoint, appKey, start, options, Err } = request;
  if ('challenge_token' in start && (typeof start.challenge_token !== 'string' || start.challenge_token === '')) {
    return Promise.reject(new TypeError('RiskGate.challenge: challengeToken must be the challenge_token string from evaluate'));
  }
  const win = globalThis as unknown as Window & typeof globalThis;
  // The page's own language, else the browser's.
  const texts = textsFor(win.document.documentElement.lang || win.navigator?.language || '');
  const api = challengeApi(win, endpoint, appKey, Err);

  return new Promise<ChallengeResult>((resolve, reject) => {
    let settled = false;
    const finish = (result: ChallengeResult | Error, delayMs = 0) => {
      if (settled) return;
      settled = true;
      const done = () => {
        dialog.close();
        if (result instanceof Error) reject(result);
        else resolve(result);
      };
      if (delayMs > 0) win.setTimeout(done, delayMs);
      else done();
    };
    const fail = (code: RiskGateErrorCode, message: string, words: string, error = api.error(code, message)) => {
      if (settled) return;
      dialog.setStatus(words, 'error');
      finish(error, FAILED_MS);
    };
    const dialog = openDialog(win, texts, () => finish(api.error('challenge_cancelled', 'the user closed the challenge')));

    /** Ends the challenge on an answer that is not a retry. */
    const settle = (answer: Answer<ChallengeAnswerResponse>) => {
      const { status, body } = answer;
      if (status === 200 && body.success && typeof body.session_id === 'string') {
        dialog.setStatus(texts.passed, 'success');
        return finish({ session_id: body.session_id }, PASSED_MS);
      }
      if (status === 200 && body.failure === 'too_many_attempts') return fail('challenge_failed', 'too many failed attempts', texts.failed);
      if (status === 200 && (body.failure === 'expired' || body.failure === 'not_found')) return fail('challenge_expired', 'the challenge expired', texts.expired);
      fail('challenge_unavailable', status === 0 ? `cannot reach ${endpoint} (${body.message})` : `answering failed: HTTP ${status} ${body.message ?? ''}`.trim(), texts.unavailable);
    };

    dialog.setHeading(texts.sliderTitle, texts.sliderDesc);
    // A placeholder the size of the puzzle while the challenge starts.
    const doc = win.document;
    dialog.content.append(h(doc, 'div', { class: 'puzzle' }, h(doc, 'div', { class: 'spinner' }, h(doc, 'span', {}, texts.loading))));
    dialog.focus();

    api.start(start).then(
      (started) => {
        if (settled) return;
        const id = started.challenge_id;
        dialog.setStatus('');
        if (started.type === 'slider' && started.slider) {
          mountSlider(win, dialog, texts, started.slider, {
            submit: (answer) => api.answer(id, answer),
            settle,
          });
          dialog.focus();
        } else if (started.type === 'sms') {
          dialog.setHeading(texts.smsTitle, texts.smsDesc);
          mountSms(win, dialog, texts, started.sms?.masked_mobile ?? '', {
            send: () => api.sendSms(id),
            submit: (code) => api.answer(id, { code }),
            settle,
            expired: () => fail('challenge_expired', 'the challenge expired', texts.expired),
          });
        } else {
          return fail('challenge_unavailable', `unsupported challenge type ${String(started.type)}`, texts.unavailable);
        }
        try {
          options?.onStart?.({ challenge_id: id, type: started.type });
        } catch {
          // The page's callback must not break the challenge.
        }
      },
      (error: unknown) => {
        const known = error instanceof Err ? error : api.error('challenge_unavailable', String(error), error);
        fail(known.code, known.message, known.code === 'challenge_expired' ? texts.expired : texts.unavailable, known);
      },
    );
  });
}
