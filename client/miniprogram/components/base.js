/**
 * What <riskgate-slider> and <riskgate-sms> share: the `token` property, the
 * registry through which `rg.challenge()` reaches them, and how a challenge
 * ends (`success` with {session_id}, `fail` with {code}).
 *
 * Both find the SDK instance through the module registry (the last `init`),
 * so a page passes nothing but, optionally, a challenge_token. Their touches
 * bubble to the page like any other, so a page that forwards touches to
 * `rg.trackTouch` counts them once.
 */
const sdk = require('../index.js');

const ENDED_TEXT = {
  challenge_failed: 'failed',
  challenge_expired: 'expired',
  challenge_unavailable: 'unavailable',
};

function pick(texts, keys) {
  const out = {};
  keys.forEach((key) => {
    out[key] = texts[key];
  });
  return out;
}

function riskgateError(code, message) {
  return new sdk.RiskGateError(code, 'RiskGate: ' + message);
}

/**
 * A Component definition for a challenge of `type`, with the component's own
 * `data`, `methods`, the static `texts` its template shows, `open(session)`
 * (draw a started session) and `close()` (stop timers).
 */
function challengeComponent(type, own) {
  return {
    options: { styleIsolation: 'isolated' },
    properties: {
      /** A challenge_token from evaluate: setting it starts the challenge. */
      token: { type: String, value: '' },
    },
    data: Object.assign({ state: 'idle', message: '', tone: '', t: {} }, own.data),
    observers: {
      token(token) {
        // A token is spent by its first start: setting the same one again is not a new challenge.
        if (token && token !== this._startedToken) this.start(token);
      },
    },
    lifetimes: {
      attached() {
        this._texts = sdk.challengeTexts();
        this.setData({ t: pick(this._texts, ['close', 'brand', 'loading', 'checking', 'passed'].concat(own.texts)) });
        this._unregister = sdk.registerChallengeUi({ type, run: (session) => this._run(session) });
      },
      detached() {
        if (this._unregister) this._unregister();
        own.close.call(this);
        this._settle(undefined, riskgateError('challenge_cancelled', 'the component was removed'));
      },
    },
    methods: Object.assign(
      {
        /** Starts the challenge a challenge_token stands for (what setting `token` does). */
        start(token) {
          this._startedToken = token;
          const client = sdk.getClient();
          if (!client) return this._end(riskgateError('challenge_unavailable', 'call init() before showing a challenge'));
          this.setData({ state: 'loading', message: '', tone: '' });
          client.openChallenge({ challenge_token: token }).then(
            (session) => {
              if (session.type !== type) return this._end(riskgateError('challenge_unavailable', 'this challenge is ' + session.type + ', not ' + type));
              this._run(session).catch(() => {});
            },
            (error) => this._end(error),
          );
        },
        onCancel() {
          this._end(riskgateError('challenge_cancelled', 'the user closed the challenge'));
        },
        /** Shows `session`; settles with {session_id} or a RiskGateError. */
        _run(session) {
          this._settle(undefined, riskgateError('challenge_cancelled', 'another challenge started'));
          this._session = session;
          return new Promise((resolve, reject) => {
            this._pending = { resolve, reject };
            own.open.call(this, session);
          });
        },
        _pass(sessionId) {
          this.setData({ state: 'passed', message: this._texts.passed, tone: 'good' });
          this.triggerEvent('success', { session_id: sessionId });
          this._settle({ session_id: sessionId });
        },
        _end(error) {
          const code = (error && error.code) || 'challenge_unavailable';
          own.close.call(this);
          if (code === 'challenge_cancelled') this.setData({ state: 'idle', message: '', tone: '' });
          else this.setData({ state: 'ended', message: this._texts[ENDED_TEXT[code] || 'unavailable'], tone: 'bad' });
          this.triggerEvent('fail', { code });
          this._settle(undefined, error && error.code ? error : riskgateError(code, String((error && error.message) || error)));
        },
        _settle(result, error) {
          const pending = this._pending;
          this._pending = undefined;
          if (!pending) return;
          this._session = undefined;
          if (result) pending.resolve(result);
          else pending.reject(error);
        },
      },
      own.methods,
    ),
  };
}

module.exports = { sdk, challengeComponent };
