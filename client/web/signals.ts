/**
 * Maps the sources' outcomes onto the token's `signals` and `behavior`
 * (shared/schemas.ts WebSignals and BehaviorSignals). A source that failed
 * leaves its signals out and is named in `signals.errors`; the server treats
 * a missing signal as a risk feature, never as a broken token.
 */
import type { BehaviorSignals, WebSignals } from '../../shared/schemas.js';
import type { DeviceKeyStore } from './device-key.js';
import type { Sources } from './sources/index.js';
import type { Outcomes } from '../core/sources/runner.js';
import { isSoftwareRenderer } from './sources/webgl.js';
import { clip } from './util/platform.js';

export interface AssembledSignals {
  signals: WebSignals;
  behavior: BehaviorSignals;
  degraded: boolean;
}

const flags = (list: string[]) => list.slice(0, 64).map((item) => clip(item, 64));

export function assembleSignals(outcomes: Outcomes<Sources>, deviceKeyStore: DeviceKeyStore): AssembledSignals {
  const signals: WebSignals = {};
  const errors: Record<string, string> = {};
  for (const name of Object.keys(outcomes) as (keyof Sources)[]) {
    const outcome = outcomes[name];
    if ('error' in outcome) errors[name] = outcome.error;
  }

  const { environment, fingerprint, webgl, automation, lies, worker, consistency, behavior } = outcomes;
  if ('value' in environment) Object.assign(signals, environment.value);
  if ('value' in fingerprint) {
    signals.visitor_id = fingerprint.value.visitor_id;
    signals.components = fingerprint.value.components;
  }
  if ('value' in webgl) signals.webgl_renderer = webgl.value.renderer;
  if ('value' in automation) {
    const value = automation.value;
    signals.automation = {
      ...value,
      cdp_signs: flags(value.cdp_signs),
      automation_globals: flags(value.automation_globals),
      missing_chrome_objects: flags(value.missing_chrome_objects),
    };
    if ('value' in webgl) signals.automation.software_renderer = isSoftwareRenderer(webgl.value.renderer);
  }
  if ('value' in lies || 'value' in worker) {
    // The worker's few lies first, so that a page full of patched natives cannot crowd them out.
    signals.lies = flags([...('value' in worker ? worker.value.lies : []), ...('value' in lies ? lies.value : [])]);
  }
  if ('value' in worker && worker.value.view) signals.worker = worker.value.view;
  if ('value' in consistency) signals.inconsistencies = flags(consistency.value);
  signals.device_key_store = deviceKeyStore;

  // A feature the browser does not offer (WebGL blocklisted without a GPU) is
  // named, but is not a collection failure: it does not degrade the token.
  const degraded = Object.values(errors).some((error) => error !== 'unsupported');
  if (Object.keys(errors).length > 0) signals.errors = errors;
  return { signals, behavior: 'value' in behavior ? behavior.value : {}, degraded };
}
