/**
 * The server side of mini-program tokens: `signals.wechat` → the `wechat`
 * features (emulator signs, DevTools, benchmark, proxy), and what the default
 * rules make of them. Web tokens keep neutral values.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Features } from '../../server/engine/features/features.js';
import { wechatEmulatorHints, wechatFeatures } from '../../server/engine/features/wechat.js';
import { compileRuleSet } from '../../server/engine/rules/compile.js';
import type { WechatSignals } from '../../shared/schemas.js';
import { quietFeatures } from '../support/features.js';

const DEFAULT_RULES = fileURLToPath(new URL('../../server/engine/rules/default-rules.yaml', import.meta.url));
const rules = compileRuleSet(readFileSync(DEFAULT_RULES, 'utf8'), DEFAULT_RULES);

/** A clean mini-program registration: good token, some touches, nothing else going on. */
const features = (wechat: Features['wechat']): Features =>
  quietFeatures({
    event: 'register',
    platform: 'wechat',
    device: { new: true },
    fingerprint: { present: false },
    behavior: { pointer_moves: 30, touches: 4, key_presses: 11, move_interval_mean_ms: -1, move_interval_sd_ms: -1 },
    request: { has_mobile: true },
    mobile: { country_code: '86', virtual_operator: false },
    wechat,
  });

const score = (wechat: WechatSignals | undefined) => {
  const evaluation = rules.evaluate(features(wechatFeatures(wechat)));
  const online = evaluation.hits.filter((h) => h.state === 'online');
  expect(evaluation.errors).toEqual([]);
  return { score: Math.min(100, online.reduce((sum, h) => sum + h.score, 0)), ids: online.map((h) => h.id), tags: [...new Set(online.flatMap((h) => h.tags))] };
};

const phone: WechatSignals = { platform: 'android', brand: 'Xiaomi', model: '2211133C', abi: 'arm64-v8a', device_abi: 'arm64-v8a', cpu_type: 'Qualcomm Technologies, Inc SM8550', benchmark_level: 38 };

describe('wechat features', () => {
  it('are neutral without mini-program signals (web tokens)', () => {
    expect(wechatFeatures(undefined)).toEqual({
      devtools: false,
      emulator: false,
      emulator_hints: 0,
      hooks: 0,
      low_benchmark: false,
      system_proxy: false,
      debug: false,
      env_version: '',
      scene: 0,
      network_type: '',
    });
  });

  it('find no emulator on real phones, iPhones and WeChat for PC', () => {
    for (const device of [
      phone,
      { platform: 'ios', brand: 'iPhone', model: 'iPhone 15 Pro<iPhone16,1>', system: 'iOS 17.5.1' },
      { platform: 'android', brand: 'HUAWEI', model: 'ALN-AL00', abi: 'arm64-v8a', benchmark_level: 31 },
      { platform: 'android', brand: 'OPPO', model: 'PHB110', abi: 'armeabi-v7a', device_abi: 'arm64-v8a', benchmark_level: 22 },
      { platform: 'windows', brand: 'microsoft', model: 'Lenovo ThinkPad X1', system: 'Windows 11 x64' },
      { platform: 'ohos', brand: 'HUAWEI', model: 'ALN-AL10' },
    ] satisfies WechatSignals[]) {
      expect(wechatEmulatorHints(device), JSON.stringify(device)).toEqual([]);
    }
  });

  it('name the emulators seed 001 asks about by model, brand, ABI or CPU', () => {
    const cases: [WechatSignals, string][] = [
      [{ platform: 'android', brand: 'google', model: 'Android SDK built for x86' }, 'generic_emulator'],
      [{ platform: 'android', brand: 'google', model: 'sdk_gphone64_arm64' }, 'generic_emulator'],
      [{ platform: 'android', brand: 'Netease', model: 'MuMu' }, 'mumu'],
      [{ platform: 'android', brand: 'vivo', model: 'V1938CT', abi: 'x86' }, 'x86_abi'],
      [{ platform: 'android', brand: 'samsung', model: 'SM-G9810', cpu_type: 'Intel(R) Core(TM) i7-10700 CPU' }, 'x86_cpu'],
      [{ platform: 'android', brand: 'OnePlus', model: 'Nox' }, 'nox'],
      [{ platform: 'android', brand: 'LDPlayer', model: 'ASUS_Z01QD' }, 'ldplayer'],
      [{ platform: 'android', brand: 'BlueStacks', model: 'SM-G988N' }, 'bluestacks'],
      [{ platform: 'android', brand: 'Genymotion', model: 'Custom Phone' }, 'genymotion'],
      [{ platform: 'android', brand: 'Microvirt', model: 'MEmu' }, 'memu'],
      [{ platform: 'android', brand: 'Xiaoyao', model: 'SM-N976N' }, 'memu'],
    ];
    for (const [device, hint] of cases) expect(wechatEmulatorHints(device), JSON.stringify(device)).toContain(hint);
  });
});

describe('default rules on mini-program tokens', () => {
  it('let a real phone through at level 0', () => {
    expect(score({ ...phone, env_version: 'release', network_type: 'wifi' })).toEqual({ score: 0, ids: [], tags: [] });
  });

  it('put DevTools and an emulator each at level 3 alone, with their tags', () => {
    const devtools = score({ platform: 'devtools', brand: 'devtools', model: 'iPhone 12/13 (Pro)' });
    expect(devtools.score).toBeGreaterThanOrEqual(65);
    expect(devtools.tags).toEqual(['devtools']);
    const emulator = score({ platform: 'android', brand: 'google', model: 'sdk_gphone64_x86_64', abi: 'x86_64' });
    expect(emulator.score).toBeGreaterThanOrEqual(65);
    expect(emulator.tags).toEqual(['emulator']);
  });

  it('score an unrated benchmark and a system proxy lightly, and only watch hooked wx APIs', () => {
    expect(score({ ...phone, benchmark_level: -1 })).toMatchObject({ score: 10, ids: ['wechat_low_benchmark'] });
    expect(score({ ...phone, system_proxy: true })).toMatchObject({ score: 15, ids: ['wechat_system_proxy'] });
    const hooked = rules.evaluate(features(wechatFeatures({ ...phone, hooks: ['wx.getDeviceInfo'] })));
    expect(hooked.hits.map((h) => [h.id, h.state])).toEqual([['wechat_hooked_api', 'shadow']]);
  });
});
