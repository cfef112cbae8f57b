/**
 * The persona suite of issue 12 ("Detection that holds against forgers, farms
 * and careful bots"): who visits the demo shop, in real Chromium against the
 * built server, and the level each must get.
 *
 *   1. default headless Chromium under Playwright                  → level ≥ 3
 *   2. headless, real desktop Chrome UA, AutomationControlled off   → level ≥ 3
 *   3. careful stealth (support/stealth.ts) on top of 2             → level ≥ 3
 *   4. headful under Xvfb: (a) Playwright with viewport null,
 *      (b) raw DevTools protocol Runtime.evaluate, no Playwright    → level ≥ 3
 *   5. a Node forger (support/forger.ts), unenrolled device keys:
 *      (a) empty signals, (b) garbage signals                       → level ≥ 3
 *      (c) signals copied from a clean real Chromium token          → level ≥ 1 (challenge or worse)
 *   6. a registration farm, 30 fresh contexts of persona 2 on one machine,
 *      (a) one public IP, (b) 30 public IPs                         → level ≥ 3 from the 5th on
 *   7. the slider solver: covered by the slider engineer's own test
 *      (test/support/slider-solver.ts on their branch); nothing here.
 *   8. a person: plain headful Chromium under Xvfb, xdotool input   → level ≤ 1
 *   9. a household/office NAT: 5 machines (screen, scale, TZ, language
 *      differ) behind one public IP, one registration each           → each level ≤ 1
 *
 * Written against the detection of the day: personas that today's rules do
 * not catch fail, by design, until the work lands. The table printed
 * at the end (and written to riskgate-personas.txt in the OS temp directory)
 * shows persona → score, level, decision, reasons; every failed assertion
 * carries the rules hit and the signals.
 *
 * Servers: one for personas 1–5 (each persona has its own IP), one per farm,
 * one for the person, one for the household (state is per server in memory
 * mode). Every server trusts X-Forwarded-For (see support/personas.ts for the
 * IPs and why they are not from the documentation ranges).
 *
 * Run alone: `npm run build && npx vitest run personas.test.ts`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type LaunchOptions } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, type ExpectStatic } from 'vitest';
import { CHROMIUM, HEADLESS_CHROMIUM_ARGS } from '../support/chromium.js';
import { connectCdp, evaluate } from '../support/cdp.js';
import { fetchServerKey, forgeToken, openRawPayload } from '../support/forger.js';
import { api, Harness, HAS_CHROMIUM, HAS_DIST, MISSING, openDemo, sleep, type DemoAnswer, type EvaluateAnswer, type RiskGateServer } from '../support/demo-server.js';
import { checkNotFallback, decisionOf, PersonaTable, personVisit, registerOnDemo, startPersonaServer, summary, type Machine } from '../support/personas.js';
import { DESKTOP_CHROMIUM_FLAGS, desktopChromiumArgs, HAS_X11_TOOLS, MISSING_X11, x11Env, type Display } from '../support/x11.js';
import { startForwardingProxy } from '../support/reverse-proxy.js';
import { desktopChromeUserAgent, STEALTH_GPU, stealthInitScript } from '../support/stealth.js';

const READY = HAS_DIST && HAS_CHROMIUM;
const READY_X11 = READY && HAS_X11_TOOLS;

/** Each persona's public IP (see support/personas.ts: unicast, never contacted). */
const IP = {
  headless: '7.0.1.10',
  desktopUa: '7.0.2.10',
  stealth: '7.0.3.10',
  headfulPlaywright: '7.0.41.10',
  rawCdp: '7.0.42.10',
  /** The forger rotates addresses: one per forged registration (5a, 5b…), another for 5c's source browser. */
  forger: (n: number) => `7.${50 + n}.0.10`,
  farmOne: '7.0.6.10',
  /** 30 addresses in 30 different /16s, as a residential proxy pool hands out. */
  farmMany: (i: number) => `11.${40 + i}.${(i * 37) % 250}.${10 + i}`,
  person: '11.8.0.8',
  household: '11.9.0.9',
} as const;

const FARM_SIZE = 30;
/** From this registration on, every farm registration must be at level 3 or more. */
const FARM_CAUGHT_BY = 5;

const harness = new Harness('riskgate-personas-');
const table = new PersonaTable();
/** A clean real Chromium token's payload, for the forger (5c) to copy: the person's (8), else persona 4a's. */
let cleanSource: { payload: Record<string, unknown>; userAgent: string; from: string } | undefined;

afterAll(async () => {
  if (table.rows.length > 0) {
    const text = `RiskGate personas (issue 12): persona → score, level, decision, reasons\n${table.format()}\n`;
    const file = join(tmpdir(), 'riskgate-personas.txt');
    writeFileSync(file, text);
    console.info(`${text}(also in ${file})`);
  }
  await harness.cleanup();
}, 120_000);

if (!READY) {
  console.warn(`persona tests skipped: missing ${MISSING}`);
  if (process.env.CI) {
    it('has a built server and Chromium to run the persona tests', () => {
      throw new Error(`missing ${MISSING}; in CI this is a failure`);
    });
  }
}
if (READY && !HAS_X11_TOOLS) {
  console.warn(`headful personas (4, 8, 9) skipped: missing ${MISSING_X11}`);
  if (process.env.CI) {
    it('has Xvfb and xdotool for the headful personas', () => {
      throw new Error(`missing ${MISSING_X11}; in CI this is a failure (\`bash .ci/run\` installs them)`);
    });
  }
}

// ---------------------------------------------------------------------------
// Browsers

let chromeMajor = '';

/** Launches a Playwright browser; closed at the end. Learns Chromium's major version for the user agents. */
async function launch(options: LaunchOptions): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, timeout: 60_000, ...options });
  harness.defer(() => browser.close());
  chromeMajor ||= browser.version().split('.')[0]!;
  return browser;
}

/** Persona 1: Playwright's defaults. */
const launchDefaultHeadless = () => launch({ headless: true, args: HEADLESS_CHROMIUM_ARGS });

/** Persona 2's browser: headless, AutomationControlled off, no --enable-automation. */
const launchCarefulHeadless = () =>
  launch({ headless: true, args: [...HEADLESS_CHROMIUM_ARGS, '--disable-blink-features=AutomationControlled'], ignoreDefaultArgs: ['--enable-automation'] });

async function newContext(browser: Browser, ip: string, options: Parameters<Browser['newContext']>[0] = {}): Promise<BrowserContext> {
  const context = await browser.newContext({ ...options, extraHTTPHeaders: { 'x-forwarded-for': ip } });
  context.setDefaultTimeout(30_000);
  return context;
}

/** Registers on the demo page in a fresh context and closes it; the answer and the logged decision. */
async function registerInContext(
  server: RiskGateServer,
  context: BrowserContext,
  username: string,
  careful: boolean,
  onBlackBox?: (blackBox: string) => void,
  withDetails = true,
): Promise<{ answer: DemoAnswer; summary: string }> {
  try {
    const page = await context.newPage();
    if (onBlackBox) {
      page.on('request', (request) => {
        if (request.url().endsWith('/demo/api/register') && request.method() === 'POST') {
          const blackBox = (request.postDataJSON() as { black_box?: string }).black_box;
          if (blackBox) onBlackBox(blackBox);
        }
      });
    }
    await openDemo(page, server.base);
    const answer = await registerOnDemo(page, username, { careful });
    return { answer, summary: withDetails ? summary(answer.risk, await decisionOf(server, answer.risk.sequence_id)) : '' };
  } finally {
    await context.close();
  }
}

/** Records a row and asserts `level >= min` (or `<= max`). */
function expectLevel(persona: string, answer: EvaluateAnswer, details: string, bounds: { min?: number; max?: number }, note?: string): void {
  const expected = bounds.min !== undefined ? `level ≥ ${bounds.min}` : `level ≤ ${bounds.max}`;
  const ok = (bounds.min === undefined || answer.level >= bounds.min) && (bounds.max === undefined || answer.level <= bounds.max);
  table.add(persona, expected, ok, answer, note);
  console.info(`${persona}: ${details}`);
  if (bounds.min !== undefined) expect(answer.level, `${persona}\n${details}`).toBeGreaterThanOrEqual(bounds.min);
  if (bounds.max !== undefined) expect(answer.level, `${persona}\n${details}`).toBeLessThanOrEqual(bounds.max);
}

// ---------------------------------------------------------------------------
// The personas

describe.skipIf(!READY)(READY ? 'personas of issue 12: built server, real Chromium' : `SKIPPED (missing ${MISSING})`, () => {
  // The people first: the person's token is the clean one the forger (5c) copies.
  describe.skipIf(!READY_X11)(READY_X11 ? 'people: plain headful Chromium under Xvfb, xdotool input only' : `SKIPPED (missing ${MISSING_X11})`, () => {
    let layoutBrowser: Browser;
    beforeAll(async () => {
      layoutBrowser = await launchDefaultHeadless();
    }, 60_000);
    afterAll(async () => {
      await layoutBrowser?.close();
    });

    it('8. a person registering on the demo page: level ≤ 1', { timeout: 240_000 }, async () => {
      const server = await startPersonaServer(harness, 'person');
      const machine: Machine = { width: 1280, height: 800, dpr: 1, tz: 'Asia/Shanghai', lang: 'zh-CN' };
      const visit = await personVisit(harness, { server, ip: IP.person, machine, username: 'lily_chen', email: 'lily.chen@example.com', seed: 0x5eed, layoutBrowser });
      if (visit.blackBox) cleanSource = { payload: await openRawPayload(server.dataDir, visit.blackBox), userAgent: visit.seen.userAgent, from: 'the person (8, plain headful Chromium)' };
      const record = await decisionOf(server, visit.answer.risk.sequence_id);
      const details = summary(visit.answer.risk, record);
      console.info(`8 person: browser saw ${JSON.stringify(visit.seen)}; screen after submitting: ${visit.screenshot}`);
      // The X11 input reached the page (else this would test nothing).
      const behavior = (record.features as { behavior: Record<string, number> }).behavior;
      expect(behavior.pointer_moves, details).toBeGreaterThan(10);
      expect(behavior.key_presses, details).toBeGreaterThan(20);
      expectLevel('8 person (xdotool)', visit.answer.risk, details, { max: 1 });
    });

    it('9. a household/office NAT: 5 people on 5 machines behind one public IP, one registration each: each level ≤ 1', { timeout: 300_000 }, async () => {
      const server = await startPersonaServer(harness, 'household');
      const people: { username: string; email: string; machine: Machine }[] = [
        { username: 'wang_fang', email: 'wang.fang@example.com', machine: { width: 1280, height: 800, dpr: 1, tz: 'Asia/Shanghai', lang: 'zh-CN' } },
        { username: 'jonas_weber', email: 'jonas.weber@example.com', machine: { width: 1920, height: 1200, dpr: 1.5, tz: 'Europe/Berlin', lang: 'de-DE' } },
        { username: 'maria_lopez', email: 'maria.lopez@example.com', machine: { width: 1440, height: 900, dpr: 1, tz: 'America/New_York', lang: 'en-US' } },
        { username: 'sato_yui', email: 'sato.yui@example.com', machine: { width: 1600, height: 1000, dpr: 1.25, tz: 'Asia/Tokyo', lang: 'ja-JP' } },
        { username: 'tom_baker', email: 'tom.baker@example.com', machine: { width: 1680, height: 1050, dpr: 1, tz: 'Europe/London', lang: 'en-GB' } },
      ];
      // Staggered a little, as people are; the five visits overlap, so all are done within a few minutes.
      const visits = await Promise.all(
        people.map(async (person, i) => {
          await sleep(i * 6000);
          return personVisit(harness, { server, ip: IP.household, machine: person.machine, username: person.username, email: person.email, seed: 0x1000 + i, layoutBrowser });
        }),
      );
      // Five machines: five fingerprints.
      const visitorIds = await Promise.all(
        visits.map(async (visit) => (visit.blackBox ? ((await openRawPayload(server.dataDir, visit.blackBox)).signals as { visitor_id?: string } | undefined)?.visitor_id : undefined)),
      );
      console.info(`9 household: what each browser saw ${JSON.stringify(visits.map((v) => v.seen))}; visitor ids ${JSON.stringify(visitorIds)}`);
      const failures: string[] = [];
      for (const [i, visit] of visits.entries()) {
        const person = people[i]!;
        const record = await decisionOf(server, visit.answer.risk.sequence_id);
        const details = summary(visit.answer.risk, record);
        const ok = visit.answer.risk.level <= 1;
        const { machine } = person;
        table.add(`9 household ${person.username}`, 'level ≤ 1', ok, visit.answer.risk, `${machine.width}x${machine.height}@${machine.dpr} ${machine.tz} ${machine.lang}`);
        console.info(`9 household ${person.username}: ${details}`);
        if (!ok) failures.push(`${person.username}: ${details}`);
      }
      expect(new Set(visitorIds.filter(Boolean)).size, `five different visitor ids: ${JSON.stringify(visitorIds)}`).toBe(5);
      expect(failures, failures.join('\n')).toEqual([]);
    });
  });

  describe('bots and forgers (one server, one IP each)', () => {
    let server: RiskGateServer;

    beforeAll(async () => {
      server = await startPersonaServer(harness, 'bots');
    }, 60_000);

    it('1. default headless Chromium under Playwright: level ≥ 3', { timeout: 120_000 }, async () => {
      const browser = await launchDefaultHeadless();
      const { answer, summary: details } = await registerInContext(server, await newContext(browser, IP.headless), 'p1_headless', false);
      await browser.close();
      expectLevel('1 default headless', answer.risk, details, { min: 3 });
    });

    it('2. headless with a real desktop Chrome UA and AutomationControlled off: level ≥ 3', { timeout: 120_000 }, async () => {
      const browser = await launchCarefulHeadless();
      const userAgent = desktopChromeUserAgent(chromeMajor);
      const context = await newContext(browser, IP.desktopUa, { userAgent });
      const { answer, summary: details } = await registerInContext(server, context, 'p2_desktop_ua', true);
      await browser.close();
      expectLevel('2 headless, desktop UA, AC off', answer.risk, details, { min: 3 });
    });

    it('3. careful stealth (WeakMap toString, method getters, spoofed WebGL) on a headless Chromium: level ≥ 3', { timeout: 120_000 }, async () => {
      const browser = await launchCarefulHeadless();
      const userAgent = desktopChromeUserAgent(chromeMajor);
      const context = await newContext(browser, IP.stealth, { userAgent, locale: 'en-US' });
      await context.addInitScript({ content: stealthInitScript() });
      // The stealth holds in the page: what a page script that only reads the usual properties sees.
      const probe = await context.newPage();
      await probe.goto(`${server.base}/demo/`);
      const seen = await probe.evaluate(() => {
        const canvas = document.createElement('canvas');
        const gl = canvas.getContext('webgl');
        return {
          webdriver: navigator.webdriver,
          toString: Function.prototype.toString.toString(),
          webdriverGetter: String(Object.getOwnPropertyDescriptor(Navigator.prototype, 'webdriver')?.get),
          renderer: gl ? String(gl.getParameter(0x9246)) : '',
          plugins: navigator.plugins.length,
          userAgent: navigator.userAgent,
        };
      });
      await probe.close();
      expect(seen, 'the stealth script took effect').toMatchObject({
        webdriver: false,
        toString: 'function toString() { [native code] }',
        webdriverGetter: 'function get webdriver() { [native code] }',
        renderer: STEALTH_GPU.renderer,
        userAgent,
      });
      expect(seen.plugins).toBeGreaterThan(0);
      const { answer, summary: details } = await registerInContext(server, context, 'p3_stealth', true);
      await browser.close();
      expectLevel('3 careful stealth', answer.risk, details, { min: 3 });
    });

    describe.skipIf(!READY_X11)(READY_X11 ? 'headful under Xvfb' : `SKIPPED (missing ${MISSING_X11})`, () => {
      let xvfb: Display;
      beforeAll(async () => {
        xvfb = await harness.xvfb(1280, 800);
      }, 60_000);

      it('4a. headful Chromium under Xvfb driven by Playwright (viewport null, AutomationControlled off): level ≥ 3', { timeout: 150_000 }, async () => {
        const browser = await launch({
          headless: false,
          args: [
            ...DESKTOP_CHROMIUM_FLAGS,
            '--disable-blink-features=AutomationControlled',
            '--window-size=1280,800',
            '--window-position=0,0',
          ],
          ignoreDefaultArgs: ['--enable-automation'],
          env: x11Env(xvfb),
        });
        const context = await newContext(browser, IP.headfulPlaywright, { viewport: null });
        const userAgent = await (async () => {
          const page = await context.newPage();
          const ua = await page.evaluate(() => navigator.userAgent);
          await page.close();
          return ua;
        })();
        let blackBox: string | undefined;
        const { answer, summary: details } = await registerInContext(server, context, 'p4a_headful_playwright', true, (token) => (blackBox = token));
        if (blackBox && !cleanSource) cleanSource = { payload: await openRawPayload(server.dataDir, blackBox), userAgent, from: 'persona 4a (headful Chromium under Playwright)' };
        await browser.close();
        expectLevel('4a headful Playwright, viewport null', answer.risk, details, { min: 3 });
      });

      it('4b. headful Chromium under Xvfb driven by raw DevTools protocol (Runtime.evaluate, no Playwright): level ≥ 3', { timeout: 150_000 }, async () => {
        const proxy = await startForwardingProxy(server.base, IP.rawCdp);
        const closeProxy = harness.defer(() => proxy.close());
        const profile = harness.dir('cdp-profile-');
        // Careful: AutomationControlled off, else --remote-debugging-port alone sets navigator.webdriver.
        const browser = harness.spawn(
          CHROMIUM,
          desktopChromiumArgs(profile, 1280, 800, `${proxy.base}/demo/`, ['--remote-debugging-port=0', '--disable-blink-features=AutomationControlled']),
          x11Env(xvfb),
        );
        try {
          // Chromium writes the port it picked into the profile.
          let port = '';
          const deadline = Date.now() + 60_000;
          while (!port) {
            try {
              port = readFileSync(join(profile, 'DevToolsActivePort'), 'utf8').split('\n')[0]!.trim();
            } catch {
              if (Date.now() > deadline) throw new Error(`no DevToolsActivePort:\n${browser.output().slice(-2000)}`);
              await sleep(200);
            }
          }
          let target: { type: string; url: string; webSocketDebuggerUrl: string } | undefined;
          while (!target) {
            const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { type: string; url: string; webSocketDebuggerUrl: string }[];
            target = targets.find((t) => t.type === 'page' && t.url.includes('/demo/'));
            if (!target) {
              if (Date.now() > deadline) throw new Error(`no demo page among the DevTools targets: ${JSON.stringify(targets)}`);
              await sleep(300);
            }
          }
          const cdp = await connectCdp(target.webSocketDebuggerUrl);
          try {
            while (!(await evaluate<boolean>(cdp, `document.readyState === 'complete' && typeof window.RiskGate?.init === 'function'`))) {
              if (Date.now() > deadline) throw new Error('the demo page did not load its SDK');
              await sleep(300);
            }
            await sleep(1500);
            // What a CDP script writer does: synthetic input events, values set, the button clicked.
            await evaluate(
              cdp,
              `(async () => {
                const wait = (ms) => new Promise((r) => setTimeout(r, ms));
                for (let i = 0; i < 25; i++) {
                  document.dispatchEvent(new MouseEvent('mousemove', { bubbles: true, clientX: 300 + i * 9, clientY: 200 + i * 5, screenX: 300 + i * 9, screenY: 285 + i * 5 }));
                  await wait(15);
                }
                const fill = async (selector, text) => {
                  const input = document.querySelector(selector);
                  input.focus();
                  input.dispatchEvent(new MouseEvent('click', { bubbles: true }));
                  const setValue = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
                  for (const key of text) {
                    input.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true }));
                    setValue.call(input, input.value + key);
                    input.dispatchEvent(new InputEvent('input', { data: key, inputType: 'insertText', bubbles: true }));
                    input.dispatchEvent(new KeyboardEvent('keyup', { key, bubbles: true }));
                    await wait(20);
                  }
                  input.dispatchEvent(new Event('change', { bubbles: true }));
                };
                await fill('input[name=username]', 'p4b_raw_cdp');
                await fill('input[name=email]', 'p4b_raw_cdp@example.com');
                await fill('input[name=password]', 'correct-horse-battery');
                document.getElementById('register-button').click();
                return true;
              })()`,
            );
            const answer = (await proxy.registration(1, 60_000)) as DemoAnswer;
            checkNotFallback(answer, '4b');
            const details = summary(answer.risk, await decisionOf(server, answer.risk.sequence_id));
            expectLevel('4b headful, raw CDP Runtime.evaluate', answer.risk, details, { min: 3 });
          } finally {
            cdp.close();
          }
        } finally {
          await harness.end(browser);
          await closeProxy();
        }
      });
    });

    /** Evaluates a forged token as a business backend would for a registration from the forger's IP. */
    async function evaluateForged(blackBox: string, account: string, userAgent: string, ip: string): Promise<{ answer: EvaluateAnswer; details: string }> {
      const { status, json } = await api<EvaluateAnswer>(server, 'POST', '/v1/risk/evaluate', {
        event: 'register',
        account_id: account,
        email: `${account}@example.com`,
        black_box: blackBox,
        ip,
        user_agent: userAgent,
      });
      expect(status, JSON.stringify(json)).toBe(200);
      return { answer: json, details: summary(json, await decisionOf(server, json.sequence_id)) };
    }

    it('5a. a Node forger with a fresh device key and empty signals: level ≥ 3', { timeout: 60_000 }, async () => {
      const serverKey = await fetchServerKey(server.base);
      const token = await forgeToken({ serverKey, appKey: server.appKey, signals: {}, behavior: {} });
      const { answer, details } = await evaluateForged(token, 'p5a_forged_empty', desktopChromeUserAgent(chromeMajor || '140'), IP.forger(1));
      expectLevel('5a forger, empty signals', answer, details, { min: 3 });
    });

    it('5b. a Node forger with garbage signals ("x", wrong types): level ≥ 3', { timeout: 60_000 }, async () => {
      const serverKey = await fetchServerKey(server.base);
      const userAgent = desktopChromeUserAgent(chromeMajor || '140');
      const asString = await evaluateForged(await forgeToken({ serverKey, appKey: server.appKey, signals: 'x', behavior: 'x' }), 'p5b_forged_x', userAgent, IP.forger(2));
      const wrongTypes = await evaluateForged(
        await forgeToken({
          serverKey,
          appKey: server.appKey,
          signals: { webdriver: 'x', visitor_id: 42, lies: 'none', webgl: [1, 2, 3], user_agent: { x: 1 }, screen: 'x', automation: 7, environment: null },
          behavior: { pointer_moves: 'many', key_presses: -5, clicks: 'x', dwell_ms: {} },
        }),
        'p5b_forged_types',
        userAgent,
        IP.forger(3),
      );
      table.add('5b forger, signals "x"', 'level ≥ 3', asString.answer.level >= 3, asString.answer);
      console.info(`5b forger, signals "x": ${asString.details}`);
      expectLevel('5b forger, wrong types', wrongTypes.answer, wrongTypes.details, { min: 3 });
      expect(asString.answer.level, `5b forger, signals "x"\n${asString.details}`).toBeGreaterThanOrEqual(3);
    });

    it('5c. a Node forger with signals copied from a clean real Chromium token, unenrolled: decision challenge or worse (level ≥ 1)', { timeout: 120_000 }, async () => {
      let source = cleanSource;
      if (!source) {
        // Neither the person (8) nor 4a ran (no Xvfb, or filtered): copy from a headless Chromium instead.
        const browser = await launchCarefulHeadless();
        const userAgent = desktopChromeUserAgent(chromeMajor);
        let blackBox: string | undefined;
        await registerInContext(server, await newContext(browser, IP.forger(9), { userAgent }), 'p5c_source', true, (token) => (blackBox = token));
        expect(blackBox, 'the page posted a black_box').toBeTypeOf('string');
        source = { payload: await openRawPayload(server.dataDir, blackBox!), userAgent, from: 'a headless Chromium (neither 8 nor 4a ran)' };
      }
      const { payload, userAgent } = source;
      const note = `copied from ${source.from}`;
      expect(payload.signals, 'the copied token has signals').toBeTypeOf('object');
      const serverKey = await fetchServerKey(server.base);
      const token = await forgeToken({
        serverKey,
        appKey: server.appKey,
        signals: payload.signals,
        behavior: payload.behavior,
        extra: { platform: payload.platform, sdk: payload.sdk, degraded: payload.degraded }, // no enrollment: the forger has none
      });
      const { answer, details } = await evaluateForged(token, 'p5c_forged_copy', userAgent, IP.forger(4));
      const ok = answer.level >= 1 && answer.decision !== 'accept';
      table.add('5c forger, copied signals, unenrolled', 'level ≥ 1, not accept', ok, answer, note);
      console.info(`5c forger, copied signals (${note}): ${details}`);
      expect(answer.level, details).toBeGreaterThanOrEqual(1);
      expect(answer.decision, details).not.toBe('accept');
    });
  });

  // 7. The slider solver is covered by the slider engineer's own test
  //    (test/support/slider-solver.ts on their branch): a solver drags the
  //    slider with a human-like track and must fail. Nothing here.

  // The two farms run side by side (a server and a browser each): most of a registration is waiting.
  describe.concurrent('registration farms: 30 fresh contexts of persona 2 on one machine (a server each)', () => {
    /**
     * 30 registrations, each in a fresh context (fresh device key) of one
     * careful headless browser; the levels from the 5th on must all be ≥ 3.
     * All 30 run even when an early one fails, so the table shows the curve.
     */
    async function farm(label: string, ipOf: (i: number) => string, check: ExpectStatic): Promise<void> {
      const server = await startPersonaServer(harness, `farm-${label}`);
      const browser = await launchCarefulHeadless();
      const userAgent = desktopChromeUserAgent(chromeMajor);
      // A registration that breaks (a timeout, the demo backend's fallback) is kept as an error and the farm goes on.
      const results: ({ answer: EvaluateAnswer; details: string } | { error: string })[] = [];
      for (let i = 1; i <= FARM_SIZE; i++) {
        try {
          const context = await newContext(browser, ipOf(i), { userAgent });
          const { answer } = await registerInContext(server, context, `farm_${label}_${String(i).padStart(2, '0')}`, true, undefined, false);
          results.push({ answer: answer.risk, details: '' });
        } catch (error) {
          results.push({ error: `#${i}: ${(error as Error).message.split('\n')[0]}` });
        }
      }
      await browser.close();
      const levels = results.map((r) => ('answer' in r ? String(r.answer.level) : 'E'));
      const caught = (r: (typeof results)[number]) => 'answer' in r && r.answer.level >= 3;
      const late = results.slice(FARM_CAUGHT_BY - 1);
      const firstMiss = late.find((r) => !caught(r));
      // The logged details of the ones printed: the first, the 5th, the first one missed.
      for (const result of new Set([results[0]!, results[FARM_CAUGHT_BY - 1]!, ...(firstMiss ? [firstMiss] : [])])) {
        if ('answer' in result) result.details = summary(result.answer, await decisionOf(server, result.answer.sequence_id));
      }
      for (const i of [1, FARM_CAUGHT_BY - 1, FARM_CAUGHT_BY, 10, FARM_SIZE]) {
        const result = results[i - 1]!;
        const wanted = i >= FARM_CAUGHT_BY;
        const note = [...('error' in result ? [result.error] : []), ...(i === FARM_SIZE ? [`levels #1–#${FARM_SIZE}: ${levels.join(' ')}`] : [])].join('; ');
        table.add(`6${label} farm #${i}`, wanted ? 'level ≥ 3' : '(any)', 'answer' in result && (!wanted || caught(result)), 'answer' in result ? result.answer : undefined, note || undefined);
      }
      const describeResult = (r: (typeof results)[number] | undefined) => (r === undefined ? '-' : 'answer' in r ? r.details : r.error);
      console.info(`6${label} farm levels #1–#${FARM_SIZE}: ${levels.join(' ')}\nfirst: ${describeResult(results[0])}\n#${FARM_CAUGHT_BY}: ${describeResult(results[FARM_CAUGHT_BY - 1])}`);
      const errors = results.filter((r): r is { error: string } => 'error' in r).map((r) => r.error);
      check(errors, `6${label}: registrations that did not complete`).toEqual([]);
      check(firstMiss, `6${label}: registrations #${FARM_CAUGHT_BY}–#${FARM_SIZE} must all be at level ≥ 3; levels ${levels.join(' ')}\nfirst below:\n${describeResult(firstMiss)}`).toBeUndefined();
    }

    it('6a. from one public IP: level ≥ 3 by the 5th registration and staying there', { timeout: 420_000 }, async ({ expect: check }) => {
      await farm('a', () => IP.farmOne, check);
    });

    it('6b. from 30 different public IPs (one machine): level ≥ 3 by the 5th registration and staying there', { timeout: 420_000 }, async ({ expect: check }) => {
      await farm('b', IP.farmMany, check);
    });
  });
});
