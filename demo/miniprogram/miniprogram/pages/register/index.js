// Registration: collect a black_box, post it with the form to the shop's
// backend (which calls /v1/risk/evaluate), show the verdict, and run the check
// RiskGate advises in <riskgate-slider> or <riskgate-sms> (token property).
const { server } = require('../../config.js');
const { post } = require('../../utils/http.js');
const { resultView } = require('../../utils/result.js');

const app = getApp();

Page({
  data: { username: '', email: '', mobile: '', busy: false, result: null, challenge: '', challengeToken: '', verified: '', challengeError: '' },

  onLoad() {
    app.riskGate.then((rg) => {
      this.rg = rg;
    });
  },

  onTouch(event) {
    if (this.rg) this.rg.trackTouch(event);
  },

  onInput(event) {
    this.onTouch(event);
    this.setData({ [event.currentTarget.dataset.field]: event.detail.value });
  },

  submit() {
    const { username, email, mobile } = this.data;
    const steps = [];
    const startedAt = Date.now();
    this.setData({ busy: true, challenge: '', challengeToken: '', verified: '', challengeError: '' });
    app.riskGate
      .then((rg) => rg.getBlackBox())
      .then(
        (blackBox) => {
          steps.push(`Device token collected in ${Date.now() - startedAt} ms (${blackBox.length} bytes, encrypted)`);
          return blackBox;
        },
        (error) => {
          steps.push(`No device token: ${error.message}`);
          return undefined;
        },
      )
      .then((blackBox) =>
        post(`${server}/demo/api/register`, {
          username,
          ...(email ? { email } : {}),
          ...(mobile ? { mobile } : {}),
          ...(blackBox ? { black_box: blackBox } : {}),
        }),
      )
      .then((answer) => {
        const token = answer.risk.challenge_token || '';
        this.setData({ busy: false, result: resultView(answer, steps), challenge: token ? answer.risk.challenge : '', challengeToken: token });
      })
      .catch((error) => this.setData({ busy: false, result: { steps: steps.concat(`The shop refused the form: ${error.message}`) } }));
  },

  onVerified(event) {
    this.setData({ challenge: '', verified: event.detail.session_id });
  },

  onChallengeFailed(event) {
    this.setData({ challenge: '', challengeError: event.detail.code });
  },
});
