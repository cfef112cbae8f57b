/**
 * What a dedicated Web Worker's `navigator` says, compared with the window's.
 * Stealth plugins and most anti-detect setups patch the window only, so a
 * worker still tells the truth; any difference is reported as a lie
 * (`worker.userAgent`, `worker.hardwareConcurrency`, …).
 *
 * A worker costs a thread and 10–60 ms on a busy two-core machine, which made
 * the first token ~40 ms slower when it competed with FingerprintJS. So it
 * starts once FingerprintJS is done and the main thread is next idle (the
 * token that was waiting for FingerprintJS is sealed first: creating a worker
 * takes a few ms of main thread), and it is optional: a token made before it
 * answers leaves it out (a clean result would look the same), later ones
 * carry it. Pages whose CSP forbids blob: workers get no result, not an error.
 */
import { fingerprintResult } from './fingerprint.js';
import { defineSource, type SourceContext } from './source.js';

type Win = Window & typeof globalThis;

/** How long to let FingerprintJS go first. */
const FINGERPRINT_FIRST_MS = 400;
/** How long to wait for the main thread to go idle after that. */
const IDLE_WAIT_MS = 200;
/** How long the worker may take to answer. */
const ANSWER_MS = 300;

interface WorkerView {
  ua?: string;
  platform?: string;
  hc?: number;
  langs?: string[] | null;
  dm?: number;
  tz?: string;
}

const WORKER_SOURCE = `var n=navigator,t="";try{t=Intl.DateTimeFormat().resolvedOptions().timeZone}catch(e){}postMessage({ua:n.userAgent,platform:n.platform,hc:n.hardwareConcurrency,langs:n.languages?[].slice.call(n.languages):null,dm:n.deviceMemory,tz:t})`;

function delay(win: Win, ms: number): Promise<void> {
  return new Promise((resolve) => win.setTimeout(resolve, ms));
}

/** The next idle period, or `timeout` ms at the latest; a plain task where there is no `requestIdleCallback` (Safari). */
function idle(win: Win, timeout: number): Promise<void> {
  if (typeof win.requestIdleCallback !== 'function') return delay(win, 0);
  return new Promise((resolve) => win.requestIdleCallback(() => resolve(), { timeout }));
}

/** The worker's view; undefined when workers are blocked (CSP) or too slow. */
function workerView(win: Win): Promise<WorkerView | undefined> {
  return new Promise((resolve) => {
    let url = '';
    let worker: Worker | undefined;
    let timer: number | undefined;
    const finish = (view: WorkerView | undefined) => {
      if (timer !== undefined) win.clearTimeout(timer);
      worker?.terminate();
      if (url) win.URL.revokeObjectURL(url);
      resolve(view);
    };
    try {
      url = win.URL.createObjectURL(new win.Blob([WORKER_SOURCE], { type: 'text/javascript' }));
      worker = new win.Worker(url);
      worker.onmessage = (event: MessageEvent) => finish(event.data as WorkerView);
      worker.onerror = () => finish(undefined);
      timer = win.setTimeout(() => finish(undefined), ANSWER_MS);
    } catch {
      finish(undefined);
    }
  });
}

function compare(win: Win, view: WorkerView): string[] {
  const nav = win.navigator;
  const lies: string[] = [];
  if (typeof view.ua === 'string' && view.ua !== nav.userAgent) lies.push('worker.userAgent');
  if (typeof view.platform === 'string' && view.platform !== nav.platform) lies.push('worker.platform');
  if (typeof view.hc === 'number' && view.hc !== nav.hardwareConcurrency) lies.push('worker.hardwareConcurrency');
  if (Array.isArray(view.langs) && nav.languages && view.langs.join() !== Array.from(nav.languages).join()) lies.push('worker.languages');
  const memory = (nav as { deviceMemory?: number }).deviceMemory;
  if (typeof view.dm === 'number' && typeof memory === 'number' && view.dm !== memory) lies.push('worker.deviceMemory');
  try {
    const tz = win.Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (view.tz && tz && view.tz !== tz) lies.push('worker.timezone');
  } catch {
    // No time zone support: nothing to compare.
  }
  return lies;
}

/** Names of the navigator values a worker sees differently (an empty list when it cannot run). */
export const workerSource = defineSource<string[]>({
  budgetMs: FINGERPRINT_FIRST_MS + IDLE_WAIT_MS + ANSWER_MS + 200,
  stable: true,
  optional: true,
  async collect({ window: win }: SourceContext) {
    if (typeof win.Worker !== 'function' || typeof win.Blob !== 'function' || typeof win.URL?.createObjectURL !== 'function') return [];
    await Promise.race([fingerprintResult().catch(() => undefined), delay(win, FINGERPRINT_FIRST_MS)]);
    await idle(win, IDLE_WAIT_MS);
    const view = await workerView(win);
    return view ? compare(win, view) : [];
  },
});
