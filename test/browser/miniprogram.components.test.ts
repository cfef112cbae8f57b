/**
 * <riskgate-slider> and <riskgate-sms> rendered by miniprogram-simulate
 * (WeChat's component test tool: the real exparser, templates compiled by
 * WeChat's own wcc compiler) against a running RiskGate.
 *
 * Where: miniprogram-simulate renders into a DOM. Under Node it expects jest's
 * jsdom environment (`window`, `document`), which this project does not have
 * (jsdom is not installed); so the test runs miniprogram-simulate's browser
 * build (build.js, shipped in the package) in headless Chromium, with the
 * templates compiled in Node by miniprogram-compiler's Linux wcc binary. The
 * components, the SDK bundle and the base.js they share are the files in
 * dist/miniprogram, loaded through a CommonJS require as a mini-program has.
 * The page's `wx` is the fake of test/support/miniprogram.ts; its wx.request
 * crosses to Node and does real HTTP to RiskGate (no Origin header, as in
 * WeChat). Touch events carry timestamps from a clock the test sets, so the
 * drag's timing is the person-like track's, whatever the machine's load.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EvaluateResponse, VerifyResponse } from '../../shared/schemas.js';
import { generateSliderPuzzle, type SliderPuzzle } from '../../server/engine/challenges/slider/puzzle.js';
import type { SmsMessage, SmsProvider } from '../../server/adapters/sms/provider.js';
import { humanTrack, seeded } from '../support/tracks.js';
import {
  APP_KEY,
  createFakeWx,
  ensureMiniprogramBuilt,
  httpTransport,
  MINIPROGRAM_DIR,
  PHONE,
  ROOT,
  startServer,
  type FakeRequest,
  type RunningServer,
} from '../support/miniprogram.js';
import { CHROMIUM, HEADLESS_CHROMIUM_ARGS } from '../support/chromium.js';

const require = createRequire(import.meta.url);

/** Every puzzle the server makes, newest last: the test knows each answer. */
const puzzles: SliderPuzzle[] = [];
const texts: SmsMessage[] = [];
const smsProvider: SmsProvider = {
  name: 'test',
  async send(message) {
    texts.push(message);
  },
};

let server: RunningServer;
let browser: Browser;
/** How the templates were compiled: `official` (wcc) or, where wcc cannot run, `simulate` (j-component's own parser). */
let compiler: 'official' | 'simulate' = 'official';
let wxmlCode = '';

/** dist/miniprogram as a file map for the page, keyed `mp/<path>`. */
function fileMap(): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else files[`mp/${relative(MINIPROGRAM_DIR, path).replace(/\\/g, '/')}`] = readFileSync(path, 'utf8');
    }
  };
  walk(MINIPROGRAM_DIR);
  return files;
}

beforeAll(async () => {
  ensureMiniprogramBuilt();
  server = await startServer({
    smsProvider,
    puzzles: () => {
      const puzzle = generateSliderPuzzle();
      puzzles.push(puzzle);
      return puzzle;
    },
  });
  try {
    // WeChat's wxml compiler (a Linux x86-64 binary the package ships without its
    // executable bit; miniprogram-compiler sets it on first use).
    const { wxmlToJs } = require('miniprogram-compiler') as { wxmlToJs(root: string): string };
    wxmlCode = wxmlToJs(MINIPROGRAM_DIR);
  } catch (error) {
    compiler = 'simulate';
    console.warn(`wcc could not compile the templates (${(error as Error).message}); using j-component's template parser`);
  }
  if (existsSync(CHROMIUM)) browser = await chromium.launch({ executablePath: CHROMIUM, args: HEADLESS_CHROMIUM_ARGS });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/**
 * A page with miniprogram-simulate, the fake wx, the SDK started, and a host
 * component holding both challenge components; events land in `__events`.
 */
async function openPage(): Promise<Page> {
  const context = await browser.newContext({ hasTouch: true, viewport: { width: 393, height: 800 } });
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error('page error:', error.message));
  await page.exposeFunction('__nodeRequest', (request: FakeRequest) => httpTransport(request));
  await page.setContent('<!doctype html><html><head><meta charset="utf-8"></head><body></body></html>');
  // A clock the test sets: exparser stamps events with Date.now().
  await page.evaluate(() => {
    const realNow = Date.now.bind(Date);
    let fixed: number | undefined;
    Object.assign(window, { __clock: { set: (t: number) => (fixed = t), release: () => (fixed = undefined) } });
    Date.now = () => fixed ?? realNow();
  });
  await page.addScriptTag({ content: `window.wx = (${createFakeWx.toString()})(${JSON.stringify(PHONE)}, (request) => window.__nodeRequest(request), {});` });
  await page.addScriptTag({ path: join(ROOT, 'node_modules/miniprogram-simulate/build.js') });
  await page.evaluate(
    ({ files, wxmlCode, compiler, appKey, endpoint }) => {
      const w = window as unknown as Record<string, any>;
      w.__FILE_MAP__ = files;
      if (compiler === 'official') {
        // wcc's output is a $gwx(path) → template function, what simulate's official mode reads from the file map.
        const gwx = new Function(wxmlCode)() as (path: string) => unknown;
        for (const name of ['riskgate-slider', 'riskgate-sms']) files[`mp/components/${name}/index.wxml`] = gwx(`components/${name}/index.wxml`) as string;
      }
      // A mini-program's require: CommonJS with exports, relative paths, one instance per file.
      const modules: Record<string, { exports: unknown }> = {};
      const normalize = (path: string) => {
        const out: string[] = [];
        for (const part of path.split('/')) {
          if (part === '..') out.pop();
          else if (part && part !== '.') out.push(part);
        }
        return out.join('/');
      };
      const load = (path: string): unknown => {
        let name = normalize(path);
        if (!name.endsWith('.js')) name += '.js';
        const loaded = modules[name];
        if (loaded) return loaded.exports;
        const source = files[name];
        if (typeof source !== 'string') throw new Error(`no module ${name}`);
        const module = { exports: {} };
        modules[name] = module;
        const dir = name.split('/').slice(0, -1).join('/');
        new Function('require', 'module', 'exports', source)((relative: string) => load(`${dir}/${relative}`), module, module.exports);
        return module.exports;
      };
      w.require = load;
      const simulate = w.simulate;
      const options = { compiler, rootPath: 'mp' };
      const slider = simulate.load('mp/components/riskgate-slider/index', 'riskgate-slider', options);
      const sms = simulate.load('mp/components/riskgate-sms/index', 'riskgate-sms', options);
      w.__events = [];
      const record = (type: string) =>
        function (this: unknown, event: { detail: unknown }) {
          w.__events.push({ type, detail: event.detail });
        };
      const host = simulate.load({
        template: `<riskgate-slider id="slider" token="{{token}}" bindsuccess="sliderSuccess" bindfail="sliderFail"></riskgate-slider>
          <riskgate-sms id="sms" bindsuccess="smsSuccess" bindfail="smsFail"></riskgate-sms>`,
        usingComponents: { 'riskgate-slider': slider, 'riskgate-sms': sms },
        data: { token: '' },
        methods: { sliderSuccess: record('slider:success'), sliderFail: record('slider:fail'), smsSuccess: record('sms:success'), smsFail: record('sms:fail') },
      });
      w.rg = (load('mp/index.js') as { init(o: object): unknown }).init({ appKey, endpoint });
      w.host = simulate.render(host);
      w.host.attach(document.body);
    },
    { files: fileMap(), wxmlCode, compiler, appKey: APP_KEY, endpoint: server.base },
  );
  return page;
}

/** Waits until `probe` (run in the page) returns something truthy. */
async function until<T>(page: Page, probe: () => T, what: string, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const handle = await page.waitForFunction(probe, undefined, { timeout: timeoutMs, polling: 50 }).catch((error: Error) => {
    throw new Error(`waiting for ${what}: ${error.message}`);
  });
  return (await handle.jsonValue()) as NonNullable<T>;
}

type SliderData = { state: string; message: string; background: string; width: number; left: number; attemptsLeft: number };

const sliderData = (page: Page) =>
  page.evaluate(() => (window as unknown as { host: { querySelector(s: string): { data: SliderData } } }).host.querySelector('#slider').data);

/** Plays a drag on the slider's handle: touchstart, every move, touchend, each at its track time. */
async function drag(page: Page, track: readonly (readonly [number, number, number])[]): Promise<void> {
  await page.evaluate(async (points) => {
    const w = window as unknown as Record<string, any>;
    const knob = w.host.querySelector('#slider').querySelector('#knob');
    const [x0, y0, t0] = [40, 420, 1_700_000_000_000];
    const at = (i: number) => ({ x: x0 + points[i]![1], y: y0 + points[i]![2] });
    const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
    for (let i = 0; i < points.length; i++) {
      w.__clock.set(t0 + points[i]![0]);
      const touch = at(i);
      if (i === 0) knob.dispatchEvent('touchstart', { touches: [touch], changedTouches: [touch] });
      else if (i === points.length - 1) knob.dispatchEvent('touchend', { touches: [], changedTouches: [touch] });
      else knob.dispatchEvent('touchmove', { touches: [touch], changedTouches: [touch] });
      await tick();
    }
    w.__clock.release();
  }, track);
}

async function evaluate(body: Record<string, unknown>): Promise<EvaluateResponse> {
  const { status, json } = await server.api<EvaluateResponse>('POST', '/v1/risk/evaluate', { ip: '58.33.10.7', ...body });
  expect(status, JSON.stringify(json)).toBe(200);
  return json;
}

async function verify(sessionId: string): Promise<VerifyResponse> {
  return (await server.api<VerifyResponse>('POST', '/v1/challenges/verify', { session_id: sessionId })).json;
}

describe.skipIf(!existsSync(CHROMIUM))('challenge components in miniprogram-simulate, against RiskGate', () => {
  it.skipIf(process.platform !== 'linux' || process.arch !== 'x64')('compiles the components with WeChat’s wcc on this machine', () => {
    console.info(`templates compiled by: ${compiler}`);
    expect(compiler).toBe('official');
    expect(wxmlCode).toContain('$gwx');
  });

  it('slider: starts from the token property, refuses a wrong drag with a new puzzle, passes a person-like drag', async () => {
    const page = await openPage();
    // A registration without a device token scores level 2: evaluate advises a slider.
    const advice = await evaluate({ event: 'register', account_id: 'mp-slider-user' });
    expect(advice).toMatchObject({ challenge: 'slider', challenge_token: expect.any(String) });

    await page.evaluate((token) => (window as unknown as { host: { setData(d: object): void } }).host.setData({ token }), advice.challenge_token!);
    await until(page, () => (window as any).host.querySelector('#slider').data.state === 'ready', 'the first puzzle');
    const first = await sliderData(page);
    expect(first).toMatchObject({ width: 320, left: 0, attemptsLeft: 5 });
    expect(first.background).toMatch(/^data:image\/png;base64,/);
    const html = await page.evaluate(() => (window as any).host.querySelector('#slider').dom.innerHTML as string);
    expect(html).toContain('knob');

    // A drag that stops short, off every hole (a drop on a decoy would end the
    // challenge): the server says failed and sends another puzzle.
    const rand = seeded(42);
    const holes = [puzzles.at(-1)!.answerX, ...(puzzles.at(-1)!.decoyXs ?? [])];
    let short = puzzles.at(-1)!.answerX - 30;
    while (short > 12 && holes.some((x) => Math.abs(x - short) <= 8)) short--;
    await drag(page, humanTrack(rand, short, { device: 'touch', speed: 'normal', style: 'direct' }).track);
    await until(page, () => /\d/.test((window as any).host.querySelector('#slider').data.message), 'the retry message');
    await until(page, () => (window as any).host.querySelector('#slider').data.state === 'ready', 'the second puzzle');
    const second = await sliderData(page);
    expect(second.attemptsLeft).toBe(4);
    expect(second.message).toContain('4');
    expect(second.background).not.toBe(first.background);
    expect(puzzles).toHaveLength(2);

    // A person-like drag onto the new hole.
    await drag(page, humanTrack(rand, puzzles.at(-1)!.answerX, { device: 'touch', speed: 'normal', style: 'direct' }).track);
    const events = await until(page, () => ((window as any).__events as { type: string }[]).length > 0 && (window as any).__events, 'success');
    expect(events).toEqual([{ type: 'slider:success', detail: { session_id: expect.any(String) } }]);
    expect((await sliderData(page)).state).toBe('passed');
    const sessionId = (events[0] as { detail: { session_id: string } }).detail.session_id;
    expect(await verify(sessionId)).toMatchObject({ success: true, type: 'slider', event: 'register', account_id: 'mp-slider-user' });
    await page.context().close();
  });

  it('sms: rg.challenge() finds the component, sends the code, counts a wrong one down, passes the right one', async () => {
    const page = await openPage();
    // No device token (40) and a disposable email (30): level 3, and evaluate advises SMS to the number given.
    const advice = await evaluate({ event: 'register', account_id: 'mp-sms-user', mobile: '+8613812345678', email: 'x@mailinator.com' });
    expect(advice).toMatchObject({ challenge: 'sms', challenge_token: expect.any(String) });
    const sent = texts.length;

    await page.evaluate((token) => {
      const w = window as unknown as Record<string, any>;
      w.rg.challenge(token).then(
        (result: unknown) => (w.__outcome = { result }),
        (error: { code: string }) => (w.__outcome = { error: error.code }),
      );
    }, advice.challenge_token!);
    await until(page, () => (window as any).host.querySelector('#sms').data.countdown > 0, 'the code to be sent');
    expect(texts).toHaveLength(sent + 1);
    const code = texts.at(-1)!.code!;
    const sms = await page.evaluate(() => (window as any).host.querySelector('#sms').data as { notice: string; resendLabel: string; state: string });
    expect(sms.notice).toMatch(/\*{4,}5678/);
    expect(sms.resendLabel).toMatch(/\d+/);
    const html = await page.evaluate(() => (window as any).host.querySelector('#sms').dom.innerHTML as string);
    expect(html).toMatch(/\*{4,}5678/);
    expect(html).not.toContain('13812345678');

    const enter = (value: string) =>
      page.evaluate((value) => {
        const sms = (window as any).host.querySelector('#sms');
        sms.querySelector('.rg-code').dispatchEvent('input', { detail: { value } });
        return new Promise((resolve) => setTimeout(resolve, 0)).then(() => sms.querySelector('.rg-verify').dispatchEvent('tap'));
      }, value);

    await enter(code === '000000' ? '111111' : '000000');
    await until(page, () => /\d/.test((window as any).host.querySelector('#sms').data.message), 'the wrong-code message');
    expect(await page.evaluate(() => (window as any).host.querySelector('#sms').data.message)).toContain('4');

    await enter(code);
    const outcome = await until(page, () => (window as any).__outcome, 'rg.challenge() to settle');
    expect(outcome).toEqual({ result: { session_id: expect.any(String) } });
    const events = await page.evaluate(() => (window as any).__events);
    expect(events).toEqual([{ type: 'sms:success', detail: { session_id: (outcome as { result: { session_id: string } }).result.session_id } }]);
    expect(await verify((outcome as { result: { session_id: string } }).result.session_id)).toMatchObject({ success: true, type: 'sms' });
    await page.context().close();
  });

  it('slider: rg.slider() runs a standalone captcha in the page\'s component', async () => {
    const page = await openPage();
    await page.evaluate(() => {
      const w = window as unknown as Record<string, any>;
      w.rg.slider({ event: 'login', onStart: (info: unknown) => (w.__started = info) }).then(
        (result: unknown) => (w.__outcome = { result }),
        (error: { code: string }) => (w.__outcome = { error: error.code }),
      );
    });
    await until(page, () => (window as any).host.querySelector('#slider').data.state === 'ready', 'the puzzle');
    expect(await page.evaluate(() => (window as any).__started)).toEqual({ challenge_id: expect.any(String), type: 'slider' });
    await drag(page, humanTrack(seeded(7), puzzles.at(-1)!.answerX, { device: 'touch', speed: 'slow', style: 'two_step' }).track);
    const outcome = (await until(page, () => (window as any).__outcome, 'rg.slider() to settle')) as { result: { session_id: string } };
    expect(await verify(outcome.result.session_id)).toMatchObject({ success: true, type: 'slider', event: 'login' });
    await page.context().close();
  });

  it('rejects rg.challenge() with challenge_unavailable when no component of that type is on the page, before spending the token', async () => {
    const page = await openPage();
    const advice = await evaluate({ event: 'register', account_id: 'mp-none' });
    const result = await page.evaluate(async (token) => {
      const w = window as unknown as Record<string, any>;
      w.host.detach();
      return w.rg.challenge(token).then(
        () => 'passed',
        (error: { code: string; name: string }) => `${error.name}:${error.code}`,
      );
    }, advice.challenge_token!);
    expect(result).toBe('RiskGateError:challenge_unavailable');
    // The token is still good: a backend-less retry on another page could use it.
    const started = await fetch(`${server.base}/v1/challenges`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ app_key: APP_KEY, challenge_token: advice.challenge_token }),
    });
    expect(started.status).toBe(200);
    await page.context().close();
  });
});
