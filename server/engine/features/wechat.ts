/**
 * The `wechat` family: a mini-program's environment from its token's
 * `signals.wechat` (emulator signs, WeChat DevTools, benchmark level, system
 * proxy, debug mode, build and entry scene). Web tokens get neutral values.
 *
 * Pure; every input is attacker-controlled and bounded by the payload schema.
 */
import type { WechatSignals } from '../../../shared/schemas.js';
import type { Features } from './features.js';

/**
 * Emulator signs in a device's brand or model. Emulators let the user pick any
 * model string (LDPlayer and MuMu imitate real phones), so a clean model proves
 * nothing; the ABI check below catches those on x86 hosts.
 */
const EMULATOR_MODELS: readonly (readonly [name: string, pattern: RegExp])[] = [
  ['generic_emulator', /\bemulator\b|android sdk built for|sdk_gphone|google_sdk|^sdk$|^generic(_x86)?$|\bvbox86|\bgoldfish\b|\branchu\b/i],
  ['mumu', /mumu/i],
  ['nox', /\bnox\b|夜神/i],
  ['ldplayer', /ldplayer|雷电/i],
  ['bluestacks', /bluestacks/i],
  ['genymotion', /genymotion/i],
  ['memu', /xiaoyao|memu|逍遥/i],
  ['other_emulator', /droid4x|tiantian|天天模拟|koplayer|andy ?os|windroye|海马玩|bignox/i],
];

/** Names of the emulator signs in a mini-program's signals (empty for none). */
export function wechatEmulatorHints(w: WechatSignals): string[] {
  const hints: string[] = [];
  const identity = [w.brand, w.model].filter((v): v is string => typeof v === 'string').map((v) => v.trim());
  for (const [name, pattern] of EMULATOR_MODELS) {
    if (identity.some((value) => pattern.test(value))) hints.push(name);
  }
  const android = /^android$/i.test(w.platform ?? '');
  // WeChat's and the device's ABI: x86 builds exist for emulators (and desktop
  // Android layers), not for the phones WeChat runs on.
  if (android && [w.abi, w.device_abi].some((abi) => typeof abi === 'string' && /x86/i.test(abi))) hints.push('x86_abi');
  if (android && typeof w.cpu_type === 'string' && /\b(intel|amd|x86|qemu|virtual)/i.test(w.cpu_type)) hints.push('x86_cpu');
  return hints;
}

/** The `wechat` feature group from a mini-program token's `signals.wechat` (neutral values without one). */
export function wechatFeatures(w: WechatSignals | undefined): Features['wechat'] {
  if (!w) {
    return { devtools: false, emulator: false, emulator_hints: 0, hooks: 0, low_benchmark: false, system_proxy: false, debug: false, env_version: '', scene: 0, network_type: '' };
  }
  const hints = wechatEmulatorHints(w);
  const android = /^android$/i.test(w.platform ?? '');
  return {
    devtools: w.platform === 'devtools',
    emulator: hints.length > 0,
    emulator_hints: hints.length,
    hooks: w.hooks?.length ?? 0,
    low_benchmark: android && typeof w.benchmark_level === 'number' && w.benchmark_level <= 0,
    system_proxy: w.system_proxy === true,
    debug: w.debug === true,
    env_version: w.env_version ?? '',
    scene: typeof w.scene === 'number' ? w.scene : 0,
    network_type: w.network_type ?? '',
  };
}
