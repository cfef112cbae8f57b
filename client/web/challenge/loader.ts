/**
 * The only challenge code in the SDK's main bundle: loads the challenge UI
 * chunk on first use and hands it the request. Everything else (requests,
 * dialog, styles) lives in the chunk, so the script-tag bundle stays small.
 *
 * All builds (script tag, npm ESM and CJS) load the same chunk the same way: a
 * `<script src="{endpoint}/sdk/riskgate-challenge.min.js">`, so the UI always
 * matches the RiskGate server that checks it. A page with a Content Security
 * Policy must allow that script (`script-src` with the endpoint's origin).
 */
import { RiskGateError } from '../../core/errors.js';
import { CHALLENGE_GLOBAL, CHALLENGE_SCRIPT, type ChallengeRunner } from './contract.js';

/** How long the chunk may take to load before the call gives up. */
const LOAD_TIMEOUT_MS = 20_000;

let loading: Promise<ChallengeRunner> | undefined;

/**
 * The challenge runner: already registered on the page, or loaded now. One
 * load at a time; a failed load is forgotten, so the next call tries again.
 */
export function loadChallengeUi(win: Window & typeof globalThis, endpoint: string): Promise<ChallengeRunner> {
  const registered = () => (win as unknown as Record<symbol, ChallengeRunner | undefined>)[Symbol.for(CHALLENGE_GLOBAL)];
  return (loading ??= new Promise<ChallengeRunner>((resolve, reject) => {
    const doc = win.document;
    const script = doc.createElement('script');
    const settle = (cause?: unknown) => {
      win.clearTimeout(timer);
      script.onload = script.onerror = null;
      const runner = registered();
      if (runner) return resolve(runner);
      loading = undefined;
      script.remove();
      reject(new RiskGateError('challenge_unavailable', `RiskGate: cannot load ${script.src}`, { cause }));
    };
    const timer = win.setTimeout(settle, LOAD_TIMEOUT_MS, 'timeout');
    if (registered()) return settle();
    script.onload = () => settle();
    script.onerror = settle;
    script.async = true;
    script.src = `${endpoint}/sdk/${CHALLENGE_SCRIPT}`;
    (doc.head ?? doc.documentElement).appendChild(script);
  }));
}
