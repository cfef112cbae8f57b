/**
 * The harness of the persona suite (test/browser/personas.test.ts, issue 12): the
 * built server as a process (support/demo-server.ts, with `trust_proxy: true`),
 * plain desktop Chromium under Xvfb driven by xdotool (support/x11.ts),
 * Playwright-driven registrations on the demo page, the answer's details from
 * /v1/decisions, and the persona → score, level, decision, reasons table
 * printed at the end.
 *
 * Every persona has a public-looking IP of its own. The server sees every
 * browser at 127.0.0.1, so it trusts X-Forwarded-For: Playwright contexts send
 * it with `extraHTTPHeaders`, the browsers nothing automates go through a
 * forwarding proxy (reverse-proxy.ts) that adds it. The documentation ranges
 * (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) are "reserved" to
 * server/engine/features/identity.ts and would score private_ip, so the suite uses
 * addresses of 7.0.0.0/8 and 11.0.0.0/8: ordinary unicast to ipaddr.js, and
 * nothing is ever sent to them (all traffic goes to 127.0.0.1).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { DecisionRecord } from '../../shared/schemas.js';
import { CHROMIUM } from './chromium.js';
import {
  api,
  demoFormLayout,
  personFillsDemoForm,
  sleep,
  startRiskGate,
  type DemoAnswer,
  type DemoFormLayout,
  type DemoFormPart,
  type EvaluateAnswer,
  type Harness,
  type RiskGateServer,
} from './demo-server.js';
import { startForwardingProxy, type ForwardingProxy } from './reverse-proxy.js';
import { desktopChromiumArgs, jitter, saveScreen, startWindowProbe, untilOnScreen, windowToScreen, x11Env, xdotool } from './x11.js';

/**
 * A server for personas: the demo server (support/demo-server.ts) trusting
 * X-Forwarded-For (`trust_proxy: true`, every persona has an IP of its own),
 * warmed up before the personas come.
 */
export function startPersonaServer(harness: Harness, name: string): Promise<RiskGateServer> {
  return startRiskGate(harness, name, { config: { trust_proxy: true }, warmUp: true });
}

/** Throws when the demo backend answered with its fallback (RiskGate did not answer within the client's timeout). */
export function checkNotFallback(answer: DemoAnswer, who: string): void {
  if (answer.risk.fallback || !answer.risk.sequence_id) {
    throw new Error(
      `${who}: the demo backend did not get RiskGate's answer in time and used its fallback (${JSON.stringify(answer.risk)}, backend ${answer.backend_ms} ms); ` +
        'the machine is too loaded for the demo client\'s 300 ms timeout, nothing was scored',
    );
  }
}

/** The logged decision (features, rules hit); the SQLite log is written in batches, so it may take a moment. */
export async function decisionOf(server: RiskGateServer, sequenceId: string, timeoutMs = 30_000): Promise<DecisionRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { status, json } = await api<{ decision: DecisionRecord }>(server, 'GET', `/v1/decisions/${sequenceId}`);
    if (status === 200) return json.decision;
    if (Date.now() > deadline) throw new Error(`decision ${sequenceId}: HTTP ${status} ${JSON.stringify(json)}`);
    await sleep(300);
  }
}

/** Score, tags, rules that fired and the signals: the message of every failed level assertion. */
export function summary(answer: EvaluateAnswer, record?: DecisionRecord): string {
  const features = record?.features as { token?: unknown; signals?: unknown; behavior?: unknown; ip?: unknown; velocity?: unknown } | undefined;
  return JSON.stringify(
    {
      score: answer.score,
      level: answer.level,
      decision: answer.decision,
      tags: answer.tags,
      reasons: answer.reasons.map((reason) => reason.id),
      rules_hit: record?.rules_hit.map((rule) => `${rule.id}${rule.state === 'shadow' ? ' (shadow)' : ''} ${rule.score > 0 ? '+' : ''}${rule.score}`),
      token: features?.token,
      ip: features?.ip,
      signals: features?.signals,
      behavior: features?.behavior,
    },
    null,
    1,
  );
}

// ---------------------------------------------------------------------------
// The table

export interface PersonaRow {
  persona: string;
  expected: string;
  ok: boolean;
  score?: number;
  level?: number;
  decision?: string;
  reasons?: string[];
  note?: string;
}

export class PersonaTable {
  readonly rows: PersonaRow[] = [];

  add(persona: string, expected: string, ok: boolean, answer?: EvaluateAnswer, note?: string): void {
    this.rows.push({
      persona,
      expected,
      ok,
      ...(answer ? { score: answer.score, level: answer.level, decision: answer.decision, reasons: answer.reasons.map((r) => r.id) } : {}),
      ...(note ? { note } : {}),
    });
  }

  format(): string {
    const header = ['persona', 'expected', 'score', 'level', 'decision', 'result', 'reasons'];
    // In persona order (the farms run side by side and finish in any order); insertion order within a persona.
    const key = (row: PersonaRow) => row.persona.split(' ')[0]!;
    const rows = [...this.rows].sort((a, b) => key(a).localeCompare(key(b), 'en', { numeric: true }));
    const lines = rows.map((row) => [
      row.persona,
      row.expected,
      row.score === undefined ? '-' : String(row.score),
      row.level === undefined ? '-' : String(row.level),
      row.decision ?? '-',
      row.ok ? 'ok' : 'FAIL',
      [row.reasons?.join(', ') || (row.score === undefined ? '' : '(none)'), row.note ?? ''].filter(Boolean).join(' — '),
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...lines.filter(() => i < 6).map((line) => line[i]!.length)));
    const render = (cells: string[]) => cells.map((cell, i) => (i < 6 ? cell.padEnd(widths[i]!) : cell)).join(' | ');
    return [render(header), widths.map((w, i) => (i < 6 ? '-'.repeat(w) : '-------')).join('-+-'), ...lines.map(render)].join('\n');
  }
}

// ---------------------------------------------------------------------------
// Playwright-driven registrations on the demo page

/**
 * Fills in and submits the registration form the way a careful script does:
 * trusted input through CDP, a few mouse paths, typing with small delays.
 */
export async function registerOnDemo(page: Page, username: string, options: { careful?: boolean } = {}): Promise<DemoAnswer> {
  const type = async (selector: string, text: string) => {
    if (options.careful) {
      const box = await page.locator(selector).boundingBox();
      if (box) await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2, { steps: 6 });
      await page.click(selector);
      await page.locator(selector).pressSequentially(text, { delay: 12 });
    } else {
      await page.fill(selector, text);
    }
  };
  await type('input[name=username]', username);
  await type('input[name=email]', `${username}@example.com`);
  await type('input[name=password]', 'correct-horse-battery');
  const answered = page.waitForResponse((response) => response.url().endsWith('/demo/api/register') && response.request().method() === 'POST');
  if (options.careful) {
    const box = await page.locator('#register-button').boundingBox();
    if (box) await page.mouse.move(box.x + box.width * 0.4, box.y + box.height / 2, { steps: 8 });
  }
  await page.click('#register-button');
  const response = await answered;
  if (response.status() !== 200) throw new Error(`the demo backend answered HTTP ${response.status()}: ${await response.text()}`);
  const answer = (await response.json()) as DemoAnswer;
  checkNotFallback(answer, username);
  return answer;
}

// ---------------------------------------------------------------------------
// A person at a desktop Chromium, moved only by xdotool

/** One machine: its screen, device scale factor, time zone and language. */
export interface Machine {
  width: number;
  height: number;
  dpr: number;
  tz: string;
  /** BCP 47, e.g. de-DE. */
  lang: string;
}

export interface PersonVisit {
  answer: DemoAnswer;
  /** The black_box the page posted with the form (to read its signals with openRawPayload). */
  blackBox: string | undefined;
  /** What the browser itself reported on the probe page before the visit. */
  seen: { language: string; timeZone: string; dpr: number; screen: string; userAgent: string };
  screenshot: string;
}

/**
 * A person on their own machine: a plain desktop Chromium (no Playwright, no
 * DevTools port, no --enable-automation) under its own Xvfb display with the
 * machine's screen, scale factor, TZ and language, behind a forwarding proxy
 * that gives it `ip`. It opens a blank-looking page of the test's own first
 * (which reports the window metrics), then the person clicks into it, types
 * the shop's address into the address bar, reads, fills in the form and
 * clicks "Create account", all through X11 input. Where the fields are comes
 * from the same page laid out at the same viewport by `layoutBrowser`
 * (headless, SDK and API blocked so it leaves no trace on the server).
 */
export async function personVisit(
  harness: Harness,
  options: { server: RiskGateServer; ip: string; machine: Machine; username: string; email: string; seed: number; layoutBrowser: Browser },
): Promise<PersonVisit> {
  const { machine } = options;
  const proxy: ForwardingProxy = await startForwardingProxy(options.server.base, options.ip);
  const closeProxy = harness.defer(() => proxy.close());
  const xvfb = await harness.xvfb(machine.width, machine.height);
  const probe = await startWindowProbe();
  const windowSize = [Math.round(machine.width / machine.dpr), Math.round(machine.height / machine.dpr)] as const;
  const [language] = machine.lang.split('-');
  // Debian's Chromium ships only the en-US UI locale, so --lang and LANG leave navigator.languages at en-US;
  // the languages a person picked live in the profile's preferences (also Accept-Language).
  const profile = harness.dir('desktop-profile-');
  mkdirSync(join(profile, 'Default'));
  const languages = [machine.lang, ...(language && language !== machine.lang ? [language] : [])].join(',');
  writeFileSync(join(profile, 'Default', 'Preferences'), JSON.stringify({ intl: { accept_languages: languages, selected_languages: languages } }));
  const browser = harness.spawn(
    CHROMIUM,
    desktopChromiumArgs(profile, windowSize[0], windowSize[1], probe.url, [`--lang=${machine.lang}`, `--force-device-scale-factor=${machine.dpr}`]),
    x11Env(xvfb, { TZ: machine.tz, LANG: `${machine.lang.replace('-', '_')}.UTF-8`, LANGUAGE: `${machine.lang.replace('-', '_')}:${language}` }),
  );
  try {
    const metrics = await probe.reported(90_000, () => `the probe page did not report its window metrics:\n${browser.output().slice(-2000)}`);
    probe.close();
    const toScreen = windowToScreen(metrics);

    // Where the fields are, and the button's colour, from a headless layout at the same viewport.
    const layout = await options.layoutBrowser.newContext({ viewport: { width: metrics.innerWidth, height: metrics.innerHeight } });
    let fields: DemoFormLayout;
    try {
      await layout.route(/\/(sdk|v1)\//, (route) => route.abort());
      const page = await layout.newPage();
      await page.goto(`${options.server.base}/demo/`);
      fields = await demoFormLayout(page, metrics.innerHeight);
    } finally {
      await layout.close();
    }
    const at = (part: DemoFormPart, fx = 0.5, fy = 0.5) => {
      const box = fields.boxes[part];
      return toScreen(box.x + box.width * fx, box.y + box.height * fy);
    };

    // The person: into the window, the shop's address typed into the address bar.
    const pointer: [number, number] = [Math.round(machine.width / 2), Math.round(machine.height * 0.6)];
    await xdotool(xvfb, ['mousemove', String(pointer[0]), String(pointer[1])]);
    await xdotool(xvfb, ['click', '1']);
    await sleep(300);
    await xdotool(xvfb, ['key', 'ctrl+l']);
    await sleep(300);
    await xdotool(xvfb, ['type', '--delay', '60', `${proxy.base}/demo/`], 60_000);
    await sleep(200);
    await xdotool(xvfb, ['key', 'Return']);

    await untilOnScreen(xvfb, toScreen(fields.buttonSpot.x, fields.buttonSpot.y), fields.buttonColour, {
      what: "the demo page's button",
      timeoutMs: 90_000,
      screenshot: `riskgate-personas-not-ready-${options.username}.png`,
      detail: () => browser.output().slice(-2000),
    });
    // The page fetches its config and starts the SDK; a person reads the page first anyway.
    await sleep(2500);

    await personFillsDemoForm(xvfb, at, { username: options.username, email: options.email, random: jitter(options.seed), pointer, typeDelayMs: 110 });

    const answer = (await proxy.registration(1, 60_000)) as DemoAnswer;
    await sleep(800);
    const screenshot = saveScreen(xvfb, `riskgate-personas-${options.username}.png`);
    checkNotFallback(answer, `${options.username} (browser saw ${JSON.stringify(metrics)}; screen in ${screenshot})`);
    const form = proxy.forms[0] as { black_box?: string } | undefined;
    return { answer, blackBox: form?.black_box, seen: { language: metrics.language, timeZone: metrics.timeZone, dpr: metrics.dpr, screen: metrics.screen, userAgent: metrics.userAgent }, screenshot };
  } finally {
    probe.close();
    await harness.end(browser);
    await xvfb.stop();
    await closeProxy();
  }
}
