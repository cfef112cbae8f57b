/**
 * Scoring one event without a server (engine/evaluation/score.ts): features →
 * rules → verdict, as the evaluator does it, and as a T+1 job or a backtest
 * does it on a recorded event's features with another rule set.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LEVEL_CHALLENGES, DEFAULT_LEVEL_DECISIONS, DEFAULT_LEVEL_FLOORS } from '../../shared/constants.js';
import type { DecisionRecord } from '../../shared/schemas.js';
import { NO_ENROLLMENT } from '../../server/engine/enrollment/certificate.js';
import { extractFeatures } from '../../server/engine/evaluation/extract.js';
import { observationBatch } from '../../server/engine/evaluation/observations.js';
import { scoreEvent } from '../../server/engine/evaluation/score.js';
import type { Features } from '../../server/engine/features/features.js';
import { fingerprintKeys } from '../../server/engine/features/fingerprint.js';
import { compileRuleSet } from '../../server/engine/rules/compile.js';
import type { EventScoring } from '../../server/engine/scoring/decide.js';
import { quietFeatures } from '../support/features.js';
import { cleanWebSignals, personBehavior } from '../support/tokens.js';

const DEFAULT_RULES = fileURLToPath(new URL('../../server/engine/rules/default-rules.yaml', import.meta.url));
const defaultRules = compileRuleSet(readFileSync(DEFAULT_RULES, 'utf8'), DEFAULT_RULES);
const scoring: EventScoring = { levelFloors: DEFAULT_LEVEL_FLOORS, decisions: DEFAULT_LEVEL_DECISIONS, challenges: DEFAULT_LEVEL_CHALLENGES };

/** Another rule set, as a backtest would try: webdriver alone is only worth a slider, and a new device costs a little. */
const candidateRules = compileRuleSet(
  `version: 1
rules:
  - id: webdriver_only
    when: signals.webdriver
    score: 25
    tags: [bot]
    reason: { en: Driven by WebDriver, zh: WebDriver 驱动 }
  - id: new_device
    when: device.new
    score: 5
    reason: { en: A new device, zh: 新设备 }
`,
  'candidate.yaml',
);

/** The features of a registration whose token a WebDriver-driven headless browser made, extracted from engine inputs alone. */
function botRegistration(): Features {
  const signals = { ...cleanWebSignals(), automation: { ...cleanWebSignals().automation, webdriver: true, headless_ua: true } };
  const payload = { v: 1 as const, app: 'pk_test_shop_0001', jti: 'jti-0123456789abcdef', iat: 1_700_000_000, platform: 'web' as const, sdk: 'test', degraded: false, signals, behavior: personBehavior() };
  const request = { event: 'register' as const, ip: '36.112.10.20', account_id: 'u1' };
  const observations = observationBatch('shop', request.event, 1_700_000_000_000, { ip: 'ip-key', device: 'device-1', account: 'account-key' }, fingerprintKeys(signals), 86_400_000);
  const enrollment = { ...NO_ENROLLMENT, status: 'ok' as const, age_s: 3600, difficulty: 48_000, prefix_match: true };
  return extractFeatures({
    appId: 'shop',
    request,
    token: { ok: true, payload, deviceId: 'device-1', ageSeconds: 2 },
    observations,
    observed: undefined,
    lists: { black: false, white: false },
    enrollment,
  });
}

/** What the decision log keeps of the features, and what a job reads back: plain JSON. */
const recorded = (features: Features): DecisionRecord['features'] => JSON.parse(JSON.stringify(features)) as DecisionRecord['features'];
const rescore = (record: DecisionRecord['features'], rules = defaultRules) => scoreEvent(record as unknown as Features, rules, scoring);

describe('scoreEvent', () => {
  it('scores features with the rules as the evaluator does: a WebDriver-driven headless browser is a bot at level 3 or more', () => {
    const score = scoreEvent(botRegistration(), defaultRules, scoring);
    expect(score.tags).toEqual(expect.arrayContaining(['bot', 'headless']));
    expect(score.verdict.level).toBeGreaterThanOrEqual(3);
    expect(score.evaluation.version).toBe(defaultRules.version);
    expect(score.reasons.map((r) => r.id)).toEqual(score.evaluation.hits.filter((h) => h.state === 'online').sort((a, b) => b.score - a.score).map((h) => h.id));
  });

  it('re-scores a recorded feature set: the same rules give the same verdict, another rule set its own', () => {
    const live = scoreEvent(botRegistration(), defaultRules, scoring);
    const record = recorded(botRegistration());
    expect(rescore(record)).toEqual(live);

    const candidate = rescore(record, candidateRules);
    expect(candidate.evaluation.version).toBe(candidateRules.version);
    expect(candidate.evaluation.version).not.toBe(live.evaluation.version);
    expect(candidate.evaluation.hits.map((h) => h.id)).toEqual(['webdriver_only']);
    expect(candidate.verdict).toEqual({ score: 25, level: 1, decision: 'challenge', challenge: 'slider' });
    expect(candidate.tags).toEqual(['bot']);
    expect(candidate.verdict.level).toBeLessThan(live.verdict.level);
  });

  it('keeps what no rule set can change: lists first, and a missing token is never a plain accept', () => {
    const lenient = compileRuleSet('version: 1\nrules:\n  - id: trust_everyone\n    when: "true"\n    score: -100\n    reason: { en: Trusted, zh: 信任 }\n', 'lenient.yaml');
    const blacklisted = rescore(recorded(quietFeatures({ lists: { black: true, white: false } })), lenient);
    expect(blacklisted).toMatchObject({ verdict: { decision: 'decline', level: 4 }, tags: ['blacklist'], reasons: [{ id: 'list_black' }] });
    const noToken = rescore(recorded(quietFeatures({ token: { status: 'missing', failure: 'TOKEN_MISSING', age_s: -1 } })), lenient);
    expect(noToken.verdict).toMatchObject({ score: 0, decision: 'challenge', challenge: 'slider' });
    expect(rescore(recorded(quietFeatures()), lenient).verdict).toEqual({ score: 0, level: 0, decision: 'accept', challenge: 'none' });
  });
});
