// The demo page: collect a black_box with the RiskGate SDK, post it with the
// form to the shop's backend, and show what RiskGate decided.
(async function demo() {
  const $ = (id) => document.getElementById(id);
  const OUTCOMES = {
    done: { text: 'Went through', tone: 'good' },
    challenge: { text: 'Verification required', tone: 'warn' },
    review: { text: 'Held for manual review', tone: 'warn' },
    blocked: { text: 'Blocked', tone: 'bad' },
  };
  const CHALLENGES = { none: 'None', slider: 'Slider puzzle', sms: 'SMS code', block: 'Block the action' };

  const config = await fetch('/demo/api/config').then((r) => r.json());
  const rg = window.RiskGate ? window.RiskGate.init({ appKey: config.app_key, endpoint: location.origin }) : null;
  let lastRequest = null;

  async function run(kind, url, fields, button) {
    button.disabled = true;
    const steps = [];
    const t0 = performance.now();
    let blackBox;
    try {
      blackBox = rg ? await rg.getBlackBox() : undefined;
      steps.push(blackBox ? `Device token collected in ${Math.round(performance.now() - t0)} ms (${blackBox.length} bytes, encrypted)` : 'SDK not loaded: no device token');
    } catch (error) {
      steps.push(`No device token: ${error.message}`);
    }
    const body = { ...fields, ...(blackBox ? { black_box: blackBox } : {}) };
    lastRequest = { kind, url, body };
    $('replay-button').disabled = !blackBox;
    await send(url, body, steps);
    button.disabled = false;
  }

  async function send(url, body, steps) {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const answer = await response.json();
    if (!response.ok) {
      show({ steps: [...steps, `The shop refused the form: ${answer.message}`] });
      return;
    }
    steps.push(`Shop backend asked RiskGate: answer in ${answer.backend_ms} ms`);
    show({ steps, ...answer });
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
    $('outcome').textContent = risk.fallback ? `${o.text} (RiskGate unavailable: fallback)` : o.text;
    $('outcome').className = `outcome ${o.tone}`;
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
    if (lastRequest) send(lastRequest.url, lastRequest.body, ['Replayed the previous request with its device token']);
  });
})();
