/**
 * What one evaluation counts and reads in the hot state, as one batch (one
 * round trip for Redis), and the features read back from its result:
 * velocity per entity and event, distinct counts (accounts per device …),
 * first-seen marks, and the challenge loop's outcome counters.
 *
 * Pure: the batch is data; the hot-state adapters run it
 * (adapters/hot-state/). Each entry is named by a structured key
 * (state-key.ts): the Redis adapter puts each entity's keys on one Cluster
 * slot, so one script per entity answers.
 */
import type { ListDimension } from '../../../shared/constants.js';
import { OUTCOME_WINDOWS_MS, type ChallengeOutcome, type EscalationMark, type OutcomeEntity } from '../challenges/outcomes.js';
import {
  DISTINCT_PAIRS,
  VELOCITY_DIMENSIONS,
  WINDOW_NAMES,
  WINDOWS,
  type DistinctFeature,
  type Features,
  type VelocityFeature,
} from '../features/features.js';
import type { FingerprintKeys } from '../features/fingerprint.js';
import type { IdentifierKeys, IdentifierRules } from '../identifiers/identifiers.js';
import type { StateKey } from './state-key.js';

/** Count this occurrence under the key and report counts over each window. */
export interface CounterObservation extends StateKey {
  /** false: only read the counts, without counting this occurrence. Default true. */
  record?: boolean;
  /** Window lengths in milliseconds, e.g. 5 min, 1 h, 24 h. */
  windowsMs: readonly number[];
}

/** Note `member` in the set under the key and report distinct members over each window. */
export interface DistinctObservation extends StateKey {
  member: string;
  windowsMs: readonly number[];
}

/** Mark the key as seen and report whether it had been seen before (within `ttlMs`). */
export interface FirstSeenObservation extends StateKey {
  ttlMs: number;
}

export interface ObservationBatch {
  /** The event's own time in epoch milliseconds, so historical re-scoring counts by event time. */
  at: number;
  /**
   * true: entries a security check relies on (SMS-pumping sets, enrollment
   * marks and counters). A bounded store keeps them apart from evaluation
   * traffic, never evicts them before their TTL, and throws `HotStateFullError`
   * instead when their space is full. Default false: evaluation traffic, which a
   * bounded store may evict (least recently used first). Reads must name the
   * same space as the writes they read.
   */
  keep?: boolean;
  counters: readonly CounterObservation[];
  distinct: readonly DistinctObservation[];
  firstSeen: readonly FirstSeenObservation[];
}

export interface ObservationResult {
  /** counters[i][w]: occurrences under counters[i]'s key in window w, including this one (if recorded). */
  counters: number[][];
  /** distinct[i][w]: distinct members under distinct[i]'s key in window w, including this one. */
  distinct: number[][];
  /** firstSeen[i]: true when the key had not been seen before. */
  firstSeen: boolean[];
}

/** The key of each identifier an evaluation names, as lists and hot state store it (keyed hashes for mobile and email). */
export type EntityKeys = Partial<Record<ListDimension, string>>;

/** The keys of the request's identifiers and the token's device. */
export function entityKeys(
  identifiers: IdentifierKeys,
  rules: IdentifierRules,
  request: { ip?: string | undefined; account_id?: string | undefined; mobile?: string | undefined; email?: string | undefined },
  deviceId: string,
): EntityKeys {
  const keys: EntityKeys = {};
  if (request.ip) keys.ip = identifiers.key('ip', request.ip);
  if (deviceId) keys.device = deviceId;
  if (request.account_id) keys.account = identifiers.key('account', request.account_id, rules);
  if (request.mobile) keys.mobile = identifiers.key('mobile', request.mobile);
  if (request.email) keys.email = identifiers.key('email', request.email);
  return keys;
}

const WINDOW_LENGTHS = WINDOW_NAMES.map((w) => WINDOWS[w]);

const zeroes = <K extends string>(names: readonly K[]): Readonly<Record<K, number>> =>
  Object.freeze(Object.fromEntries(names.map((n) => [n, 0])) as Record<K, number>);
const NO_VELOCITY = zeroes(VELOCITY_DIMENSIONS.flatMap((d) => WINDOW_NAMES.map((w) => `${d}_${w}` as VelocityFeature)));
const NO_DISTINCT = zeroes(DISTINCT_PAIRS.flatMap(([of, what]) => WINDOW_NAMES.map((w) => `${of}_${what}_${w}` as DistinctFeature)));

/** One evaluation's batch, with readers for the features its result gives. */
export type EvaluationObservations = ReturnType<typeof observationBatch>;

/**
 * What one evaluation counts, as one batch, with readers for its results.
 * `deviceMemoryMs`: how long a device (and a fingerprint template) stays
 * "known" after it was last seen.
 */
export function observationBatch(appId: string, event: string, at: number, idKeys: EntityKeys, machine: FingerprintKeys, deviceMemoryMs: number) {
  const counters: ObservationBatch['counters'][number][] = [];
  const counterFeatures: VelocityFeature[][] = [];
  for (const dimension of VELOCITY_DIMENSIONS) {
    const value = idKeys[dimension];
    if (!value) continue;
    counters.push({ app: appId, entity: dimension, id: value, facet: event, windowsMs: WINDOW_LENGTHS });
    counterFeatures.push(WINDOW_NAMES.map((w) => `${dimension}_${w}` as VelocityFeature));
  }
  const members = { accounts: idKeys.account, mobiles: idKeys.mobile, devices: idKeys.device };
  const owners = { ...idKeys, visitor: machine.visitor, template: machine.template };
  const distinct: ObservationBatch['distinct'][number][] = [];
  const distinctFeatures: DistinctFeature[][] = [];
  for (const [of, what] of DISTINCT_PAIRS) {
    const owner = owners[of];
    const member = members[what];
    if (!owner || !member) continue;
    distinct.push({ app: appId, entity: of, id: owner, facet: what, member, windowsMs: WINDOW_LENGTHS });
    distinctFeatures.push(WINDOW_NAMES.map((w) => `${of}_${what}_${w}` as DistinctFeature));
  }
  // The challenge loop: read (without counting) what this device and account did with challenges.
  const outcomeReads: { outcome: ChallengeOutcome | EscalationMark; index: number }[] = [];
  for (const entity of ['device', 'account'] as const satisfies readonly OutcomeEntity[]) {
    const value = idKeys[entity];
    if (!value) continue;
    for (const outcome of ['started', 'passed', 'failed', 'sms_advised', 'sms_passed'] as const) {
      outcomeReads.push({ outcome, index: counters.length });
      counters.push({ app: appId, entity, id: value, facet: outcome, windowsMs: OUTCOME_WINDOWS_MS, record: false });
    }
  }
  const firstSeen: ObservationBatch['firstSeen'][number][] = [];
  const deviceSeenIndex = idKeys.device ? firstSeen.push({ app: appId, entity: 'device', id: idKeys.device, facet: 'seen', ttlMs: deviceMemoryMs }) - 1 : -1;
  const templateSeenIndex = machine.template ? firstSeen.push({ app: appId, entity: 'template', id: machine.template, facet: 'seen', ttlMs: deviceMemoryMs }) - 1 : -1;
  return {
    batch: { at, counters, distinct, firstSeen } satisfies ObservationBatch,
    deviceSeenIndex,
    templateSeenIndex,
    velocity(result: ObservationResult | undefined): Record<VelocityFeature, number> {
      const out = { ...NO_VELOCITY };
      if (result) counterFeatures.forEach((names, i) => names.forEach((name, w) => (out[name] = result.counters[i]![w]!)));
      return out;
    },
    challenge(result: ObservationResult | undefined): Features['challenge'] {
      const most = { started: 0, passed: 0, failed: 0, passed_1h: 0, sms_advised: 0, sms_passed: 0 };
      if (result) {
        for (const { outcome, index } of outcomeReads) {
          const [hour = 0, day = 0] = result.counters[index] ?? [];
          if (outcome === 'sms_advised' || outcome === 'sms_passed') most[outcome] = Math.max(most[outcome], hour);
          else most[outcome] = Math.max(most[outcome], day);
          if (outcome === 'passed') most.passed_1h = Math.max(most.passed_1h, hour);
        }
      }
      return {
        passed_1h: most.passed_1h,
        failed_24h: most.failed,
        abandoned_24h: Math.max(0, most.started - most.passed - most.failed),
        sms_pending: most.sms_advised > 0 && most.sms_passed === 0,
      };
    },
    distinct(result: ObservationResult | undefined): Record<DistinctFeature, number> {
      const out = { ...NO_DISTINCT };
      if (result) distinctFeatures.forEach((names, i) => names.forEach((name, w) => (out[name] = result.distinct[i]![w]!)));
      return out;
    },
  };
}
