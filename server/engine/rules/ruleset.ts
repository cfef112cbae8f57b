/**
 * What the rules engine gives the scorer. The engine (compile.ts, loader.ts)
 * turns a rules file into a RuleSet; the RuleBook (book.ts) keeps the current
 * one and swaps it when the file changes.
 */
import type { Decision, RiskEvent } from '../../../shared/constants.js';
import type { ReasonText } from '../../../shared/reasons.js';
import type { Features } from '../features/features.js';

export type RuleState = 'online' | 'shadow';

export interface RuleHit {
  id: string;
  state: RuleState;
  /** Points this rule adds to the score (0–100). */
  score: number;
  /** A direct decision, when the rule sets one instead of (or beside) a score. */
  decision?: Decision;
  tags: readonly string[];
  reason: ReasonText;
}

export interface RuleError {
  id: string;
  message: string;
}

export interface RuleEvaluation {
  /** Version of the rules that produced this: a content hash of the file. */
  version: string;
  /** Hits of online and shadow rules, in file order. */
  hits: RuleHit[];
  /** Rules whose condition failed at run time; they count as not hit. */
  errors: RuleError[];
}

export interface RuleSet {
  readonly version: string;
  /** Only rules for `features.event` (or for every event) run. */
  evaluate(features: Features): RuleEvaluation;
  /** How many rules apply to an event (for metrics and tests). */
  ruleCount(event: RiskEvent): number;
}
