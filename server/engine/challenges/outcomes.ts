/**
 * The challenge loop's memory: how often a device or account started, passed
 * and failed challenge attempts. Counted when challenges happen, read (without
 * counting) by each evaluation. Their keys name the device or account (with
 * the outcome as the facet), like its velocity counters, so Redis reads them
 * in the same script.
 *
 * The unit is the attempt: a start opens one, and a wrong answer that leaves
 * the challenge running (a fresh puzzle, another code) ends one as `failed`
 * and opens the next. Every attempt ends at most once, so
 * `started − passed − failed` counts exactly the attempts given up on
 * (abandoned), however many wrong answers came before.
 */

export const OUTCOMES = ['started', 'passed', 'failed'] as const;
export type ChallengeOutcome = (typeof OUTCOMES)[number];
/**
 * The escalation memory: an SMS advised by an evaluation, and an SMS challenge
 * passed. Until the second follows the first (within the hour), later
 * evaluations of that device or account advise nothing weaker than an SMS, so a
 * bot cannot trade the SMS it was asked for against a slider by asking again.
 */
export type EscalationMark = 'sms_advised' | 'sms_passed';
export type OutcomeEntity = 'device' | 'account';

/** A counter to count one outcome under (a hot-state counter observation: its key and windows). */
export interface OutcomeCounter {
  app: string;
  entity: OutcomeEntity;
  id: string;
  facet: ChallengeOutcome | EscalationMark;
  windowsMs: readonly number[];
}

/** Passed recently (1 h); failed or abandoned today (24 h). */
export const OUTCOME_WINDOWS_MS = [3_600_000, 86_400_000] as const;

/** Counters that record one outcome for each entity known. */
export function recordOutcome(appId: string, entities: Partial<Record<OutcomeEntity, string>>, outcome: ChallengeOutcome | EscalationMark): OutcomeCounter[] {
  return Object.entries(entities)
    .filter(([, value]) => Boolean(value))
    .map(([entity, value]) => ({ app: appId, entity: entity as OutcomeEntity, id: value!, facet: outcome, windowsMs: OUTCOME_WINDOWS_MS }));
}
