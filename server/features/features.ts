/**
 * The features one evaluation computes, as rule conditions see them.
 *
 * Every name here is part of the rules language: a rule reads
 * `velocity.ip_5m >= 20` or `signals.webdriver`. Numbers are plain JS numbers
 * (the rules engine converts them for CEL), strings are never undefined (an
 * absent value is ""), so conditions need no null checks.
 */
import type { Platform, RiskEvent, TokenFailure } from '../../shared/constants.js';

export type TokenStatus = 'ok' | 'missing' | 'invalid' | 'expired' | 'replayed';

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
  /** Distinct accounts seen per device and per ip: `device_accounts_1h`, `ip_accounts_24h`, … */
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
  };
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
] as const;
export type DistinctFeature = `${(typeof DISTINCT_PAIRS)[number][0]}_${(typeof DISTINCT_PAIRS)[number][1]}_${WindowName}`;
