/**
 * Features of a quiet request, for tests of the rules alone: a good web token
 * from a known, enrolled device, with a person's input and nothing firing.
 * Tests override the groups they are about.
 */
import { NO_ENROLLMENT } from '../../server/engine/enrollment/certificate.js';
import { DISTINCT_PAIRS, VELOCITY_DIMENSIONS, WINDOW_NAMES, type Features } from '../../server/engine/features/features.js';
import { wechatFeatures } from '../../server/engine/features/wechat.js';

type Overrides = { [K in keyof Features]?: Features[K] extends object ? Partial<Features[K]> : Features[K] };

const zero = <T>(names: string[]) => Object.fromEntries(names.map((n) => [n, 0])) as T;

export function quietFeatures(overrides: Overrides = {}): Features {
  const base: Features = {
    event: 'login',
    app: 'shop',
    platform: 'web',
    token: { status: 'ok', failure: '', age_s: 2, degraded: false },
    device: { id: 'device', new: false },
    signals: {
      webdriver: false,
      headless_ua: false,
      cdp: false,
      cdp_inspector: false,
      cdp_eval: false,
      automation_globals: 0,
      missing_chrome_objects: 0,
      permissions_inconsistent: false,
      no_plugins: false,
      window_anomaly: false,
      software_renderer: false,
      lies: 0,
      inconsistencies: 0,
      device_key_fallback: false,
      source_errors: 0,
      missing_sources: 0,
      core_source_errors: 0,
    },
    fingerprint: { present: true, low_entropy: false, software_renderer: false, ua_mismatches: 0, worker_mismatch: false, worker_headless: false, template_new: false },
    behavior: {
      present: true,
      pointer_moves: 40,
      clicks: 3,
      touches: 0,
      key_presses: 12,
      pastes: 0,
      focus_changes: 2,
      dwell_ms: 20_000,
      untrusted_events: 0,
      move_interval_mean_ms: 16,
      move_interval_sd_ms: 9,
      key_interval_mean_ms: 180,
      key_interval_sd_ms: 70,
    },
    request: { has_account: true, has_mobile: false, has_email: false, has_ip: true, has_user_agent: true, ua_mismatch: false },
    ip: { kind: 'public' },
    email: { domain: '', disposable: false },
    mobile: { country_code: '', virtual_operator: false },
    velocity: zero<Features['velocity']>(VELOCITY_DIMENSIONS.flatMap((d) => WINDOW_NAMES.map((w) => `${d}_${w}`))),
    distinct: zero<Features['distinct']>(DISTINCT_PAIRS.flatMap(([of, what]) => WINDOW_NAMES.map((w) => `${of}_${what}_${w}`))),
    lists: { black: false, white: false },
    challenge: { passed_1h: 0, failed_24h: 0, abandoned_24h: 0, sms_pending: false },
    wechat: wechatFeatures(undefined),
    enrollment: { ...NO_ENROLLMENT, status: 'ok', age_s: 3600, difficulty: 48_000, prefix_match: true, prefix_enrollments_5m: 1, prefix_enrollments_1h: 1, prefix_enrollments_24h: 1 },
  };
  const merged = { ...base } as Record<string, unknown>;
  for (const [group, value] of Object.entries(overrides)) {
    const current = merged[group];
    merged[group] = current !== null && typeof current === 'object' && typeof value === 'object' ? { ...current, ...value } : value;
  }
  return merged as unknown as Features;
}
