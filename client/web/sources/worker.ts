/**
 * What a worker sees, compared with the window: a SharedWorker where there is
 * one (it is its own DevTools target: Playwright's user-agent override does
 * not reach it, and stealth init scripts run in pages only), else a dedicated
 * worker. It reports its `navigator` (user agent, client-hint brands,
 * platform, languages, cores, memory), time zone and WebGL vendor and renderer
 * through an OffscreenCanvas. The raw values go into the token as
 * `signals.worker` for the server to compare; each difference from the page is
 * also a lie here (`worker.userAgent`, `worker.webgl`, …).
 *
 * A worker costs a thread and 10–60 ms on a busy two-core machine, which made
 * the first token ~40 ms slower when it competed with FingerprintJS. So it
 * starts once FingerprintJS is done and the main thread is next idle (the
 * token that was waiting for FingerprintJS is sealed first: creating a worker
 * takes a few ms of main thread), and it is optional: a token made before it
 * answers leaves it out (a clean result would look the same), later ones
 * carry it. Pages whose CSP forbids blob: workers get no result, not an error.
 */
import type { WorkerSignals } from '../../../shared/schemas.js';
import { defineSource } from '../../core/sources/source.js';
import { clip } from '../util/platform.js';
import type { WebSourceContext } from './context.js';
import { fingerprintResult } from './fingerprint.js';

type Win = Window & typeof globalThis;

/** How long to let FingerprintJS go first. */
const FINGERPRINT_FIRST_MS = 400;
/** How long to wait for the main thread to go idle after that. */
const IDLE_WAIT_MS = 200;
/** How long the worker may take to answer (a WebGL context in a worker: 20–200 ms). */
const ANSWER_MS = 1000;

interface WorkerView {
  ua?: unknown;
  platform?: unknown;
  hc?: unknown;
  langs?: unknown;
  dm?: unknown;
  tz?: unknown;
  brands?: unknown;
  glv?: unknown;
  glr?: unknown;
}

export interface WorkerResult {
  /** What the worker reported, bounded as the token schema wants it; none when no worker could run. */
  view?: WorkerSignals;
  /** Names of the values it sees differently from the page. */
  lies: string[];
}

// In a SharedWorker the answer goes to the connecting port, and the worker closes itself.
const WORKER_SOURCE = `var n=navigator,d=n.userAgentData,v={ua:n.userAgent,platform:n.platform,hc:n.hardwareConcurrency,langs:n.languages?[].slice.call(n.languages):null,dm:n.deviceMemory,brands:d&&d.brands?d.brands.map(function(b){return b.brand+"/"+b.version}):null};try{v.tz=Intl.DateTimeFormat().resolvedOptions().timeZone}catch(e){}try{var g=new OffscreenCanvas(1,1).getContext("webgl"),x=g.getExtension("WEBGL_debug_renderer_info");v.glv=g.getParameter(x?37445:g.VENDOR);v.glr=g.getParameter(x?37446:g.RENDERER);x=g.getExtension("WEBGL_lose_context");x&&x.loseContext()}catch(e){}if("onconnect"in self)onconnect=function(e){e.ports[0].postMessage(v);close()};else postMessage(v)`;

function delay(win: Win, ms: number): Promise<void> {
  return new Promise((resolve) => win.setTimeout(resolve, ms));
}

/** The next idle period, or `timeout` ms at the latest; a plain task where there is no `requestIdleCallback` (Safari). */
function idle(win: Win, timeout: number): Promise<void> {
  if (typeof win.requestIdleCallback !== 'function') return delay(win, 0);
  return new Promise((resolve) => win.requestIdleCallback(() => resolve(), { timeout }));
}

/** The worker's view; undefined when workers are blocked (CSP) or too slow. */
function workerView(win: Win, shared: boolean): Promise<WorkerView | undefined> {
  return new Promise((resolve) => {
    let url = '';
    let stop = () => {};
    let timer: number | undefined;
    const finish = (view: WorkerView | undefined) => {
      if (timer !== undefined) win.clearTimeout(timer);
      stop();
      if (url) win.URL.revokeObjectURL(url);
      resolve(view);
    };
    const answer = (event: MessageEvent) => finish(event.data as WorkerView);
    const fail = () => finish(undefined);
    try {
      url = win.URL.createObjectURL(new win.Blob([WORKER_SOURCE], { type: 'text/javascript' }));
      timer = win.setTimeout(fail, ANSWER_MS);
      if (shared) {
        const worker = new win.SharedWorker(url);
        worker.onerror = fail;
        worker.port.onmessage = answer;
        stop = () => worker.port.close();
      } else {
        const worker = new win.Worker(url);
        worker.onmessage = answer;
        worker.onerror = fail;
        stop = () => worker.terminate();
      }
    } catch {
      finish(undefined);
    }
  });
}

const text = (value: unknown, max: number) => (typeof value === 'string' ? clip(value, max) : undefined);

/** The report as the token carries it: only well-typed values, clipped to the schema's bounds. */
function toSignals(view: WorkerView, kind: WorkerSignals['kind']): WorkerSignals {
  const signals: WorkerSignals = { kind };
  const set = <K extends keyof WorkerSignals>(key: K, value: WorkerSignals[K] | undefined) => {
    if (value !== undefined) signals[key] = value;
  };
  set('user_agent', text(view.ua, 512));
  set('platform', text(view.platform, 128));
  if (Array.isArray(view.langs)) set('languages', view.langs.slice(0, 32).map((lang) => clip(String(lang), 64)));
  const cores = view.hc;
  if (typeof cores === 'number' && Number.isInteger(cores) && cores >= 0 && cores <= 4096) signals.hardware_concurrency = cores;
  set('webgl_vendor', text(view.glv, 128));
  set('webgl_renderer', text(view.glr, 512));
  return signals;
}

/** The page's WebGL vendor and renderer, as FingerprintJS read them on the main thread. */
async function pageWebGl(): Promise<{ vendor?: string; renderer?: string }> {
  try {
    const basics = (await fingerprintResult()).components.webGlBasics;
    const value = basics && 'value' in basics ? basics.value : undefined;
    if (!value || typeof value !== 'object') return {};
    return { vendor: value.vendorUnmasked || value.vendor, renderer: value.rendererUnmasked || value.renderer };
  } catch {
    return {};
  }
}

async function compare(win: Win, view: WorkerView): Promise<string[]> {
  const nav = win.navigator;
  const lies: string[] = [];
  if (typeof view.ua === 'string' && view.ua !== nav.userAgent) lies.push('worker.userAgent');
  if (typeof view.platform === 'string' && view.platform !== nav.platform) lies.push('worker.platform');
  if (typeof view.hc === 'number' && view.hc !== nav.hardwareConcurrency) lies.push('worker.hardwareConcurrency');
  if (Array.isArray(view.langs) && nav.languages && view.langs.join() !== Array.from(nav.languages).join()) lies.push('worker.languages');
  const memory = (nav as { deviceMemory?: number }).deviceMemory;
  if (typeof view.dm === 'number' && typeof memory === 'number' && view.dm !== memory) lies.push('worker.deviceMemory');
  const brands = (nav as { userAgentData?: { brands?: { brand: string; version: string }[] } }).userAgentData?.brands;
  if (Array.isArray(view.brands) && brands && view.brands.join() !== brands.map((b) => `${b.brand}/${b.version}`).join()) lies.push('worker.brands');
  try {
    const tz = win.Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (typeof view.tz === 'string' && view.tz && tz && view.tz !== tz) lies.push('worker.timezone');
  } catch {
    // No time zone support: nothing to compare.
  }
  const gl = await pageWebGl();
  if ((typeof view.glv === 'string' && gl.vendor && view.glv !== gl.vendor) || (typeof view.glr === 'string' && gl.renderer && view.glr !== gl.renderer)) {
    lies.push('worker.webgl');
  }
  return lies;
}

/** The worker's report and the lies it shows (no report when no worker can run). */
export const workerSource = defineSource<WorkerResult, WebSourceContext>({
  budgetMs: FINGERPRINT_FIRST_MS + IDLE_WAIT_MS + 2 * ANSWER_MS + 200,
  stable: true,
  optional: true,
  async collect({ window: win }) {
    const none: WorkerResult = { lies: [] };
    if (typeof win.Blob !== 'function' || typeof win.URL?.createObjectURL !== 'function') return none;
    await Promise.race([fingerprintResult().catch(() => undefined), delay(win, FINGERPRINT_FIRST_MS)]);
    await idle(win, IDLE_WAIT_MS);
    let kind: WorkerSignals['kind'] = 'shared';
    let view = typeof win.SharedWorker === 'function' ? await workerView(win, true) : undefined;
    if (!view && typeof win.Worker === 'function') {
      kind = 'dedicated';
      view = await workerView(win, false);
    }
    return view ? { view: toSignals(view, kind), lies: await compare(win, view) } : none;
  },
});
