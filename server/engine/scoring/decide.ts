/**
 * Score → level → decision → challenge, with lists applied first.
 */
import type { ChallengeKind, Decision, RiskLevel } from '../../../shared/constants.js';
import type { RuleHit } from '../rules/ruleset.js';

/** How one event's score maps to a level, a decision and an advised challenge (config `scoring`, per app and event). */
export interface EventScoring {
  levelFloors: readonly [number, number, number, number, number];
  decisions: Readonly<Record<0 | 1 | 2 | 3 | 4, Decision>>;
  challenges: Readonly<Record<0 | 1 | 2 | 3 | 4, ChallengeKind>>;
}

export interface Verdict {
  score: number;
  level: RiskLevel;
  decision: Decision;
  challenge: ChallengeKind;
}

const STRICTNESS: Record<Decision, number> = { accept: 0, challenge: 1, review: 2, decline: 3 };

export function levelOf(score: number, floors: EventScoring['levelFloors']): RiskLevel {
  for (let level = 4; level > 0; level--) if (score >= floors[level]!) return level as RiskLevel;
  return 0;
}

/** The lowest score whose level maps to `decision`, so a forced decision shows in the score too. */
function floorFor(decision: Decision, scoring: EventScoring): number | undefined {
  for (let level = 0; level <= 4; level++) {
    if (scoring.decisions[level as RiskLevel] === decision) return scoring.levelFloors[level];
  }
  return undefined;
}

function verdictAt(score: number, scoring: EventScoring, decision?: Decision): Verdict {
  const level = levelOf(score, scoring.levelFloors);
  return { score, level, decision: decision ?? scoring.decisions[level], challenge: scoring.challenges[level] };
}

/** White list accepts outright; black list declines outright. */
export function listVerdict(list: 'white' | 'black', scoring: EventScoring): Verdict {
  return list === 'white'
    ? { score: 0, level: 0, decision: 'accept', challenge: 'none' }
    : { score: 100, level: 4, decision: 'decline', challenge: scoring.challenges[4] };
}

/**
 * Online hits add their scores (clamped to 0–100; negative scores lower risk). A rule's direct decision wins
 * over the score when stricter; `review` and `decline` also raise the score to
 * the first level with that decision. Shadow hits never count.
 */
export function scoreHits(hits: readonly RuleHit[], scoring: EventScoring): Verdict {
  let score = 0;
  let forced: Decision | undefined;
  for (const hit of hits) {
    if (hit.state !== 'online') continue;
    score += hit.score;
    if (hit.decision && (forced === undefined || STRICTNESS[hit.decision] > STRICTNESS[forced])) forced = hit.decision;
  }
  score = Math.max(0, Math.min(100, Math.round(score)));
  if (forced === undefined) return verdictAt(score, scoring);
  if (forced !== 'accept') score = Math.max(score, floorFor(forced, scoring) ?? score);
  const verdict = verdictAt(score, scoring, forced);
  // A forced accept skips the challenge the score alone would have asked for.
  return forced === 'accept' ? { ...verdict, challenge: 'none' } : verdict;
}

/**
 * `verdict`, or a challenge when it was weaker: the advised challenge of the
 * first level that challenges, else a slider. For what must never be a plain
 * accept (a missing or undecodable black_box) whatever the rules and the
 * per-event levels say.
 */
export function atLeastChallenge(verdict: Verdict, scoring: EventScoring): Verdict {
  if (STRICTNESS[verdict.decision] >= STRICTNESS.challenge) return verdict;
  let challenge: ChallengeKind = 'slider';
  for (let level = 1; level <= 4; level++) {
    const advised = scoring.challenges[level as RiskLevel];
    if (advised === 'slider' || advised === 'sms') {
      challenge = advised;
      break;
    }
  }
  return { ...verdict, decision: 'challenge', challenge: verdict.challenge === 'none' ? challenge : verdict.challenge };
}
