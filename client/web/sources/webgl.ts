/**
 * The WebGL renderer: the GPU for real devices, a software rasterizer
 * (SwiftShader, llvmpipe) for most headless and virtual machines.
 *
 * FingerprintJS reads the same parameters from its own context, and a WebGL
 * context costs 7–28 ms of main thread in headless Chromium, so its answer is
 * taken when it comes in time; otherwise this source opens a context itself.
 * A token waits for FingerprintJS anyway, so "in time" is most of its budget:
 * on a first page load in a fresh profile it often needs 300–500 ms.
 */
import { defineSource, unsupported, type Failure } from '../../core/sources/source.js';
import { clip } from '../util/platform.js';
import type { WebSourceContext } from './context.js';
import { fingerprintResult } from './fingerprint.js';

export interface WebGlInfo {
  renderer: string;
  vendor: string;
}

/** How long to wait for FingerprintJS before opening a context here. */
const FINGERPRINT_WAIT_MS = 600;
/** `WEBGL_debug_renderer_info` constants, so the extension object need not be kept. */
const UNMASKED_VENDOR_WEBGL = 0x9245;
const UNMASKED_RENDERER_WEBGL = 0x9246;
/** FingerprintJS's value when no context could be made. */
const FPJS_NO_CONTEXT = -1;

const info = (renderer: unknown, vendor: unknown): WebGlInfo => ({
  renderer: clip(String(renderer ?? ''), 512),
  vendor: clip(String(vendor ?? ''), 128),
});

async function fromFingerprint(win: Window & typeof globalThis): Promise<WebGlInfo | Failure | undefined> {
  let timer: number | undefined;
  try {
    const result = await Promise.race([
      fingerprintResult(),
      new Promise<undefined>((resolve) => {
        timer = win.setTimeout(() => resolve(undefined), FINGERPRINT_WAIT_MS);
      }),
    ]);
    const basics = result?.components.webGlBasics;
    if (!basics || !('value' in basics)) return undefined;
    if (basics.value === FPJS_NO_CONTEXT) return unsupported();
    if (typeof basics.value !== 'object') return undefined;
    const { rendererUnmasked, renderer, vendorUnmasked, vendor } = basics.value;
    return info(rendererUnmasked || renderer, vendorUnmasked || vendor);
  } catch {
    return undefined;
  } finally {
    if (timer !== undefined) win.clearTimeout(timer);
  }
}

function fromOwnContext(win: Window & typeof globalThis): WebGlInfo | Failure {
  const canvas = win.document.createElement('canvas');
  const gl = (canvas.getContext('webgl') ?? canvas.getContext('experimental-webgl')) as WebGLRenderingContext | null;
  if (!gl || typeof gl.getParameter !== 'function') return unsupported();
  try {
    // Firefox deprecated the extension but answers RENDERER unmasked.
    const debug = gl.getExtension('WEBGL_debug_renderer_info');
    return info(gl.getParameter(debug ? UNMASKED_RENDERER_WEBGL : gl.RENDERER), gl.getParameter(debug ? UNMASKED_VENDOR_WEBGL : gl.VENDOR));
  } finally {
    // Browsers cap live contexts (16 in Chrome): give this one back now.
    gl.getExtension('WEBGL_lose_context')?.loseContext();
  }
}

export const webglSource = defineSource<WebGlInfo, WebSourceContext>({
  budgetMs: FINGERPRINT_WAIT_MS + 100,
  stable: true,
  async collect({ window: win }) {
    return (await fromFingerprint(win)) ?? fromOwnContext(win);
  },
});

const SOFTWARE_RENDERER = /swiftshader|llvmpipe|softpipe|software rasterizer|microsoft basic render|mesa offscreen/i;

export const isSoftwareRenderer = (renderer: string): boolean => SOFTWARE_RENDERER.test(renderer);
