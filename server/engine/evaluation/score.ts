/**
 * Scoring one event: features → rules → verdict. The evaluator calls it on the
 * features it has just extracted; a T+1 job or a backtest calls it on a
 * recorded event's features (`DecisionRecord.features`, plain JSON) with
 * another rule set or other scoring, without a server or a store.
 *
 * Pure: the rule set and the scoring are values passed in.
 */
import type { Features } from '../features/features.js';
import type { RuleEvaluation, RuleSet } from '../rules/ruleset.js';
import type { EventScoring } from '../scoring/decide.js';
import { judge, type Judgement } from './verdict.js';

export interface EventScore extends Judgement {
  /** What the rules made of the features: hits (online and shadow), run-time errors, the rules' version. */
  evaluation: RuleEvaluation;
}

export function scoreEvent(features: Features, rules: RuleSet, scoring: EventScoring): EventScore {
  const evaluation = rules.evaluate(features);
  return { evaluation, ...judge(features, evaluation, scoring) };
}
