/**
 * From features and the rules' result to a verdict: lists first (white →
 * accept, black → decline), else the online rules' score, then the floors no
 * rule can lower (an unchecked, undecodable or unenrolled token is at least a
 * challenge) and the sticky SMS escalation.
 *
 * Pure.
 */
import { ENGINE_REASONS, type ReasonText } from '../../../shared/reasons.js';
import type { Features } from '../features/features.js';
import type { RuleEvaluation } from '../rules/ruleset.js';
import { atLeastChallenge, listVerdict, scoreHits, type EventScoring, type Verdict } from '../scoring/decide.js';

export interface Judgement {
  verdict: Verdict;
  /** The list's reason, or the online rules' reasons, highest score first. */
  reasons: { id: string; text: ReasonText }[];
  tags: string[];
  /** The sticky escalation raised the challenge to an SMS (reason `challenge_escalated`). */
  escalated: boolean;
}

export function judge(features: Features, evaluation: RuleEvaluation, scoring: EventScoring): Judgement {
  const reasons: { id: string; text: ReasonText }[] = [];
  if (features.lists.white || features.lists.black) {
    const list = features.lists.white ? 'white' : 'black';
    reasons.push({ id: `list_${list}`, text: ENGINE_REASONS[`list_${list}`] });
    return { verdict: listVerdict(list, scoring), reasons, tags: [list === 'white' ? 'whitelist' : 'blacklist'], escalated: false };
  }
  let verdict = scoreHits(evaluation.hits, scoring);
  let escalated = false;
  const { token } = features;
  // The token was opened (decoded, or replayed but genuine): its device certificate can be judged.
  const opened = token.status === 'ok' || token.status === 'replayed';
  // A missing, undecodable or unchecked black_box is never a plain accept, whatever the rules and
  // levels say. Nor is an SDK token without a valid device certificate, until a challenge passed
  // on this device or account this hour: minting a device must cost something.
  const unenrolled = opened && features.enrollment.status !== 'ok' && features.challenge.passed_1h === 0;
  if ((token.failure !== '' && token.failure !== 'TOKEN_REPLAYED') || token.status === 'unavailable' || unenrolled) verdict = atLeastChallenge(verdict, scoring);
  // Sticky escalation: once an SMS was advised, asking again advises nothing weaker until one passes.
  if (features.challenge.sms_pending && verdict.challenge !== 'sms' && verdict.challenge !== 'block') {
    verdict = { ...atLeastChallenge(verdict, scoring), challenge: 'sms' };
    escalated = true;
  }
  const online = evaluation.hits.filter((h) => h.state === 'online').sort((a, b) => b.score - a.score);
  for (const hit of online) reasons.push({ id: hit.id, text: hit.reason });
  return { verdict, reasons, tags: [...new Set(online.flatMap((h) => h.tags))], escalated };
}
