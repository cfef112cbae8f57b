/** Test helpers: a device and a token maker on the shared WebCrypto builder. */
import { randomBytes, webcrypto } from 'node:crypto';
import type { ServerTokenKey } from '../../shared/jwk.js';
import { buildBlackBox, type DeviceSigner } from '../../client/core/token/build.js';
import { generateDeviceKeyPair, webCryptoDeviceSigner, webCryptoTokenCrypto } from '../../client/web/webcrypto.js';
import type { BehaviorSignals, BlackBoxPayloadInput, WebSignals } from '../../shared/schemas.js';

const subtle = webcrypto.subtle as unknown as SubtleCrypto;
export const tokenCrypto = webCryptoTokenCrypto(subtle, webcrypto as unknown as Crypto);

export async function newDevice(): Promise<DeviceSigner> {
  return webCryptoDeviceSigner(subtle, await generateDeviceKeyPair(subtle));
}

/**
 * What the web SDK collects on an ordinary desktop Chrome: every source present,
 * nothing firing. Each call is another machine (its own FingerprintJS visitor
 * id) unless `visitorId` names one. Tests change what they test on top of it.
 */
export function cleanWebSignals(visitorId = randomBytes(16).toString('hex')): WebSignals {
  return {
    visitor_id: visitorId,
    components: { hardwareConcurrency: 8, deviceMemory: 8, colorDepth: 24, fonts: '3f2a9c1d7e4b', canvas: '9a8b7c6d5e4f', audio: 124.04347527516074, vendor: 'Google Inc.', touchSupport: 'a1b2c3d4e5f6' },
    user_agent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36',
    platform: 'Win32',
    languages: ['zh-CN', 'zh', 'en'],
    timezone: 'Asia/Shanghai',
    screen: { width: 1920, height: 1080, dpr: 1, touch_points: 0 },
    webgl_renderer: 'ANGLE (NVIDIA, NVIDIA GeForce RTX 3060 (0x00002504) Direct3D11 vs_5_0 ps_5_0, D3D11)',
    automation: {
      webdriver: false,
      headless_ua: false,
      cdp: false,
      automation_globals: [],
      missing_chrome_objects: [],
      permissions_inconsistent: false,
      no_plugins: false,
      window_anomaly: false,
    },
    lies: [],
    inconsistencies: [],
    device_key_store: 'indexeddb',
  };
}

/** A person who filled in a form: moves, clicks and keys at a person's pace. */
export function personBehavior(): BehaviorSignals {
  return {
    pointer_moves: 140,
    clicks: 4,
    touches: 0,
    key_presses: 30,
    pastes: 0,
    focus_changes: 2,
    untrusted_events: 0,
    move_interval_mean_ms: 16,
    move_interval_sd_ms: 11,
    key_interval_mean_ms: 190,
    key_interval_sd_ms: 85,
    dwell_ms: 24_000,
  };
}

export interface MakeTokenOptions {
  serverKey: ServerTokenKey;
  appKey: string;
  device?: DeviceSigner;
  issuedAt?: number;
  payload?: Partial<Omit<BlackBoxPayloadInput, 'jti' | 'iat'>>;
}

export async function makeToken(options: MakeTokenOptions): Promise<string> {
  return buildBlackBox({
    serverKey: options.serverKey,
    signer: options.device ?? (await newDevice()),
    crypto: tokenCrypto,
    issuedAt: options.issuedAt,
    payload: { v: 1, app: options.appKey, platform: 'web', sdk: 'test/1', degraded: false, signals: cleanWebSignals(), behavior: personBehavior(), ...options.payload },
  });
}
