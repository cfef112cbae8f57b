/**
 * <riskgate-sms>: the SMS-code step of a RiskGate challenge.
 *
 *   <riskgate-sms token="{{challengeToken}}" bind:success="onVerified" bind:fail="onFailed" />
 *
 * Setting `token` (a challenge_token from evaluate) starts it; or call
 * `rg.challenge(token)`, which finds the component on the page. It sends the
 * code at once (to the number the backend gave evaluate; the page only ever
 * sees its mask), takes the 6-digit code, and offers a resend when the
 * server's countdown is over. Events: `success` {session_id}, `fail` {code}.
 */
const { challengeComponent } = require('../base.js');

Component(
  challengeComponent('sms', {
    texts: ['smsTitle', 'smsDesc', 'codeLabel', 'verify', 'resend'],
    data: { notice: '', code: '', countdown: 0, resendLabel: '', sending: false },
    open(session) {
      this.setData({ state: 'ready', code: '', countdown: 0, message: '', tone: '', notice: session.maskedMobile ? this._texts.sending(session.maskedMobile) : '' });
      this._send();
    },
    close() {
      if (this._timer) clearInterval(this._timer);
      this._timer = undefined;
    },
    methods: {
      onInput(event) {
        const code = String((event.detail && event.detail.value) || '')
          .replace(/\D/g, '')
          .slice(0, 6);
        this.setData({ code });
        return code;
      },
      onSend() {
        if (this.data.state === 'ready' && !this.data.sending && this.data.countdown === 0) this._send();
      },
      onVerify() {
        const session = this._session;
        const code = this.data.code;
        if (!session || this.data.state !== 'ready') return;
        if (!/^\d{6}$/.test(code)) return this.setData({ message: this._texts.needCode, tone: 'bad' });
        this.setData({ state: 'checking', message: '', tone: '' });
        session.answerSms(code).then((outcome) => {
          if (this._session !== session) return undefined;
          if (outcome.kind === 'passed') return this._pass(outcome.session_id);
          if (outcome.kind === 'ended') return this._end(outcome.error);
          const texts = this._texts;
          const message =
            outcome.kind === 'offline'
              ? texts.offline
              : outcome.reason === 'code_expired'
                ? texts.codeExpired
                : outcome.reason === 'code_not_sent'
                  ? texts.codeNotSent
                  : texts.wrongCode(outcome.attempts_left);
          // An expired code can be replaced at once.
          if (outcome.kind === 'retry' && outcome.reason === 'code_expired') this._countdown(0);
          return this.setData({ state: 'ready', code: outcome.kind === 'offline' ? code : '', message, tone: 'bad' });
        });
        return undefined;
      },
      _send() {
        const session = this._session;
        if (!session) return;
        this.setData({ sending: true });
        session.sendSms().then((outcome) => {
          if (this._session !== session) return undefined;
          this.setData({ sending: false });
          const texts = this._texts;
          switch (outcome.kind) {
            case 'sent':
              this.setData({ notice: texts.sent(outcome.masked_mobile), message: '', tone: '' });
              return this._countdown(outcome.resend_after_seconds);
            case 'wait':
              return this.setData({ message: texts.wait, tone: 'bad' });
            case 'send_failed':
              return this.setData({ message: texts.sendFailed, tone: 'bad' });
            case 'offline':
              return this.setData({ message: texts.offline, tone: 'bad' });
            default:
              return this._end(outcome.error);
          }
        });
      },
      _countdown(seconds) {
        if (this._timer) clearInterval(this._timer);
        this._timer = undefined;
        let left = Math.max(0, Math.round(seconds));
        const show = () => this.setData({ countdown: left, resendLabel: left > 0 ? this._texts.resendIn(left) : '' });
        show();
        if (left === 0) return;
        this._timer = setInterval(() => {
          left -= 1;
          show();
          if (left <= 0) this.close();
        }, 1000);
      },
    },
  }),
);
