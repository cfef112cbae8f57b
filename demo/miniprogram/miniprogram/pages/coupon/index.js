// Coupon claim: the same flow as registration, with the check run through the
// promise API: `rg.challenge(token)` shows the <riskgate-slider> or
// <riskgate-sms> on this page and resolves with the session_id.
const { server } = require('../../config.js');
const { post } = require('../../utils/http.js');
const { resultView } = require('../../utils/result.js');

const app = getApp();

Page({
  data: { account: '', busy: false, result: null, verified: '', challengeError: '' },

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
    this.setData({ account: event.detail.value });
  },

  claim() {
    const steps = [];
    const startedAt = Date.now();
    this.setData({ busy: true, verified: '', challengeError: '' });
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
      .then((blackBox) => post(`${server}/demo/api/coupon`, { account: this.data.account, ...(blackBox ? { black_box: blackBox } : {}) }))
      .then((answer) => {
        this.setData({ busy: false, result: resultView(answer, steps) });
        if (!answer.risk.challenge_token || !this.rg) return undefined;
        return this.rg.challenge(answer.risk.challenge_token).then(
          (passed) => this.setData({ verified: passed.session_id }),
          (error) => this.setData({ challengeError: error.code || error.message }),
        );
      })
      .catch((error) => this.setData({ busy: false, result: { steps: steps.concat(`The shop refused the claim: ${error.message}`) } }));
  },
});
