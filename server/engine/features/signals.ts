/**
 * The `signals` family: what the token's collection says about the browser or
 * mini-program that made it: automation marks, tampering probes, consistency
 * checks, where the device key lives, and which sources failed or are missing
 * (collection.ts).
 *
 * Pure; every input is attacker-controlled and bounded by the payload schema.
 */
import type { BlackBoxPayload } from '../../../shared/schemas.js';
import { collectionOf } from './collection.js';
import type { Features } from './features.js';

/** Device key stores that survive a restart; any other (`memory`) is a fallback. */
export const PERSISTENT_DEVICE_KEY_STORES: readonly string[] = ['indexeddb', 'wx_storage'];

/**
 * The `signals` group of an opened token's payload (neutral values without
 * one). `softwareRenderer` is the server's own reading of the renderer strings
 * (fingerprint.ts); the SDK's verdict (`automation.software_renderer`) is not
 * trusted.
 */
export function signalsFeatures(payload: BlackBoxPayload | undefined, softwareRenderer: boolean): Features['signals'] {
  const signals = payload?.signals ?? {};
  const automation = signals.automation ?? {};
  const collection = payload ? collectionOf(payload.platform, signals, payload.behavior) : { missing: [], coreFailed: 0 };
  return {
    webdriver: automation.webdriver ?? false,
    headless_ua: automation.headless_ua ?? false,
    cdp: automation.cdp ?? false,
    cdp_inspector: automation.cdp_signs?.some((sign) => sign === 'stack_format' || sign === 'error_name') ?? false,
    cdp_eval: automation.cdp_signs?.includes('eval_stack') ?? false,
    automation_globals: automation.automation_globals?.length ?? 0,
    missing_chrome_objects: automation.missing_chrome_objects?.length ?? 0,
    permissions_inconsistent: automation.permissions_inconsistent ?? false,
    no_plugins: automation.no_plugins ?? false,
    window_anomaly: automation.window_anomaly ?? false,
    software_renderer: softwareRenderer,
    lies: signals.lies?.length ?? 0,
    inconsistencies: signals.inconsistencies?.length ?? 0,
    device_key_fallback: signals.device_key_store !== undefined && !PERSISTENT_DEVICE_KEY_STORES.includes(signals.device_key_store),
    source_errors: signals.errors ? Object.keys(signals.errors).length : 0,
    missing_sources: collection.missing.length,
    core_source_errors: collection.coreFailed,
  };
}
