/**
 * The families the hot state counts: `device.new` and `fingerprint.template_new`
 * (first-seen marks), `velocity`, `distinct` and the `challenge` loop, read from
 * the answer to one evaluation's observation batch (evaluation/observations.ts,
 * whose readers know where each count is in the batch). No answer (the hot
 * state failed or timed out) reads as nothing seen: not new, every count 0.
 *
 * Pure.
 */
import type { EvaluationObservations, ObservationResult } from '../evaluation/observations.js';
import type { Features } from './features.js';

export interface ObservedFeatures {
  /** First time this app sees the token's device. */
  deviceNew: boolean;
  /** First time this app sees the fingerprint's configuration template. */
  templateNew: boolean;
  velocity: Features['velocity'];
  distinct: Features['distinct'];
  challenge: Features['challenge'];
}

export function observedFeatures(observations: EvaluationObservations, result: ObservationResult | undefined): ObservedFeatures {
  const firstSeen = (index: number) => (result && index >= 0 ? result.firstSeen[index]! : false);
  return {
    deviceNew: firstSeen(observations.deviceSeenIndex),
    templateNew: firstSeen(observations.templateSeenIndex),
    velocity: observations.velocity(result),
    distinct: observations.distinct(result),
    challenge: observations.challenge(result),
  };
}
