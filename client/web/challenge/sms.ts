/**
 * The SMS code form: sends the code when it opens (the number is the one the
 * backend gave evaluate, shown masked), then takes the 6 digits. Problems with
 * sending or a wrong code are shown in the form; only the end of the challenge
 * (attempts used up, expired) closes it.
 */
import type { ChallengeAnswerResponse, SmsSendResponse } from '../../../shared/schemas.js';
import type { Answer } from '../../core/challenge/contract.js';
import type { Dialog } from './dialog.js';
import { h } from './dom.js';
import type { Texts } from '../../core/challenge/texts.js';

export interface SmsHooks {
  send(): Promise<Answer<SmsSendResponse>>;
  submit(code: string): Promise<Answer<ChallengeAnswerResponse>>;
  /** The answer ends the challenge: pass, or fail with its error. */
  settle(answer: Answer<ChallengeAnswerResponse>): void;
  /** The challenge is gone (404 on send). */
  expired(): void;
}

/** When a 429 does not say how long to wait. */
const DEFAULT_WAIT_SECONDS = 30;

export function mountSms(win: Window & typeof globalThis, dialog: Dialog, texts: Texts, masked: string, hooks: SmsHooks): void {
  const { doc } = dialog;
  const number = h(doc, 'strong', {}, masked);
  const sentLine = h(doc, 'p', { class: 'number' }, texts.sending(masked));
  const input = h(doc, 'input', {
    id: 'rg-code',
    class: 'code',
    type: 'text',
    inputmode: 'numeric',
    autocomplete: 'one-time-code',
    pattern: '[0-9]{6}',
    maxlength: 6,
    placeholder: '······',
    enterkeyhint: 'done',
    spellcheck: 'false',
    'aria-describedby': 'rg-status',
  });
  const verify = h(doc, 'button', { type: 'submit', class: 'primary' }, texts.verify);
  const resend = h(doc, 'button', { type: 'button', class: 'link', disabled: true }, texts.resend);
  const form = h(doc, 'form', { class: 'sms', novalidate: true }, sentLine, h(doc, 'label', { for: 'rg-code' }, texts.codeLabel), input, h(doc, 'div', { class: 'row' }, verify, resend));
  dialog.content.replaceChildren(form);

  let countdown: number | undefined;
  let sending = false;
  let checking = false;

  const stopCountdown = () => {
    if (countdown !== undefined) win.clearInterval(countdown);
    countdown = undefined;
  };
  dialog.onClose(stopCountdown);

  /** Disables "resend" for `seconds`, showing the time left. */
  const wait = (seconds: number) => {
    stopCountdown();
    let left = Math.max(0, Math.ceil(seconds));
    const tick = () => {
      resend.disabled = left > 0 || sending;
      resend.textContent = left > 0 ? texts.resendIn(left) : texts.resend;
      if (left-- <= 0) stopCountdown();
    };
    tick();
    if (left >= 0) countdown = win.setInterval(tick, 1000);
  };

  const send = async () => {
    if (sending) return;
    sending = true;
    resend.disabled = true;
    const { status, body } = await hooks.send();
    sending = false;
    if (status === 200) {
      const shown = body.masked_mobile || masked;
      number.textContent = shown;
      sentLine.replaceChildren(...texts.sent('\u0000').split('\u0000').flatMap((part, i) => (i === 0 ? [part] : [number, part])));
      dialog.setStatus('');
      wait(body.resend_after_seconds ?? DEFAULT_WAIT_SECONDS);
    } else if (status === 404) {
      hooks.expired();
    } else if (status === 429) {
      dialog.setStatus(texts.wait, 'error');
      const seconds = /wait (\d+)/.exec(body.message ?? '')?.[1];
      wait(seconds ? Number(seconds) : DEFAULT_WAIT_SECONDS);
    } else {
      dialog.setStatus(status === 0 ? texts.offline : texts.sendFailed, 'error');
      wait(0);
    }
  };

  const check = async () => {
    if (checking) return;
    const code = input.value.replace(/\D/g, '');
    if (code.length !== 6) {
      input.setAttribute('aria-invalid', 'true');
      dialog.setStatus(texts.needCode, 'error');
      input.focus();
      return;
    }
    checking = true;
    verify.disabled = true;
    input.removeAttribute('aria-invalid');
    dialog.setStatus(texts.checking);
    const answer = await hooks.submit(code);
    checking = false;
    verify.disabled = false;
    const { status, body } = answer;
    const retry = (message: string) => {
      input.setAttribute('aria-invalid', 'true');
      dialog.setStatus(message, 'error');
      input.select();
      input.focus();
    };
    if (status === 200 && body.success === false && body.attempts_left !== undefined && body.attempts_left > 0) {
      if (body.failure === 'failed') return retry(texts.wrongCode(body.attempts_left));
      if (body.failure === 'expired') return retry(texts.codeExpired);
      if (body.failure === 'code_not_sent') return retry(texts.codeNotSent);
    }
    if (status === 400) return retry(texts.needCode);
    if (status === 0) return retry(texts.offline);
    if (status === 200 && body.success) dialog.setStatus(texts.passed, 'success');
    hooks.settle(answer);
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void check();
  });
  input.addEventListener('input', () => {
    const digits = input.value.replace(/\D/g, '').slice(0, 6);
    if (digits !== input.value) input.value = digits;
    input.removeAttribute('aria-invalid');
    // An autofilled or pasted code submits itself.
    if (digits.length === 6) void check();
  });
  resend.addEventListener('click', () => void send());

  void send();
  dialog.focus(input);
}
