// Turns the demo backend's answer into what the result card shows.
const OUTCOMES = {
  done: 'Went through',
  challenge: 'Verification required',
  review: 'Held for manual review',
  blocked: 'Blocked',
};
const CHALLENGES = { none: 'None', slider: 'Slider puzzle', sms: 'SMS code', block: 'Block the action' };

function resultView(answer, steps) {
  const risk = answer.risk;
  return {
    steps: steps.concat(`Shop backend asked RiskGate: answer in ${answer.backend_ms} ms`),
    outcome: risk.fallback ? `${OUTCOMES[answer.outcome]} (RiskGate unavailable: fallback)` : OUTCOMES[answer.outcome] || answer.outcome,
    decision: risk.decision,
    score: risk.score,
    level: risk.level,
    challenge: CHALLENGES[risk.challenge] || risk.challenge,
    device: risk.device_id ? `${risk.device_id.slice(0, 16)}…` : '—',
    sequence: risk.sequence_id || '—',
    reasons: risk.reasons.length ? risk.reasons : [{ id: 'none', reason: 'Nothing suspicious' }],
    tags: risk.tags.length ? risk.tags : ['clean'],
  };
}

module.exports = { resultView };
