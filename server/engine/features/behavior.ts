/**
 * The `behavior` family: the input a person (or a script) made between the
 * SDK's init and the token, as counts and interval statistics.
 *
 * Pure; every input is attacker-controlled and bounded by the payload schema.
 */
import type { BlackBoxPayload } from '../../../shared/schemas.js';
import type { Features } from './features.js';

/** The `behavior` group of an opened token's payload: counts 0 and interval statistics -1 when absent. */
export function behaviorFeatures(payload: BlackBoxPayload | undefined): Features['behavior'] {
  const behavior = payload?.behavior ?? {};
  return {
    present: payload !== undefined && Object.keys(behavior).length > 0,
    pointer_moves: behavior.pointer_moves ?? 0,
    clicks: behavior.clicks ?? 0,
    touches: behavior.touches ?? 0,
    key_presses: behavior.key_presses ?? 0,
    pastes: behavior.pastes ?? 0,
    focus_changes: behavior.focus_changes ?? 0,
    dwell_ms: behavior.dwell_ms ?? 0,
    untrusted_events: behavior.untrusted_events ?? 0,
    move_interval_mean_ms: behavior.move_interval_mean_ms ?? -1,
    move_interval_sd_ms: behavior.move_interval_sd_ms ?? -1,
    key_interval_mean_ms: behavior.key_interval_mean_ms ?? -1,
    key_interval_sd_ms: behavior.key_interval_sd_ms ?? -1,
  };
}
