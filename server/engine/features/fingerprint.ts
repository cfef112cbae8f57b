/**
 * The server reads the fingerprint itself instead of trusting the SDK's
 * verdicts about it: software rendering from the renderer string, the user
 * agent's OS and browser against the platform, GPU, CPU architecture, engine
 * vendor, screen and touch support (fonts travel as a hash, so they only
 * count in the template below), the page
 * against what a worker saw, and two keys for counting devices per machine:
 * FingerprintJS's `visitor_id`, and a template of the hardware and software
 * configuration that leaves out the noise-prone parts (canvas, audio) that
 * anti-detect browsers randomise per profile.
 *
 * Pure functions of the token's signals; every input is attacker-controlled
 * and bounded by the payload schema.
 */
import { createHash } from 'node:crypto';
import type { WebSignals } from '../../../shared/schemas.js';
import type { Features } from './features.js';
import { uaInfo, type UaInfo } from './identity.js';

export interface FingerprintReading {
  /** The token carried a FingerprintJS visitor id. */
  present: boolean;
  /**
   * iOS and iPadOS: every device of one model and OS version shows the same
   * fingerprint, so counting devices per visitor id or template would count
   * strangers. Rules on those counts skip these devices.
   */
  low_entropy: boolean;
  /** Software rendering (SwiftShader, llvmpipe …), read from the renderer strings. */
  software_renderer: boolean;
  /** The user agent contradicts the device: names of the checks that failed. */
  ua_mismatches: number;
  /** A worker saw another user agent, platform, language, core count or GPU than the page. */
  worker_mismatch: boolean;
  /** A worker's user agent names a headless browser. */
  worker_headless: boolean;
}

export interface FingerprintKeys {
  /** Hot-state key for FingerprintJS's visitor id, or "". */
  visitor: string;
  /** Hot-state key for the configuration template, or "". */
  template: string;
}

const SOFTWARE_RENDERER = /SwiftShader|llvmpipe|softpipe|Software Rasterizer|Microsoft Basic Render|Mesa OffScreen|VMware SVGA|VirtualBox|Parallels Display/i;

export const isSoftwareRenderer = (renderer: string | undefined): boolean => renderer !== undefined && SOFTWARE_RENDERER.test(renderer);

type Os = 'windows' | 'macos' | 'ios' | 'android' | 'linux' | 'chromeos' | 'harmonyos' | '';

/** What a GPU string says about the OS under it; "" when it could be any (SwiftShader, plain vendor names). */
function rendererOs(renderer: string): Os | 'apple' | 'mobile' {
  if (isSoftwareRenderer(renderer)) return '';
  if (/Direct3D|D3D1[01]/i.test(renderer)) return 'windows';
  if (/Metal Renderer|Apple M\d|Apple GPU|Apple A\d/i.test(renderer)) return 'apple';
  if (/Adreno|Mali-|PowerVR|Maleoon|Immortalis/i.test(renderer)) return 'mobile';
  if (/\bMesa\b|OpenGL ES 3|\bX11\b/i.test(renderer)) return 'linux';
  return '';
}

function osFromPlatform(platform: string): Os {
  if (/^Win/i.test(platform)) return 'windows';
  if (/^Mac/i.test(platform)) return 'macos';
  if (/iPhone|iPad|iPod/i.test(platform)) return 'ios';
  if (/Linux|Android|CrOS/i.test(platform)) return 'linux';
  return '';
}

const LINUX_FAMILY: readonly Os[] = ['linux', 'android', 'chromeos', 'harmonyos'];

/** Whether the OS a UA names could run on a machine that reports `other`. */
function compatible(uaOs: Os, other: Os | 'apple' | 'mobile'): boolean {
  if (!uaOs || !other || uaOs === other) return true;
  if (other === 'apple') return uaOs === 'macos' || uaOs === 'ios';
  // Phone GPUs: Android and HarmonyOS phones, and ARM Chromebooks.
  if (other === 'mobile') return uaOs === 'android' || uaOs === 'harmonyos' || uaOs === 'chromeos';
  // iPads ask for desktop sites as a Mac.
  if (uaOs === 'macos' && other === 'ios') return true;
  return LINUX_FAMILY.includes(uaOs) && LINUX_FAMILY.includes(other);
}

/**
 * `navigator.vendor` as each engine sets it: Blink "Google Inc.", WebKit
 * "Apple Computer, Inc.", Gecko "". Undefined where the family's engine is
 * not certain (in-app browsers on their own kernels).
 */
function expectedVendor(os: string, family: string): string | undefined {
  if (os === 'ios' || family === 'safari') return 'Apple Computer, Inc.';
  if (family === 'firefox') return '';
  if (family === 'chrome' || family === 'edge' || family === 'opera' || family === 'samsung') return 'Google Inc.';
  return undefined;
}

/** The names of the UA checks that fail; `page` is what the token's user agent claims. */
export function uaMismatches(signals: WebSignals, page: UaInfo | undefined = signals.user_agent ? uaInfo(signals.user_agent) : undefined): string[] {
  if (!page) return [];
  const os = page.os as Os;
  const failed: string[] = [];
  if (signals.platform !== undefined && !compatible(os, osFromPlatform(signals.platform))) failed.push('platform');
  const renderers = [signals.webgl_renderer, signals.worker?.webgl_renderer].filter((r): r is string => r !== undefined);
  if (renderers.some((renderer) => !compatible(os, rendererOs(renderer)))) failed.push('gpu');
  const vendor = signals.components?.vendor;
  const expected = expectedVendor(os, page.family);
  if (typeof vendor === 'string' && expected !== undefined && vendor !== expected) failed.push('browser');
  const mobileOs = os === 'ios' || os === 'android' || os === 'harmonyos';
  // FingerprintJS's architecture probe: 255 on x86 CPUs. Phones and tablets are ARM; x86 is an emulator or a desktop.
  if (mobileOs && signals.components?.architecture === 255) failed.push('cpu');
  const screen = signals.screen;
  // A phone or tablet browser reports touch points; a mobile UA on a machine without touch is an emulated device.
  if (mobileOs && screen?.touch_points === 0) failed.push('touch');
  // No iPhone or iPad has a screen wider than 1366 CSS pixels.
  if (os === 'ios' && screen?.width !== undefined && Math.max(screen.width, screen.height ?? 0) > 1366) failed.push('screen');
  return failed;
}

function workerDisagrees(signals: WebSignals, page: UaInfo | undefined): boolean {
  const worker = signals.worker;
  if (!worker) return false;
  const differs = (a: unknown, b: unknown) => a !== undefined && b !== undefined && a !== b;
  if (worker.user_agent !== undefined && page) {
    const seen = uaInfo(worker.user_agent);
    if (page.os !== seen.os || page.family !== seen.family || page.major !== seen.major) return true;
  }
  return (
    differs(worker.platform, signals.platform) ||
    differs(worker.languages?.[0], signals.languages?.[0]) ||
    differs(worker.hardware_concurrency, signals.components?.hardwareConcurrency) ||
    // OffscreenCanvas in a worker and a canvas in the page reach the same GPU.
    (worker.webgl_renderer !== undefined && worker.webgl_renderer !== '' && differs(worker.webgl_renderer, signals.webgl_renderer))
  );
}

export function readFingerprint(signals: WebSignals): FingerprintReading {
  const page = signals.user_agent ? uaInfo(signals.user_agent) : undefined;
  const os = page?.os ?? '';
  const renderers = [signals.webgl_renderer, signals.worker?.webgl_renderer];
  return {
    present: typeof signals.visitor_id === 'string' && signals.visitor_id.length > 0,
    low_entropy: os === 'ios' || osFromPlatform(signals.platform ?? '') === 'ios',
    software_renderer: renderers.some(isSoftwareRenderer),
    ua_mismatches: uaMismatches(signals, page).length,
    worker_mismatch: workerDisagrees(signals, page),
    worker_headless: /Headless/i.test(signals.worker?.user_agent ?? ''),
  };
}

/**
 * FingerprintJS components that describe the machine and its configuration
 * rather than noise: the same on every profile of one machine, different
 * between most machines. Canvas and audio hashes are left out on purpose:
 * anti-detect browsers add noise to them per profile.
 */
const TEMPLATE_COMPONENTS = [
  'fonts',
  'fontPreferences',
  'hardwareConcurrency',
  'deviceMemory',
  'colorDepth',
  'colorGamut',
  'math',
  'architecture',
  'vendor',
  'vendorFlavors',
  'plugins',
  'touchSupport',
  'dateTimeLocale',
  'webGlBasics',
  'webGlExtensions',
  'pdfViewerEnabled',
  'hdr',
  'contrast',
  'forcedColors',
] as const;

const digest = (text: string) => createHash('sha256').update(text).digest('base64url').slice(0, 22);

export function fingerprintKeys(signals: WebSignals): FingerprintKeys {
  const visitor = typeof signals.visitor_id === 'string' && signals.visitor_id ? digest(`v\0${signals.visitor_id}`) : '';
  const components = signals.components;
  if (!components || !signals.user_agent) return { visitor, template: '' };
  const { os, family, major } = uaInfo(signals.user_agent);
  const screen = signals.screen ?? {};
  const parts: unknown[] = [
    os,
    family,
    major,
    signals.platform ?? null,
    screen.width ?? null,
    screen.height ?? null,
    screen.dpr ?? null,
    screen.touch_points ?? null,
    signals.timezone ?? null,
    signals.languages ?? null,
    signals.webgl_renderer ?? null,
    ...TEMPLATE_COMPONENTS.map((name) => components[name] ?? null),
  ];
  return { visitor, template: digest(`t\0${JSON.stringify(parts)}`) };
}

/**
 * The `fingerprint` group: the server's reading of the fingerprint, and
 * whether its configuration template is new to this app on a device that is
 * new too (both from the hot state's first-seen marks).
 */
export function fingerprintFeatures(reading: FingerprintReading, seen: { deviceNew: boolean; templateNew: boolean }): Features['fingerprint'] {
  return { ...reading, template_new: seen.templateNew && seen.deviceNew };
}
