// The demo page: collect a black_box with the RiskGate SDK, post it with the
// form to the shop's backend, and show what RiskGate decided. When RiskGate
// advises a challenge, run it with the SDK (rg.challenge) and let the shop's
// backend confirm the session_id (verify) before the action goes through.
(async function demo() {
  const $ = (id) => document.getElementById(id);
  const OUTCOMES = {
    done: { text: 'Went through', tone: 'good' },
    challenge: { text: 'Verification required', tone: 'warn' },
    review: { text: 'Held for manual review', tone: 'warn' },
    blocked: { text: 'Blocked', tone: 'bad' },
  };
  const CHALLENGES = { none: 'None', slider: 'Slider puzzle', sms: 'SMS code', block: 'Block the action' };
  const RUNS = { slider: 'slider puzzle', sms: 'SMS code' };
  const ADVICE = { none: 'no challenge', slider: 'advises a slider puzzle', sms: 'advises an SMS code', block: 'advises blocking' };
  const DONE = { register: 'Account created', coupon: 'Coupon WELCOME20 added to the account' };
  // What each RiskGateError code of rg.challenge() means to the shop.
  const CHALLENGE_ERRORS = {
    challenge_cancelled: { step: 'The visitor closed the challenge', outcome: 'Not done: verification cancelled', tone: 'warn' },
    challenge_failed: { step: 'The visitor failed the challenge too many times', outcome: 'Refused: verification failed', tone: 'bad' },
    challenge_expired: { step: 'The challenge expired', outcome: 'Not done: verification expired', tone: 'warn' },
    challenge_unavailable: { step: 'RiskGate could not run the challenge', outcome: 'Not done: verification unavailable', tone: 'warn' },
  };

  const config = await fetch('/demo/api/config').then((r) => r.json());
  const rg = window.RiskGate ? window.RiskGate.init({ appKey: config.app_key, endpoint: location.origin }) : null;
  let lastRequest = null;

  const post = async (url, body) => {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { ok: response.ok, body: await response.json() };
  };

  async function run(action, url, fields, button) {
    button.disabled = true;
    const steps = [];
    const t0 = performance.now();
    let blackBox;
    if ($('suspicious-toggle').checked) {
      steps.push('Suspicious visitor: the form is sent without a device token');
    } else {
      try {
        blackBox = rg ? await rg.getBlackBox() : undefined;
        steps.push(blackBox ? `Device token collected in ${Math.round(performance.now() - t0)} ms (${blackBox.length} bytes, encrypted)` : 'SDK not loaded: no device token');
      } catch (error) {
        steps.push(`No device token: ${error.message}`);
      }
    }
    const body = { ...fields, ...(blackBox ? { black_box: blackBox } : {}) };
    lastRequest = { action, url, body };
    $('replay-button').disabled = !blackBox;
    try {
      await send(url, body, steps, action);
    } finally {
      button.disabled = false;
    }
  }

  async function send(url, body, steps, action) {
    const { ok, body: answer } = await post(url, body);
    if (!ok) {
      show({ steps: [...steps, `The shop refused the form: ${answer.message}`] });
      return;
    }
    const { risk } = answer;
    steps.push(`Shop backend asked RiskGate: level ${risk.level}, ${ADVICE[risk.challenge] || risk.challenge} (${answer.backend_ms} ms)`);
    show({ steps, ...answer });
    if (answer.outcome === 'challenge' && answer.challenge) await runChallenge(answer.challenge, action, body.username || body.account);
  }

  /** The advised challenge, then the shop's confirmation: each step shows in the panel. */
  async function runChallenge(challenge, action, account) {
    if (!rg) {
      addStep('SDK not loaded: the challenge cannot run', 'bad');
      return;
    }
    addStep(`The page runs the ${RUNS[challenge.type] || challenge.type}: rg.challenge(challenge_token)`);
    let stopDemoCode;
    try {
      const { session_id: sessionId } = await rg.challenge(challenge.token, {
        onStart({ type, challenge_id: challengeId }) {
          if (type === 'sms') stopDemoCode = showDemoCode(challengeId);
        },
      });
      addStep(`Challenge passed: the SDK gave session_id ${sessionId.slice(0, 10)}…`, 'good');
      const { ok, body: confirm } = await post('/demo/api/confirm', { session_id: sessionId, account, action });
      if (ok && confirm.confirmed) {
        addStep(`Shop backend verified the session with RiskGate: success (${confirm.verify.type}, ${confirm.verify.event}, ${confirm.backend_ms} ms)`, 'good');
        addStep(DONE[action], 'good');
        setOutcome('Went through after verification', 'good');
      } else {
        addStep(`Shop backend could not verify the session: ${confirm.error || confirm.message}`, 'bad');
        setOutcome('Refused: session not verified', 'bad');
      }
    } catch (error) {
      const known = CHALLENGE_ERRORS[error.code] || { step: `The challenge failed: ${error.message}`, outcome: 'Not done', tone: 'bad' };
      addStep(`${known.step} (${error.code || error.name})`, known.tone);
      setOutcome(known.outcome, known.tone);
    } finally {
      if (stopDemoCode) stopDemoCode();
    }
  }

  /**
   * DEMO ONLY. RiskGate's development SMS provider sends nothing; the demo
   * backend reads the code it "sent" so that you can pass without a phone.
   */
  function showDemoCode(challengeId) {
    const note = document.createElement('div');
    note.className = 'demo-code';
    note.setAttribute('role', 'status');
    const label = Object.assign(document.createElement('span'), { className: 'demo-label', textContent: 'Demo only' });
    const text = Object.assign(document.createElement('span'), { textContent: 'Waiting for the SMS code…' });
    note.append(label, text);
    // After the dialog in the page, so it shows above its backdrop.
    document.body.append(note);
    let shown = '';
    const poll = async () => {
      try {
        const response = await fetch(`/demo/api/sms-code?challenge_id=${encodeURIComponent(challengeId)}`);
        if (!response.ok) return;
        const { sms_code: code } = await response.json();
        if (code && code !== shown) {
          shown = code;
          text.textContent = `Demo: your code is ${code}`;
          addStep(`Demo only: the development SMS provider "sent" ${code}`);
        }
      } catch {
        // Try again on the next tick.
      }
    };
    const timer = setInterval(poll, 1000);
    poll();
    return () => {
      clearInterval(timer);
      note.remove();
    };
  }

  function addStep(text, tone) {
    const li = Object.assign(document.createElement('li'), { textContent: text });
    if (tone) li.className = tone;
    $('steps').append(li);
  }

  function setOutcome(text, tone) {
    $('outcome').textContent = text;
    $('outcome').className = `outcome ${tone}`;
  }

  function show({ steps, outcome, risk }) {
    $('empty').hidden = true;
    $('result').hidden = false;
    $('steps').replaceChildren(...steps.map((s) => Object.assign(document.createElement('li'), { textContent: s })));
    if (!risk) return;
    const decision = $('decision');
    decision.textContent = risk.decision;
    decision.className = `decision ${risk.decision}`;
    const o = OUTCOMES[outcome] || OUTCOMES.done;
    setOutcome(risk.fallback ? `${o.text} (RiskGate unavailable: fallback)` : o.text, o.tone);
    $('score').textContent = risk.score;
    $('level').textContent = risk.level;
    $('meter-fill').style.width = `${Math.max(2, risk.score)}%`;
    $('meter-fill').className = `level-${risk.level}`;
    $('challenge').textContent = CHALLENGES[risk.challenge] || risk.challenge;
    $('device').textContent = risk.device_id ? `${risk.device_id.slice(0, 16)}…` : '—';
    $('device').title = risk.device_id || '';
    $('sequence').textContent = risk.sequence_id || '—';
    $('reasons').replaceChildren(
      ...(risk.reasons.length ? risk.reasons : [{ id: 'none', reason: 'Nothing suspicious' }]).map((r) => {
        const li = document.createElement('li');
        li.append(Object.assign(document.createElement('span'), { textContent: r.reason }), Object.assign(document.createElement('code'), { textContent: r.id }));
        return li;
      }),
    );
    $('tags').replaceChildren(
      ...(risk.tags.length ? risk.tags : ['clean']).map((t) => Object.assign(document.createElement('span'), { className: `tag ${t === 'clean' ? 'clean' : ''}`, textContent: t })),
    );
  }

  $('register-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const fields = { username: form.get('username') };
    if (form.get('email')) fields.email = form.get('email');
    if (form.get('mobile')) fields.mobile = form.get('mobile');
    run('register', '/demo/api/register', fields, $('register-button'));
  });
  $('coupon-form').addEventListener('submit', (event) => {
    event.preventDefault();
    run('coupon', '/demo/api/coupon', { account: new FormData(event.target).get('account') }, $('coupon-button'));
  });
  $('replay-button').addEventListener('click', () => {
    if (lastRequest) send(lastRequest.url, lastRequest.body, ['Replayed the previous request with its device token'], lastRequest.action);
  });
})();
