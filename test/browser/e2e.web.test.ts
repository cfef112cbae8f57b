/**
 * End to end in real browsers, against the real server: what `npm start` runs
 * (`node dist/demo/main.js`, the built server with the demo composed in; no
 * RISKGATE_CONFIG, so it generates the demo app and mounts the demo shop at
 * /demo/) and Debian's Chromium.
 *
 * - Headless Chromium under playwright-core fills in the demo's registration
 *   form; what the page shows, what the demo backend answers and what the server
 *   logged must agree, and automation must be caught.
 * - A person-like visit: a normal, headful Chromium under Xvfb that nothing is
 *   attached to (no Playwright, no DevTools port, no --enable-automation), driven
 *   only by X11 input from xdotool, must score level 1 or lower.
 *
 * The ESM build bundled into a page is covered by sdk.browser.test.ts.
 *
 * `npm test` builds first. Run alone: `npm run build && npx vitest run e2e.web.test.ts`.
 * Screenshots go to the OS temp directory; their paths are printed.
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecisionRecord } from '../../shared/schemas.js';
import { CHROMIUM, HEADLESS_CHROMIUM_ARGS as HEADLESS_ARGS } from '../support/chromium.js';
import {
  api,
  demoFormLayout,
  Harness,
  HAS_CHROMIUM,
  HAS_DIST,
  MISSING,
  openDemo,
  personFillsDemoForm,
  sleep,
  startRiskGate,
  type DemoAnswer,
  type DemoFormPart,
  type EvaluateAnswer,
  type RiskGateServer,
} from '../support/demo-server.js';
import {
  desktopChromiumArgs,
  HAS_X11_TOOLS,
  jitter,
  MISSING_X11,
  saveScreen,
  startWindowProbe,
  untilOnScreen,
  windowToScreen,
  xdotool,
  type Display,
  type WindowMetrics,
} from '../support/x11.js';

/** A normal desktop Chrome on Linux, as a scraper would claim to be. */
const DESKTOP_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36';
/** The SQLite log is flushed every 200 ms; a loaded machine gets far more. */
const DECISION_POLL_MS = 30_000;

// ---------------------------------------------------------------------------
// Scratch space, processes and clean-up (support/demo-server.ts)

const harness = new Harness('riskgate-e2e-');

afterAll(() => harness.cleanup(), 60_000);

async function decisionOf(server: RiskGateServer, sequenceId: string): Promise<DecisionRecord> {
  const { status, json } = await api<{ decision: DecisionRecord }>(server, 'GET', `/v1/decisions/${sequenceId}`);
  expect(status, JSON.stringify(json)).toBe(200);
  return json.decision;
}

/** Scores, tags and the rules that fired: printed for every browser setup, and the message of failed assertions. */
function summary(record: DecisionRecord): string {
  const features = record.features as { signals?: unknown; behavior?: unknown; token?: unknown };
  return JSON.stringify(
    {
      score: record.score,
      level: record.level,
      decision: record.decision,
      tags: record.tags,
      rules_hit: record.rules_hit.map((rule) => `${rule.id}${rule.state === 'shadow' ? ' (shadow)' : ''} ${rule.score > 0 ? '+' : ''}${rule.score}`),
      reasons: record.reasons.map((reason) => reason.id),
      token: features.token,
      signals: features.signals,
      behavior: features.behavior,
    },
    null,
    1,
  );
}

// ---------------------------------------------------------------------------
// Headless Chromium under Playwright

async function launchHeadless(options: { userAgent?: string; profile?: string; viewport?: { width: number; height: number } } = {}): Promise<{ context: BrowserContext; page: Page; profile: string; close: () => Promise<void> }> {
  const profile = options.profile ?? harness.dir('profile-');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...HEADLESS_ARGS, ...(options.userAgent ? [`--user-agent=${options.userAgent}`] : [])],
    ...(options.userAgent ? { userAgent: options.userAgent } : {}),
    ...(options.viewport ? { viewport: options.viewport } : {}),
    timeout: 60_000,
  });
  const close = harness.defer(() => context.close());
  context.setDefaultTimeout(30_000);
  const page = context.pages()[0] ?? (await context.newPage());
  return { context, page, profile, close };
}

/** Fills in and submits the registration form as a script would; returns what the demo backend answered. */
async function registerOnDemo(page: Page, username: string): Promise<DemoAnswer> {
  await page.fill('input[name=username]', username);
  await page.fill('input[name=email]', `${username}@example.com`);
  await page.fill('input[name=password]', 'correct-horse-battery');
  const answered = page.waitForResponse((response) => response.url().endsWith('/demo/api/register') && response.request().method() === 'POST');
  await page.click('#register-button');
  const response = await answered;
  expect(response.status(), await response.text()).toBe(200);
  const answer = (await response.json()) as DemoAnswer;
  // The panel shows the same answer.
  await page.waitForSelector('#result:not([hidden])');
  await expect.poll(() => page.textContent('#sequence'), { timeout: 15_000 }).toBe(answer.risk.sequence_id);
  return answer;
}

/** What the panel shows. */
async function panel(page: Page): Promise<{ decision: string; score: number; level: number; sequence: string; device: string; tags: string[]; reasons: string[] }> {
  return page.evaluate(() => {
    const text = (id: string) => document.getElementById(id)?.textContent?.trim() ?? '';
    return {
      decision: text('decision'),
      score: Number(text('score')),
      level: Number(text('level')),
      sequence: text('sequence'),
      device: document.getElementById('device')?.title ?? '',
      tags: [...document.querySelectorAll('#tags .tag')].map((tag) => tag.textContent ?? ''),
      reasons: [...document.querySelectorAll('#reasons code')].map((code) => code.textContent ?? ''),
    };
  });
}

// ---------------------------------------------------------------------------
// A desktop Chromium under Xvfb (support/x11.ts)

function startDesktopChromium(xvfb: Display, url: string, width: number, height: number) {
  return harness.spawn(CHROMIUM, desktopChromiumArgs(harness.dir('desktop-profile-'), width, height, url), xvfb.env);
}

// ---------------------------------------------------------------------------
// The tests

if (!HAS_DIST || !HAS_CHROMIUM) {
  console.warn(`e2e web tests skipped: missing ${MISSING}`);
  if (process.env.CI) {
    it('has a built server and Chromium to run the end-to-end web tests', () => {
      throw new Error(`missing ${MISSING}; in CI this is a failure`);
    });
  }
}

if (HAS_DIST && HAS_CHROMIUM && !HAS_X11_TOOLS) {
  console.warn(`e2e person-like visit skipped: missing ${MISSING_X11}`);
  if (process.env.CI) {
    it('has Xvfb and xdotool for the person-like visit', () => {
      throw new Error(`missing ${MISSING_X11}; in CI this is a failure (\`bash .ci/run\` installs them)`);
    });
  }
}

describe.skipIf(!HAS_DIST || !HAS_CHROMIUM)(
  HAS_DIST && HAS_CHROMIUM ? 'demo shop end to end: built server, real Chromium' : `SKIPPED (missing ${MISSING})`,
  () => {
    let server: RiskGateServer;

    beforeAll(async () => {
      server = await startRiskGate(harness, 'e2e');
    }, 60_000);

    it('serves the script-tag SDK with caching headers, and a registration on the demo page shows a decision whose token decoded', { timeout: 120_000 }, async () => {
      // The SDK as pages load it: cacheable, with a strong ETag that revalidates to 304.
      const sdk = await fetch(`${server.base}/sdk/riskgate.min.js`);
      expect(sdk.status).toBe(200);
      expect(sdk.headers.get('content-type')).toMatch(/javascript/);
      expect(sdk.headers.get('cache-control')).toMatch(/max-age=\d+/);
      const etag = sdk.headers.get('etag');
      expect(etag).toMatch(/^"[^"]+"$/);
      expect((await sdk.text()).length).toBeGreaterThan(1000);
      const revalidated = await fetch(`${server.base}/sdk/riskgate.min.js`, { headers: { 'if-none-match': etag! } });
      expect(revalidated.status).toBe(304);
      expect(await revalidated.text()).toBe('');

      const { page } = await launchHeadless();
      const sdkLoaded = page.waitForResponse((response) => new URL(response.url()).pathname === '/sdk/riskgate.min.js');
      await openDemo(page, server.base);
      expect((await sdkLoaded).status()).toBe(200);
      expect(await page.getAttribute('script[src$="riskgate.min.js"]', 'src')).toBe('/sdk/riskgate.min.js');

      const answer = await registerOnDemo(page, 'e2e_first_visit');
      const shown = await panel(page);
      expect(shown.sequence).toMatch(/^[0-9A-F]{32}$/);
      expect(shown.decision).toBe(answer.risk.decision);
      expect(shown.level).toBe(answer.risk.level);
      expect(shown.score).toBe(answer.risk.score);
      expect(answer.risk.fallback, 'the demo backend reached RiskGate').toBeFalsy();

      const record = await decisionOf(server, shown.sequence);
      console.info(`demo registration, headless Chromium under Playwright: ${summary(record)}`);
      expect((record.features as { token: { status: string } }).token.status, summary(record)).toBe('ok');
      expect(record.device_id).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(shown.device).toBe(record.device_id);
      expect(record.event).toBe('register');

      const screenshot = join(tmpdir(), 'riskgate-e2e-demo-after-registration.png');
      await page.screenshot({ path: screenshot, fullPage: true });
      console.info(`screenshot of the demo page after a registration: ${screenshot}`);
    });

    it('tags default headless Chromium under Playwright as a bot at level 3 or more', { timeout: 120_000 }, async () => {
      const { page } = await launchHeadless();
      await openDemo(page, server.base);
      const answer = await registerOnDemo(page, 'e2e_headless_default');
      const record = await decisionOf(server, answer.risk.sequence_id);
      console.info(`default headless Chromium: ${summary(record)}`);
      expect(answer.risk.tags, summary(record)).toContain('bot');
      expect(answer.risk.level, summary(record)).toBeGreaterThanOrEqual(3);
      expect((await panel(page)).tags).toContain('bot');
    });

    it('still tags headless Chromium that claims a normal desktop Chrome user agent, by its other signals, at level 3 or more', { timeout: 120_000 }, async () => {
      const { page } = await launchHeadless({ userAgent: DESKTOP_UA });
      await openDemo(page, server.base);
      expect(await page.evaluate(() => navigator.userAgent)).toBe(DESKTOP_UA);
      const answer = await registerOnDemo(page, 'e2e_headless_desktop_ua');
      const record = await decisionOf(server, answer.risk.sequence_id);
      console.info(`headless Chromium with a desktop user agent: ${summary(record)}`);
      expect(answer.risk.tags.some((tag) => tag === 'bot' || tag === 'automation'), summary(record)).toBe(true);
      expect(answer.risk.level, summary(record)).toBeGreaterThanOrEqual(3);
      // Not because of the user agent: the rules other than the headless-UA one reach level 3 on their own.
      const withoutUaRule = record.rules_hit.filter((rule) => rule.state === 'online' && rule.id !== 'bot_headless_ua').reduce((sum, rule) => sum + rule.score, 0);
      expect(withoutUaRule, summary(record)).toBeGreaterThanOrEqual(65);
      expect(record.reasons.map((reason) => reason.id)).not.toContain('ua_mismatch');
    });

    it('answers a replayed black_box with tag replayed and reason token_replayed, and an altered one with a token_* reason at level 4', { timeout: 120_000 }, async () => {
      const { page } = await launchHeadless();
      // Keep the token the page sends from reaching the demo backend, so that its first use is ours.
      let captured: string | undefined;
      await page.route('**/demo/api/register', async (route) => {
        captured = (route.request().postDataJSON() as { black_box?: string }).black_box;
        await route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ message: 'held back by the test' }) });
      });
      await openDemo(page, server.base);
      await page.fill('input[name=username]', 'e2e_replayer');
      await page.fill('input[name=password]', 'correct-horse-battery');
      await page.click('#register-button');
      await expect.poll(() => captured, { timeout: 30_000 }).toBeTypeOf('string');
      const blackBox = captured!;
      expect(blackBox.split('.')).toHaveLength(5);

      const request = { event: 'register', account_id: 'e2e_replayer', black_box: blackBox };
      const first = await api<EvaluateAnswer>(server, 'POST', '/v1/risk/evaluate', request);
      expect(first.status).toBe(200);
      const firstIds = first.json.reasons.map((reason) => reason.id);
      expect(firstIds.filter((id) => id.startsWith('token_') && id !== 'token_degraded'), JSON.stringify(first.json)).toEqual([]);
      expect(first.json.tags).not.toContain('replayed');

      const second = await api<EvaluateAnswer>(server, 'POST', '/v1/risk/evaluate', request);
      console.info(`replayed token: ${JSON.stringify({ score: second.json.score, level: second.json.level, tags: second.json.tags, reasons: second.json.reasons.map((r) => r.id) })}`);
      expect(second.status).toBe(200);
      expect(second.json.tags).toContain('replayed');
      expect(second.json.reasons.map((reason) => reason.id)).toContain('token_replayed');
      expect(second.json.level).toBe(4);

      // One character of the ciphertext changed in transit (away from the last character, whose low bits may be padding).
      const segments = blackBox.split('.');
      const ciphertext = segments[3]!;
      const at = Math.floor(ciphertext.length / 2);
      segments[3] = ciphertext.slice(0, at) + (ciphertext[at] === 'A' ? 'B' : 'A') + ciphertext.slice(at + 1);
      const altered = await api<EvaluateAnswer>(server, 'POST', '/v1/risk/evaluate', { ...request, black_box: segments.join('.') });
      console.info(`altered token: ${JSON.stringify({ score: altered.json.score, level: altered.json.level, tags: altered.json.tags, reasons: altered.json.reasons.map((r) => r.id) })}`);
      expect(altered.status).toBe(200);
      expect(altered.json.code).toBe(200);
      expect(altered.json.reasons.map((reason) => reason.id)).toContain('token_decrypt_failed');
      expect(altered.json.tags).toContain('tampered');
      expect(altered.json.level).toBe(4);
      expect(altered.json.decision).toBe('decline');
      expect(altered.json.device_id ?? null).toBeNull();
    });

    it('keeps the device_id across page loads of one persistent profile, and gives two fresh profiles different ones', { timeout: 180_000 }, async () => {
      const one = await launchHeadless();
      await openDemo(one.page, server.base);
      const a1 = (await registerOnDemo(one.page, 'e2e_device_a1')).risk.device_id;
      await openDemo(one.page, server.base); // a second page load
      const a2 = (await registerOnDemo(one.page, 'e2e_device_a2')).risk.device_id;
      await one.close();
      // The same profile opened again by a new browser process.
      const again = await launchHeadless({ profile: one.profile });
      await openDemo(again.page, server.base);
      const a3 = (await registerOnDemo(again.page, 'e2e_device_a3')).risk.device_id;
      await again.close();

      const other = await launchHeadless();
      await openDemo(other.page, server.base);
      const b1 = (await registerOnDemo(other.page, 'e2e_device_b1')).risk.device_id;

      console.info(`device ids: profile A ${a1} ${a2} ${a3}; profile B ${b1}`);
      expect(a1).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(a2).toBe(a1);
      expect(a3).toBe(a1);
      expect(b1).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(b1).not.toBe(a1);
    });

    describe.skipIf(!HAS_X11_TOOLS)(HAS_X11_TOOLS ? 'a person-like visit' : `SKIPPED (missing ${MISSING_X11})`, () => {
      const SCREEN = { width: 1280, height: 800 };

      /**
       * A normal desktop Chromium under Xvfb, driven only by X11 input (xdotool):
       * mouse paths, a click into the form, typing, Tab, a click on "Create account".
       *
       * Where to click is worked out without touching the visited browser: a first
       * desktop Chromium (own profile, same flags) opens a page of the test's own
       * that reports its window metrics (how far below the window's top the page
       * starts: tabs, toolbar, the --no-sandbox info bar); headless Chromium lays the
       * demo page out at that viewport size and gives the fields' boxes. Before the
       * first click the test checks on Xvfb's framebuffer that the button really is
       * where it computed.
       */
      it('scores a person-like visit in a normal headful Chromium (Xvfb, xdotool input only) at level 1 or lower, without the bot tag', { timeout: 300_000 }, async () => {
        // Its own server: the other tests' registrations from 127.0.0.1 must not count against this visitor.
        const personServer = await startRiskGate(harness, 'person');
        const xvfb = await harness.xvfb(SCREEN.width, SCREEN.height);

        // 1. The window metrics of a desktop Chromium started with the same flags.
        const probe = await startWindowProbe();
        const probeBrowser = startDesktopChromium(xvfb, probe.url, SCREEN.width, SCREEN.height);
        let metrics: WindowMetrics;
        try {
          metrics = await probe.reported(90_000, () => `the probe page did not report its window metrics:\n${probeBrowser.output()}`);
        } finally {
          probe.close();
          await harness.end(probeBrowser);
        }
        console.info(`desktop Chromium window metrics under Xvfb: ${JSON.stringify(metrics)}`);
        expect(metrics.dpr).toBe(1);
        const toScreen = windowToScreen(metrics);

        // 2. Where the fields are, from the same page laid out at the same viewport in headless Chromium.
        const layout = await launchHeadless({ viewport: { width: metrics.innerWidth, height: metrics.innerHeight } });
        await openDemo(layout.page, server.base);
        const fields = await demoFormLayout(layout.page, metrics.innerHeight);
        await layout.close();
        const at = (part: DemoFormPart, fx = 0.5, fy = 0.5) => {
          const box = fields.boxes[part];
          return toScreen(box.x + box.width * fx, box.y + box.height * fy);
        };

        // 3. The visit: a desktop Chromium nothing is attached to.
        const visitor = startDesktopChromium(xvfb, `${personServer.base}/demo/`, SCREEN.width, SCREEN.height);
        const windowId = (await xdotool(xvfb, ['search', '--sync', '--onlyvisible', '--class', 'chromium'], 90_000)).trim().split('\n')[0];
        expect(windowId, visitor.output()).toMatch(/^\d+$/);
        await untilOnScreen(xvfb, toScreen(fields.buttonSpot.x, fields.buttonSpot.y), fields.buttonColour, {
          what: "the demo page's button",
          timeoutMs: 90_000,
          screenshot: 'riskgate-e2e-xvfb-not-ready.png',
          detail: () => visitor.output().slice(-2000),
        });
        // The page's script fetches its config, then starts the SDK; a person looks at the page first anyway.
        await sleep(2500);

        await personFillsDemoForm(xvfb, at, {
          username: 'lily_chen',
          email: 'lily.chen@example.com',
          random: jitter(0x5eed),
          pointer: [Math.round(SCREEN.width / 2), Math.round(SCREEN.height / 2)],
          typeDelayMs: 120,
        });

        // 4. The decision, from the server's SQLite file (read-only): the test has no sequence id.
        const databaseFile = join(personServer.dataDir, 'riskgate.sqlite');
        let record: DecisionRecord | undefined;
        const deadline = Date.now() + DECISION_POLL_MS;
        while (!record && Date.now() < deadline) {
          await sleep(500);
          if (!existsSync(databaseFile)) continue;
          const database = new Database(databaseFile, { readonly: true, fileMustExist: true });
          try {
            const row = database.prepare("SELECT record FROM decisions WHERE event = 'register' ORDER BY created_at DESC LIMIT 1").get() as { record: string } | undefined;
            if (row) record = JSON.parse(row.record) as DecisionRecord;
          } finally {
            database.close();
          }
        }
        await sleep(1000); // let the panel render for the screenshot
        const shot = saveScreen(xvfb, 'riskgate-e2e-xvfb-person-visit.png');
        console.info(`screen of the person-like visit after submitting: ${shot}`);
        if (!record) throw new Error(`no register decision within ${DECISION_POLL_MS} ms; the screen is in ${shot}\nChromium:\n${visitor.output().slice(-2000)}`);
        expect(await decisionOf(personServer, record.sequence_id)).toMatchObject({ sequence_id: record.sequence_id, score: record.score });
        console.info(`person-like visit, headful Chromium under Xvfb driven by xdotool: ${summary(record)}`);

        const features = record.features as { token: { status: string }; signals: Record<string, unknown>; behavior: Record<string, number> };
        expect(features.token.status, summary(record)).toBe('ok');
        // The X11 input reached the page (else the "no behaviour" rule would be testing nothing).
        expect(features.behavior.pointer_moves, summary(record)).toBeGreaterThan(10);
        expect(features.behavior.key_presses, summary(record)).toBeGreaterThan(20);
        expect(features.behavior.clicks, summary(record)).toBeGreaterThanOrEqual(2);
        expect(record.tags, summary(record)).not.toContain('bot');
        expect(record.level, summary(record)).toBeLessThanOrEqual(1);
        expect(record.decision, summary(record)).toBe('accept');

        await harness.end(visitor);
        await xvfb.stop();
        await harness.end(personServer.process);
      });
    });
  },
);
