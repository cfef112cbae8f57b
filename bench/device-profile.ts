/**
 * Deterministic "browser" profiles for bench tokens and bodies. A profile seed
 * picks the user agent, screen, FingerprintJS-like components and behaviour a
 * web SDK would put into a black_box, so the token worker and the body builder
 * (which needs the same user agent) agree without sharing state.
 */
import type { BlackBoxPayloadInput } from '../shared/schemas.js';

/** mulberry32: small, fast, seedable. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const hex = (random: () => number, length: number): string => {
  let out = '';
  while (out.length < length) out += Math.floor(random() * 0x100000000).toString(16).padStart(8, '0');
  return out.slice(0, length);
};

interface Browser {
  userAgent: string;
  platform: string;
  webgl: string;
  screens: readonly [number, number, number, number][];
}

const BROWSERS: readonly Browser[] = [
  {
    userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
    platform: 'Win32',
    webgl: 'ANGLE (NVIDIA, NVIDIA GeForce RTX 3060 (0x00002504) Direct3D11 vs_5_0 ps_5_0, D3D11)',
    screens: [[1920, 1080, 1, 0], [2560, 1440, 1, 0], [1536, 864, 1.25, 0]],
  },
  {
    userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
    platform: 'MacIntel',
    webgl: 'Apple GPU',
    screens: [[1512, 982, 2, 0], [1728, 1117, 2, 0], [1440, 900, 2, 0]],
  },
  {
    userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
    platform: 'iPhone',
    webgl: 'Apple GPU',
    screens: [[390, 844, 3, 5], [393, 852, 3, 5], [430, 932, 3, 5]],
  },
  {
    userAgent: 'Mozilla/5.0 (Linux; Android 14; SM-S9180) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.122 Mobile Safari/537.36',
    platform: 'Linux armv81',
    webgl: 'Adreno (TM) 750',
    screens: [[384, 832, 3.75, 5], [412, 915, 2.625, 5]],
  },
  {
    userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0',
    platform: 'Win32',
    webgl: 'ANGLE (Intel, Intel(R) UHD Graphics 620 Direct3D11 vs_5_0 ps_5_0)',
    screens: [[1920, 1080, 1, 0], [1366, 768, 1, 0]],
  },
];

export interface DeviceProfile {
  userAgent: string;
  payload: Omit<BlackBoxPayloadInput, 'jti' | 'iat'>;
}

/** The SDK payload of a device; about 1.1 KB of JSON, like a web SDK with hashed heavy components. */
export function deviceProfile(seed: number, appKey: string): DeviceProfile {
  const random = prng(seed * 2654435761);
  const browser = pick(random, BROWSERS);
  const [width, height, dpr, touchPoints] = pick(random, browser.screens);
  const mobile = touchPoints > 0;
  return {
    userAgent: browser.userAgent,
    payload: {
      v: 1,
      app: appKey,
      platform: 'web',
      sdk: 'riskgate-web/0.1.0',
      degraded: random() < 0.02,
      signals: {
        visitor_id: hex(random, 32),
        components: {
          fonts: hex(random, 16),
          canvas: hex(random, 16),
          audio: 124.04347527516074,
          webgl_params: hex(random, 16),
          math: hex(random, 16),
          hardware_concurrency: pick(random, [4, 8, 12, 16]),
          device_memory: pick(random, [4, 8]),
          color_depth: 24,
          color_gamut: 'srgb',
          contrast: 0,
          forced_colors: false,
          hdr: false,
          reduced_motion: false,
          vendor: browser.platform === 'Win32' && browser.userAgent.includes('Firefox') ? '' : 'Google Inc.',
          vendor_flavors: 'chrome',
          cookies_enabled: true,
          pdf_viewer_enabled: !mobile,
          architecture: 255,
          session_storage: true,
          local_storage: true,
          indexed_db: true,
          touch_support: touchPoints,
        },
        user_agent: browser.userAgent,
        platform: browser.platform,
        languages: pick(random, [['zh-CN', 'zh'], ['en-US', 'en'], ['zh-CN', 'en-US']]),
        timezone: pick(random, ['Asia/Shanghai', 'Asia/Shanghai', 'Asia/Hong_Kong', 'America/Los_Angeles']),
        screen: { width, height, dpr, touch_points: touchPoints },
        webgl_renderer: browser.webgl,
        automation: {
          webdriver: false,
          headless_ua: false,
          cdp: false,
          automation_globals: [],
          missing_chrome_objects: [],
          permissions_inconsistent: false,
          no_plugins: mobile,
          window_anomaly: false,
          software_renderer: false,
        },
        lies: [],
        inconsistencies: [],
        device_key_store: 'indexeddb',
        errors: {},
      },
      behavior: {
        pointer_moves: mobile ? 0 : 40 + Math.floor(random() * 400),
        clicks: 1 + Math.floor(random() * 6),
        touches: mobile ? 3 + Math.floor(random() * 30) : 0,
        key_presses: Math.floor(random() * 40),
        pastes: random() < 0.2 ? 1 : 0,
        focus_changes: Math.floor(random() * 4),
        move_interval_mean_ms: 16 + Math.floor(random() * 30),
        move_interval_sd_ms: 4 + Math.floor(random() * 20),
        key_interval_mean_ms: 120 + Math.floor(random() * 120),
        key_interval_sd_ms: 30 + Math.floor(random() * 60),
        dwell_ms: 2000 + Math.floor(random() * 40_000),
      },
    },
  };
}
