/**
 * The features one evaluation computes, as rule conditions see them.
 *
 * Every name here is part of the rules language: a rule reads
 * `velocity.ip_5m >= 20` or `signals.webdriver`. Numbers are plain JS numbers
 * (the rules engine converts them for CEL), strings are never undefined (an
 * absent value is ""), so conditions need no null checks.
 *
 * Each group is filled by its family's module next to this one (token.ts,
 * signals.ts, fingerprint.ts, behavior.ts, request.ts, identity.ts,
 * observed.ts, wechat.ts; `enrollment` by engine/enrollment/certificate.ts),
 * composed by engine/evaluation/extract.ts.
 */
import type { Platform, RiskEvent, TokenFailure } from '../../../shared/constants.js';
import type { EnrollmentFeatures } from '../enrollment/certificate.js';
import type { FingerprintReading } from './fingerprint.js';

/** `unavailable`: the token could not be checked (a decode worker crashed or hung). */
export type TokenStatus = 'ok' | 'missing' | 'invalid' | 'expired' | 'replayed' | 'unavailable';

export type IpKind = 'public' | 'private' | 'loopback' | 'reserved' | 'invalid' | 'missing';

export interface Features {
  event: RiskEvent;
  app: string;
  platform: Platform | 'unknown';
  token: {
    status: TokenStatus;
    /** The reason id of the failure, or "" when the token decoded. */
    failure: TokenFailure | '';
    /** Seconds since the SDK made the token; -1 when unknown. */
    age_s: number;
    /** The SDK said some sources failed or timed out. */
    degraded: boolean;
  };
  device: {
    /** JWK thumbprint of the device key, or "". */
    id: string;
    /** First time this app sees this device. */
    new: boolean;
  };
  signals: {
    webdriver: boolean;
    headless_ua: boolean;
    cdp: boolean;
    /**
     * A DevTools-protocol client enabled the page's runtime (V8's inspector formatted a
     * logged Error's stack): automation, or a person with DevTools open.
     */
    cdp_inspector: boolean;
    /** `getBlackBox()` was called from code a DevTools client evaluated (`Runtime.evaluate`). */
    cdp_eval: boolean;
    automation_globals: number;
    missing_chrome_objects: number;
    permissions_inconsistent: boolean;
    no_plugins: boolean;
    window_anomaly: boolean;
    software_renderer: boolean;
    /** Number of tampering probes that fired. */
    lies: number;
    /** Number of consistency checks that failed. */
    inconsistencies: number;
    /** The device key is not in IndexedDB (private mode or a wiped store). */
    device_key_fallback: boolean;
    /** Number of collection sources that failed. */
    source_errors: number;
    /**
     * Sources the SDK always runs that are neither in the token nor named as
     * failed: the token was not made by the SDK (collection.ts).
     */
    missing_sources: number;
    /** Core sources (web: environment, fingerprint, automation) the token names as failed. */
    core_source_errors: number;
  };
  /** What the server reads from the fingerprint itself (fingerprint.ts). */
  fingerprint: FingerprintReading & {
    /** A hardware and software configuration this app has never seen, on a device it has never seen. */
    template_new: boolean;
  };
  behavior: {
    present: boolean;
    pointer_moves: number;
    clicks: number;
    touches: number;
    key_presses: number;
    pastes: number;
    focus_changes: number;
    dwell_ms: number;
    /** Input events made by the page's scripts (`isTrusted: false`). */
    untrusted_events: number;
    /** Interval statistics of pointer moves and key presses in milliseconds; -1 when there were too few. */
    move_interval_mean_ms: number;
    move_interval_sd_ms: number;
    key_interval_mean_ms: number;
    key_interval_sd_ms: number;
  };
  request: {
    has_account: boolean;
    has_mobile: boolean;
    has_email: boolean;
    has_ip: boolean;
    has_user_agent: boolean;
    /** The request's user_agent differs from the one the token saw. */
    ua_mismatch: boolean;
  };
  ip: { kind: IpKind };
  email: { domain: string; disposable: boolean };
  mobile: { country_code: string; virtual_operator: boolean };
  /** Events of this type per identifier: `ip_5m`, `device_1h`, `account_24h`, `mobile_5m`, … */
  velocity: Record<VelocityFeature, number>;
  /**
   * Distinct accounts seen per device and per ip (`device_accounts_1h`, `ip_accounts_24h` …), devices per ip,
   * and device keys per machine: per FingerprintJS visitor id (`visitor_devices_1h`) and per configuration
   * template (`template_devices_1h`).
   */
  distinct: Record<DistinctFeature, number>;
  lists: { black: boolean; white: boolean };
  /** The challenge loop, over this device and account (the larger of the two). */
  challenge: {
    /** Challenges passed in the last hour. */
    passed_1h: number;
    /** Wrong answers in the last 24 hours. */
    failed_24h: number;
    /** Challenges started but neither passed nor failed in the last 24 hours. */
    abandoned_24h: number;
    /** An evaluation advised an SMS within the hour and no SMS challenge passed since: nothing weaker is advised. */
    sms_pending: boolean;
  };
  /** The mini-program's environment (`platform == "wechat"` tokens; false, 0 and "" otherwise). See wechat.ts. */
  wechat: {
    /** WeChat DevTools' simulator (`platform: "devtools"`), not WeChat on a device. */
    devtools: boolean;
    /** At least one emulator sign. */
    emulator: boolean;
    /** How many emulator signs (model or brand names, an x86 ABI or CPU on Android). */
    emulator_hints: number;
    /** wx API functions unlike their siblings (replaced by a hook framework?); not yet proven on real devices. */
    hooks: number;
    /** Android benchmarkLevel ≤ 0: "cannot run mini games" (-2, 0) or unknown (-1); emulators, but also rare or old phones. */
    low_benchmark: boolean;
    /** The device has a system HTTP proxy (packet capture, request rewriting). */
    system_proxy: boolean;
    /** Debug mode (vConsole) is on; only develop and trial builds allow users to turn it on. */
    debug: boolean;
    /** `develop`, `trial`, `release`, or "". */
    env_version: string;
    /** The scene the mini-program was entered from (1001 …), or 0. */
    scene: number;
    /** `wifi`, `4g`, `5g`, `none`…, or "". */
    network_type: string;
  };
  /** The token's device certificate (engine/enrollment/certificate.ts `EnrollmentFeatures`). */
  enrollment: EnrollmentFeatures;
}

export const VELOCITY_DIMENSIONS = ['ip', 'device', 'account', 'mobile'] as const;
export type VelocityDimension = (typeof VELOCITY_DIMENSIONS)[number];

/** Window name → length in milliseconds. */
export const WINDOWS = { '5m': 5 * 60_000, '1h': 3_600_000, '24h': 86_400_000 } as const;
export type WindowName = keyof typeof WINDOWS;
export const WINDOW_NAMES = Object.keys(WINDOWS) as WindowName[];

export type VelocityFeature = `${VelocityDimension}_${WindowName}`;

export const DISTINCT_PAIRS = [
  ['device', 'accounts'],
  ['ip', 'accounts'],
  ['device', 'mobiles'],
  ['ip', 'devices'],
  ['visitor', 'devices'],
  ['template', 'devices'],
] as const;
export type DistinctFeature = `${(typeof DISTINCT_PAIRS)[number][0]}_${(typeof DISTINCT_PAIRS)[number][1]}_${WindowName}`;
