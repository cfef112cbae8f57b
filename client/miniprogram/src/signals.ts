/**
 * The mini-program's signal sources, run by the core's SourceRunner (each
 * within its own time budget), and their assembly into `signals`: the shared
 * members (`lies`, `inconsistencies`, `device_key_store`, `errors`) and
 * `signals.wechat` (shared/schemas.ts WechatSignals).
 *
 * The runner hands every source `wx`: the one context a mini-program has.
 */
import type { WebSignals, WechatSignals } from '../../../shared/schemas.js';
import type { Outcomes } from '../../core/sources/runner.js';
import { defineSource, unsupported, type Failure, type SourceRegistry } from '../../core/sources/source.js';
import type { DeviceKeyStore } from './device-key.js';
import { apiInconsistencies, builtinLies, hookedApis } from './probes.js';
import type { RandomSource } from './random.js';
import { callWx, WxUnsupported, type Wx, type WxAppBaseInfo, type WxDeviceInfo, type WxWindowInfo } from './wx.js';

const clip = (value: unknown, length = 128): string | undefined => (typeof value === 'string' ? value.slice(0, length) : undefined);
const num = (value: unknown): number | undefined => {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
};
const bool = (value: unknown): boolean | undefined => (typeof value === 'boolean' ? value : undefined);
const flags = (list: string[]) => list.slice(0, 64).map((item) => item.slice(0, 64));

/** Drops undefined members, so the token carries only what was read. */
function defined<T extends object>(value: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(value)) if (member !== undefined) out[key] = member;
  return out as T;
}

/** A newer API, or getSystemInfoSync on base libraries before 2.20.1. */
function infoOf<T>(wx: Wx, api: (() => T) | undefined): T {
  if (typeof api === 'function') return api.call(wx);
  if (typeof wx.getSystemInfoSync === 'function') return wx.getSystemInfoSync() as T;
  throw new WxUnsupported('no system info API');
}

const orUnsupported = (error: unknown): Failure => {
  if (error instanceof WxUnsupported) return unsupported();
  throw error;
};

export const wechatSources = {
  device: defineSource({
    stable: false,
    budgetMs: 200,
    collect(wx: Wx): WechatSignals | Failure {
      let info: WxDeviceInfo;
      try {
        info = infoOf(wx, wx.getDeviceInfo);
      } catch (error) {
        return orUnsupported(error);
      }
      return defined({
        platform: clip(info.platform, 32),
        brand: clip(info.brand),
        model: clip(info.model),
        system: clip(info.system),
        abi: clip(info.abi, 32),
        device_abi: clip(info.deviceAbi, 32),
        cpu_type: clip(info.cpuType),
        memory_size_mb: num(info.memorySize),
        benchmark_level: num(info.benchmarkLevel),
      });
    },
  }),
  window: defineSource({
    stable: false,
    budgetMs: 200,
    collect(wx: Wx): Pick<WechatSignals, 'screen'> | Failure {
      let info: WxWindowInfo;
      try {
        info = infoOf(wx, wx.getWindowInfo);
      } catch (error) {
        return orUnsupported(error);
      }
      return {
        screen: defined({
          width: num(info.screenWidth),
          height: num(info.screenHeight),
          window_width: num(info.windowWidth),
          window_height: num(info.windowHeight),
          pixel_ratio: num(info.pixelRatio),
          status_bar_height: num(info.statusBarHeight),
        }),
      };
    },
  }),
  app: defineSource({
    stable: false,
    budgetMs: 200,
    collect(wx: Wx): WechatSignals | Failure {
      let info: WxAppBaseInfo;
      try {
        info = infoOf(wx, wx.getAppBaseInfo);
      } catch (error) {
        return orUnsupported(error);
      }
      return defined({
        sdk_version: clip(info.SDKVersion, 32),
        wechat_version: clip(info.version, 32),
        language: clip(info.language, 32),
        debug: bool(info.enableDebug),
        host_app_id: clip(info.host?.appId, 64),
      });
    },
  }),
  account: defineSource({
    stable: true,
    budgetMs: 200,
    collect(wx: Wx): WechatSignals | Failure {
      if (typeof wx.getAccountInfoSync !== 'function') return unsupported();
      const program = wx.getAccountInfoSync()?.miniProgram ?? {};
      return defined({ app_id: clip(program.appId, 64), env_version: clip(program.envVersion, 16), app_version: clip(program.version, 32) });
    },
  }),
  scene: defineSource({
    stable: false,
    budgetMs: 200,
    collect(wx: Wx): WechatSignals | Failure {
      const read = (api: (() => { scene?: number }) | undefined) => (typeof api === 'function' ? num(api.call(wx)?.scene) : undefined);
      const scene = read(wx.getEnterOptionsSync);
      const launchScene = read(wx.getLaunchOptionsSync);
      if (scene === undefined && launchScene === undefined) return unsupported();
      return defined({ scene: scene ?? launchScene, launch_scene: launchScene });
    },
  }),
  benchmark: defineSource({
    stable: true,
    budgetMs: 500,
    collect: (wx: Wx): Promise<WechatSignals | Failure> =>
      callWx(wx.getDeviceBenchmarkInfo, wx).then(
        (result) => defined({ benchmark_level: num(result?.benchmarkLevel), model_level: num(result?.modelLevel) }),
        orUnsupported,
      ),
  }),
  network: defineSource({
    stable: false,
    budgetMs: 400,
    collect: (wx: Wx): Promise<WechatSignals | Failure> =>
      callWx(wx.getNetworkType, wx).then(
        (result) =>
          defined({ network_type: clip(result?.networkType, 16), signal_strength: num(result?.signalStrength), system_proxy: bool(result?.hasSystemProxy) }),
        orUnsupported,
      ),
  }),
  battery: defineSource({
    stable: false,
    budgetMs: 300,
    collect: (wx: Wx): Promise<WechatSignals | Failure> =>
      callWx(wx.getBatteryInfo, wx).then(
        (result) => defined({ battery_level: num(result?.level), charging: bool(result?.isCharging), low_power: bool(result?.isLowPowerModeEnabled) }),
        orUnsupported,
      ),
  }),
  probes: defineSource({
    stable: false,
    budgetMs: 200,
    collect: (wx: Wx) => ({ lies: builtinLies(), hooks: hookedApis(wx), inconsistencies: apiInconsistencies(wx) }),
  }),
} satisfies SourceRegistry<Wx>;

export type WechatSources = typeof wechatSources;

/**
 * Sources whose absence is worth reporting. An API a base library lacks
 * (battery on PCs, benchmark info before 3.4.5) is just left out; failures and
 * timeouts of any source are reported.
 */
const REPORT_UNSUPPORTED: ReadonlySet<string> = new Set(['device']);

export function assembleSignals(
  outcomes: Outcomes<WechatSources>,
  deviceKeyStore: DeviceKeyStore,
  random: RandomSource,
): { signals: WebSignals; degraded: boolean } {
  const errors: Record<string, string> = {};
  for (const [name, outcome] of Object.entries(outcomes)) {
    if ('error' in outcome && (outcome.error !== 'unsupported' || REPORT_UNSUPPORTED.has(name))) errors[name] = outcome.error;
  }
  const wechat: WechatSignals = {};
  for (const name of ['device', 'window', 'app', 'account', 'scene', 'network', 'battery'] as const) {
    const outcome = outcomes[name];
    if ('value' in outcome) Object.assign(wechat, outcome.value);
  }
  const { benchmark, probes } = outcomes;
  // getDeviceBenchmarkInfo (3.4.5+) replaces getDeviceInfo's unmaintained benchmarkLevel.
  if ('value' in benchmark) Object.assign(wechat, benchmark.value);
  wechat.random = random;

  const signals: WebSignals = { wechat, device_key_store: deviceKeyStore };
  if ('value' in probes) {
    signals.lies = flags(probes.value.lies);
    signals.inconsistencies = flags(probes.value.inconsistencies);
    wechat.hooks = flags(probes.value.hooks);
  }
  const degraded = Object.keys(errors).length > 0;
  if (degraded) signals.errors = errors;
  return { signals, degraded };
}
