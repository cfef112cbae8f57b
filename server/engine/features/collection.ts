/**
 * Missing is not clean: which signal sources a token must carry.
 *
 * Every signal is optional to the schema (old and new SDKs coexist), so a
 * forger's `signals: {}` decodes. What it may not do is read as a clean
 * device: each source the SDK always runs must either be in the token or be
 * named as failed in `signals.errors`. An unexplained gap is the mark of a
 * token made by something other than the SDK; a named failure is a real
 * browser's bad day, and costs little unless the core sources all "failed".
 */
import type { BehaviorSignals, WebSignals } from '../../../shared/schemas.js';
import type { Platform } from '../../../shared/constants.js';

type Present = (signals: WebSignals, behavior: BehaviorSignals) => boolean;

const defined = (...values: unknown[]) => values.every((value) => value !== undefined);

/**
 * The web SDK's sources (client/web/sources/index.ts) and what each always
 * puts into a token when it succeeds. `worker` is optional by design (tokens
 * made before it answers leave it out), so it is not listed.
 */
const WEB_SOURCES: Readonly<Record<string, Present>> = {
  environment: (s) => defined(s.user_agent, s.platform, s.languages, s.timezone, s.screen?.width, s.screen?.height),
  fingerprint: (s) => defined(s.visitor_id) && (s.components !== undefined || s.errors?.size !== undefined),
  automation: (s) => {
    const a = s.automation;
    return a !== undefined && defined(a.webdriver, a.headless_ua, a.cdp, a.automation_globals, a.missing_chrome_objects, a.permissions_inconsistent, a.no_plugins, a.window_anomaly);
  },
  webgl: (s) => defined(s.webgl_renderer),
  lies: (s) => defined(s.lies),
  consistency: (s) => defined(s.inconsistencies),
  behavior: (_s, b) => defined(b.dwell_ms, b.pointer_moves, b.clicks, b.key_presses),
};

/** The mini-program SDK's sources (client/miniprogram/src/signals.ts). */
const WECHAT_SOURCES: Readonly<Record<string, Present>> = {
  device: (s) => defined(s.wechat?.platform, s.wechat?.system),
  window: (s) => defined(s.wechat?.screen?.width, s.wechat?.screen?.height),
  app: (s) => defined(s.wechat?.sdk_version),
  probes: (s) => defined(s.lies, s.inconsistencies, s.wechat?.hooks),
  // No behaviour: a mini-program has no global event listener, and a page that
  // does not forward its events (rg.trackTouch) sends none.
};

/** Sources a real device practically never fails: their failure together is a forger's excuse. */
const CORE_SOURCES: Readonly<Record<Platform, readonly string[]>> = {
  web: ['environment', 'fingerprint', 'automation'],
  wechat: ['device', 'window', 'app'],
};

export interface Collection {
  /** Sources neither in the token nor named as failed, by name. */
  missing: string[];
  /** Core sources the token names as failed. */
  coreFailed: number;
}

export function collectionOf(platform: Platform, signals: WebSignals, behavior: BehaviorSignals): Collection {
  const sources = platform === 'web' ? WEB_SOURCES : WECHAT_SOURCES;
  const errors = signals.errors ?? {};
  const missing: string[] = [];
  for (const [name, present] of Object.entries(sources)) {
    if (errors[name] === undefined && !present(signals, behavior)) missing.push(name);
  }
  const coreFailed = CORE_SOURCES[platform].filter((name) => errors[name] !== undefined).length;
  return { missing, coreFailed };
}
