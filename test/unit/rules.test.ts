import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EVENTS, TOKEN_FAILURES, type RiskEvent } from '../../shared/constants.js';
import {
  DISTINCT_PAIRS,
  VELOCITY_DIMENSIONS,
  WINDOW_NAMES,
  type DistinctFeature,
  type Features,
  type VelocityFeature,
} from '../../server/engine/features/features.js';
import { RuleBook, type RuleBookLogger } from '../../server/adapters/rules/rule-book.js';
import { compileRuleSet } from '../../server/engine/rules/compile.js';
import { RulesFileError, rulesVersion, type RulesFileIssue } from '../../server/engine/rules/loader.js';
import { quietFeatures } from '../support/features.js';
import type { RuleEvaluation, RuleSet } from '../../server/engine/rules/ruleset.js';

const DEFAULT_RULES = fileURLToPath(new URL('../../server/engine/rules/default-rules.yaml', import.meta.url));

type Overrides = Parameters<typeof quietFeatures>[0];

/** A normal person's request: good token, no signals, one event of each kind so far. */
function features(overrides: Overrides = {}): Features {
  const velocity = {} as Record<VelocityFeature, number>;
  for (const d of VELOCITY_DIMENSIONS) for (const w of WINDOW_NAMES) velocity[`${d}_${w}`] = 1;
  const distinct = {} as Record<DistinctFeature, number>;
  for (const [d, of] of DISTINCT_PAIRS) for (const w of WINDOW_NAMES) distinct[`${d}_${of}_${w}` as DistinctFeature] = 1;
  const person = quietFeatures({
    event: 'register',
    app: 'demo',
    request: { has_mobile: true, has_email: true },
    email: { domain: 'example.com', disposable: false },
    mobile: { country_code: '86', virtual_operator: false },
    velocity,
    distinct,
  });
  const merged: Record<string, unknown> = { ...person };
  for (const [key, value] of Object.entries(overrides ?? {})) {
    const current = merged[key];
    merged[key] = typeof current === 'object' && current !== null ? { ...current, ...(value as object) } : value;
  }
  return merged as unknown as Features;
}

const rule = (id: string, fields: string) =>
  `  - id: ${id}\n${fields
    .trim()
    .split('\n')
    .map((line) => `    ${line.trim()}`)
    .join('\n')}\n`;
const REASON = 'reason: { en: Because, zh: 因为 }';
const rulesFile = (...rules: string[]) => `version: 1\nrules:\n${rules.join('')}`;

function issuesOf(source: string, fileName = 'rules.yaml'): { issues: readonly RulesFileIssue[]; message: string } {
  try {
    compileRuleSet(source, fileName);
  } catch (e) {
    expect(e).toBeInstanceOf(RulesFileError);
    const err = e as RulesFileError;
    return { issues: err.issues, message: err.message };
  }
  throw new Error('expected a RulesFileError');
}

/** The online score as the scorer adds it up (capped at 100). */
function onlineScore(evaluation: RuleEvaluation): number {
  const sum = evaluation.hits.filter((h) => h.state === 'online').reduce((s, h) => s + h.score, 0);
  return Math.min(100, sum);
}

const hitIds = (evaluation: RuleEvaluation) => evaluation.hits.map((h) => h.id);

describe('rules file validation', () => {
  it('names the rule and field of a bad condition', () => {
    const { issues, message } = issuesOf(
      rulesFile(
        rule('good', `when: velocity.ip_5m >= 5\nscore: 10\n${REASON}`),
        rule('syntax', `when: 'velocity.ip_5m >='\nscore: 10\n${REASON}`),
        rule('typo', `when: velocty.ip_5m > 1\nscore: 10\n${REASON}`),
        rule('no_field', `when: velocity.ip_5min > 1\nscore: 10\n${REASON}`),
        rule('not_bool', `when: velocity.ip_5m + 1\nscore: 10\n${REASON}`),
        rule('bad_types', `when: event == 1\nscore: 10\n${REASON}`),
      ),
    );
    expect(issues.map((i) => [i.rule, i.index, i.field])).toEqual([
      ['syntax', 1, 'when'],
      ['typo', 2, 'when'],
      ['no_field', 3, 'when'],
      ['not_bool', 4, 'when'],
      ['bad_types', 5, 'when'],
    ]);
    expect(message).toContain('rules file rules.yaml: rule "typo" (rules[2]) field "when": Unknown variable: velocty');
    expect(issues[3]?.message).toMatch(/bool/);
    expect(issues[4]?.message).toMatch(/no such overload/);
  });

  it('refuses, naming the rule, a condition whose nested comprehensions would stall every evaluation', () => {
    const big = `[${Array.from({ length: 200 }, (_, i) => i).join(', ')}]`;
    const { issues, message } = issuesOf(
      rulesFile(
        rule('fine', `when: 'event in ["register", "login"] && [1, 2, 3].exists(x, velocity.ip_5m > x)'\nscore: 10\n${REASON}`),
        rule('nested', `when: '${big}.all(a, ${big}.all(b, ${big}.all(c, a + b + c >= 0)))'\nscore: 10\n${REASON}`),
        rule('split', `when: 'email.domain.split("").all(a, email.domain.split("").exists(b, a == b))'\nscore: 10\n${REASON}`),
        rule('huge_list', `when: 'velocity.ip_5m in [${Array.from({ length: 300 }, (_, i) => i).join(', ')}]'\nscore: 10\n${REASON}`),
      ),
    );
    expect(issues.map((i) => [i.rule, i.field])).toEqual([
      ['nested', 'when'],
      ['split', 'when'],
      ['huge_list', 'when'],
    ]);
    expect(message).toContain('rule "nested"');
    expect(issues[0]?.message).toMatch(/too costly/);
  });

  it('reports unknown events and tags, duplicates, missing reasons and rules that do nothing, all at once', () => {
    const { issues, message } = issuesOf(
      rulesFile(
        rule('events_bad', `events: [register, regster]\nwhen: 'true'\nscore: 10\n${REASON}`),
        rule('tags_bad', `when: 'true'\nscore: 10\ntags: [bot, robot]\n${REASON}`),
        rule('dup', `when: 'true'\nscore: 10\n${REASON}`),
        rule('dup', `when: 'false'\nscore: 10\n${REASON}`),
        rule('no_reason', `when: 'true'\nscore: 10`),
        rule('half_reason', `when: 'true'\nscore: 10\nreason: { en: Only English }`),
        rule('no_effect', `when: 'true'\n${REASON}`),
        rule('Bad-Id', `when: 'true'\nscore: 10\n${REASON}`),
        rule('too_much', `when: 'true'\nscore: 150\nstate: paused\n${REASON}\nweight: 3`),
      ),
    );
    const where = issues.map((i) => `${i.rule}/${i.field}`);
    expect(where).toEqual([
      'events_bad/events[1]',
      'tags_bad/tags[1]',
      'dup/id',
      'no_reason/reason',
      'half_reason/reason.zh',
      'no_effect/score',
      'Bad-Id/id',
      'too_much/score',
      'too_much/state',
      'too_much/weight',
    ]);
    expect(message).toContain('rule "events_bad" (rules[0]) field "events[1]": unknown event "regster"');
    expect(message).toContain('rule "tags_bad" (rules[1]) field "tags[1]": unknown tag "robot"');
    expect(message).toContain('rule "dup" (rules[3]) field "id": duplicate id, first used by rules[2]');
    expect(message).toContain('rule "no_reason" (rules[4]) field "reason": required');
    expect(issues.find((i) => i.rule === 'dup')?.index).toBe(3);
  });

  it('rejects a bad file shape, bad YAML and bad JSON', () => {
    expect(issuesOf('version: 2\nrules: []\n').message).toBe('rules file rules.yaml: field "version": must be 1');
    expect(issuesOf('version: 1\n').issues[0]).toMatchObject({ field: 'rules', message: 'required' });
    expect(issuesOf('version: 1\nrules: [\n').message).toMatch(/^rules file rules\.yaml: invalid YAML/);
    expect(issuesOf('{"version": 1,', 'rules.json').message).toMatch(/^rules file rules\.json: invalid JSON/);
  });

  it('reads JSON files and hashes the file bytes into the version', () => {
    const source = JSON.stringify({
      version: 1,
      rules: [{ id: 'json_rule', events: '*', when: 'signals.webdriver', score: 70, reason: { en: 'Bot', zh: '机器人' } }],
    });
    const set = compileRuleSet(source, 'rules.json');
    const hash = createHash('sha256').update(Buffer.from(source)).digest('hex');
    expect(set.version).toBe(`r-${hash.slice(0, 12)}`);
    expect(set.version).toBe(rulesVersion(source));
    for (const event of EVENTS) expect(set.ruleCount(event)).toBe(1);
  });
});

describe('the default rule pack', () => {
  const set = compileRuleSet(readFileSync(DEFAULT_RULES, 'utf8'), 'default-rules.yaml');
  const run = (overrides: Overrides) => set.evaluate(features(overrides));

  it('loads, with rules for every event', () => {
    expect(set.version).toMatch(/^r-[0-9a-f]{12}$/);
    for (const event of EVENTS) expect(set.ruleCount(event)).toBeGreaterThan(10);
  });

  it('leaves a normal person at level 0 on every event, with no run-time errors', () => {
    for (const event of EVENTS) {
      // A new device is a normal first visit, except where it means account theft (below).
      const newDevice = event === 'withdraw' || event === 'modify_info' ? {} : { device: { new: true } };
      for (const extra of [{}, newDevice, { platform: 'wechat' as const }]) {
        const evaluation = run({ event, ...extra });
        expect(evaluation.errors).toEqual([]);
        expect(onlineScore(evaluation), `${event} ${JSON.stringify(extra)}`).toBeLessThan(20);
      }
    }
  });

  it('has a rule per token failure, scored by severity', () => {
    for (const failure of TOKEN_FAILURES) {
      const evaluation = run({ event: 'login', token: { status: 'invalid', failure, age_s: -1 } });
      const id = failure.toLowerCase();
      const hit = evaluation.hits.find((h) => h.id === id);
      expect(hit, id).toBeDefined();
      const score = onlineScore(evaluation);
      if (failure === 'TOKEN_MISSING') {
        expect(score).toBeGreaterThanOrEqual(35);
        expect(score).toBeLessThan(65);
      } else if (failure === 'TOKEN_EXPIRED') {
        expect(score).toBeGreaterThanOrEqual(65);
      } else {
        expect(score, id).toBeGreaterThanOrEqual(85);
      }
    }
    expect(run({ token: { failure: 'TOKEN_REPLAYED', status: 'replayed' } }).hits[0]?.tags).toContain('replayed');
  });

  it('puts a clear bot at level 3 or more, and weak signals add up', () => {
    for (const signals of [{ webdriver: true }, { headless_ua: true }, { automation_globals: 2 }]) {
      const evaluation = run({ signals });
      expect(onlineScore(evaluation), JSON.stringify(signals)).toBeGreaterThanOrEqual(65);
      expect(evaluation.hits.flatMap((h) => h.tags)).toContain('bot');
    }
    const one = run({ signals: { software_renderer: true } });
    expect(onlineScore(one)).toBeLessThan(20);
    const many = run({
      signals: { software_renderer: true, no_plugins: true, window_anomaly: true, permissions_inconsistent: true },
    });
    expect(hitIds(many)).toContain('env_headless_profile');
    expect(onlineScore(many)).toBeGreaterThanOrEqual(65);
  });

  it('catches bulk registration, coupon farming and account theft', () => {
    const bulk = run({ event: 'register', velocity: { device_5m: 3, device_1h: 3, device_24h: 6, ip_5m: 6 } });
    expect(onlineScore(bulk)).toBeGreaterThanOrEqual(85);

    const farming = run({ event: 'get_coupon', distinct: { device_accounts_24h: 4 }, email: { disposable: true } });
    expect(farming.hits.flatMap((h) => h.tags)).toEqual(expect.arrayContaining(['gang', 'disposable_email']));
    expect(onlineScore(farming)).toBeGreaterThanOrEqual(65);

    const theft = run({ event: 'withdraw', device: { new: true }, request: { ua_mismatch: true } });
    expect(hitIds(theft)).toEqual(['ua_mismatch', 'wd_new_device']);
    expect(onlineScore(theft)).toBeGreaterThanOrEqual(65);

    for (const event of ['withdraw', 'modify_info'] as const) {
      const score = onlineScore(run({ event, device: { new: true } }));
      expect(score, event).toBeGreaterThanOrEqual(35); // a challenge, not a block
      expect(score, event).toBeLessThan(65);
    }

    const silent = run({ event: 'register', behavior: { pointer_moves: 0, key_presses: 0, touches: 0 } });
    expect(hitIds(silent)).toContain('reg_no_behavior');
  });

  it('has shadow rules, which are reported but do not score', () => {
    const evaluation = run({ event: 'register', behavior: { dwell_ms: 400 }, fingerprint: { template_new: true } });
    const shadow = evaluation.hits.filter((h) => h.state === 'shadow').map((h) => h.id);
    expect(shadow).toEqual(['reg_fast_submit', 'fp_new_template']);
    expect(onlineScore(evaluation)).toBe(0);
  });
});

describe('evaluation', () => {
  const set = compileRuleSet(
    rulesFile(
      rule('any_bot', `when: signals.webdriver\nscore: 70\ntags: [bot]\n${REASON}`),
      rule('login_burst', `events: [login]\nwhen: velocity.account_5m >= 5\nscore: 30\n${REASON}`),
      rule('reg_or_login', `events: [register, login]\nwhen: velocity.ip_5m >= 5\nscore: 20\n${REASON}`),
      rule('watch_only', `when: signals.lies > 0\nscore: 40\ntags: [tampered]\nstate: shadow\n${REASON}`),
      rule('ratio', `events: [register]\nwhen: velocity.ip_1h / velocity.ip_5m > 2\nscore: 10\n${REASON}`),
      rule('review_it', `events: [withdraw]\nwhen: device.new\ndecision: review\n${REASON}`),
    ),
    'rules.yaml',
  );

  it('runs only the rules for the event', () => {
    expect(set.ruleCount('register')).toBe(4);
    expect(set.ruleCount('login')).toBe(4);
    expect(set.ruleCount('withdraw')).toBe(3);
    expect(set.ruleCount('browse')).toBe(2);

    // account_5m would hit login_burst; for a register it must not even run.
    const hot = { velocity: { account_5m: 50, ip_5m: 1, ip_1h: 1 } };
    expect(hitIds(set.evaluate(features({ event: 'register', ...hot })))).toEqual([]);
    expect(hitIds(set.evaluate(features({ event: 'login', ...hot })))).toEqual(['login_burst']);
  });

  it('reports hits in file order with their state, tags and decision', () => {
    const evaluation = set.evaluate(
      features({ event: 'withdraw', signals: { webdriver: true, lies: 2 }, device: { new: true } }),
    );
    expect(evaluation.hits).toEqual([
      { id: 'any_bot', state: 'online', score: 70, tags: ['bot'], reason: { en: 'Because', zh: '因为' } },
      { id: 'watch_only', state: 'shadow', score: 40, tags: ['tampered'], reason: { en: 'Because', zh: '因为' } },
      { id: 'review_it', state: 'online', score: 0, decision: 'review', tags: [], reason: { en: 'Because', zh: '因为' } },
    ]);
    expect(evaluation.version).toBe(set.version);
  });

  it('records a run-time error as not hit, without throwing', () => {
    const evaluation = set.evaluate(features({ event: 'register', velocity: { ip_5m: 0, ip_1h: 3 } }));
    expect(evaluation.errors).toEqual([{ id: 'ratio', message: 'division by zero' }]);
    expect(hitIds(evaluation)).toEqual([]);

    const broken = set.evaluate({ ...features({ event: 'register' }), velocity: undefined } as unknown as Features);
    expect(broken.errors.map((e) => e.id)).toEqual(['reg_or_login', 'ratio']);
    expect(() => set.evaluate(features({ event: 'no_such_event' as RiskEvent }))).not.toThrow();
  });

  it('compares the int features with int and double literals as an author expects', () => {
    const check = (when: string, overrides: Overrides) =>
      hitIds(compileRuleSet(rulesFile(rule('rr', `when: '${when}'\nscore: 1\n${REASON}`)), 'r.yaml').evaluate(features(overrides)));
    expect(check('velocity.ip_5m >= 5', { velocity: { ip_5m: 5 } })).toEqual(['rr']);
    expect(check('velocity.ip_5m >= 5', { velocity: { ip_5m: 4 } })).toEqual([]);
    expect(check('velocity.ip_5m == 5', { velocity: { ip_5m: 5 } })).toEqual(['rr']);
    expect(check('token.age_s > 600', { token: { age_s: 601 } })).toEqual(['rr']);
    expect(check('token.age_s > 600', { token: { age_s: 600 } })).toEqual([]);
    expect(check('token.age_s > 600.5', { token: { age_s: 601 } })).toEqual(['rr']);
    expect(check('token.age_s == -1', { token: { age_s: -1 } })).toEqual(['rr']);
    expect(check('behavior.dwell_ms < 1500.0', { behavior: { dwell_ms: 1499 } })).toEqual(['rr']);
    expect(check('velocity.ip_5m * 2 + velocity.device_5m > 10', { velocity: { ip_5m: 5, device_5m: 1 } })).toEqual(['rr']);
    expect(check('velocity.ip_24h > 100000', { velocity: { ip_24h: 250_000 } })).toEqual(['rr']);
    // Fractions are truncated: features are whole counts and seconds.
    expect(check('token.age_s == 3', { token: { age_s: 3.9 } })).toEqual(['rr']);
  });
});

describe('RuleBook', () => {
  let dir: string;
  let book: RuleBook | undefined;
  const logs: { level: string; obj: object; msg: string }[] = [];
  const logger: RuleBookLogger = {
    info: (obj, msg) => logs.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => logs.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => logs.push({ level: 'error', obj, msg }),
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'riskgate-rules-'));
    logs.length = 0;
  });
  afterEach(() => {
    book?.close();
    book = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  const v1 = rulesFile(rule('bot', `when: signals.webdriver\nscore: 70\n${REASON}`));
  const v2 = rulesFile(
    rule('bot', `when: signals.webdriver\nscore: 80\n${REASON}`),
    rule('burst', `events: [register]\nwhen: velocity.ip_5m >= 5\nscore: 30\n${REASON}`),
  );
  const invalid = rulesFile(rule('bot', `when: signals.webdrivr\nscore: 80\n${REASON}`));

  it('refuses to open an invalid file', async () => {
    const path = join(dir, 'rules.yaml');
    writeFileSync(path, invalid);
    await expect(RuleBook.open(path, logger)).rejects.toBeInstanceOf(RulesFileError);
  });

  it('reloads a changed file, keeps the old rules when the new ones are invalid, and never disturbs evaluations', async () => {
    const path = join(dir, 'rules.yaml');
    writeFileSync(path, v1);
    book = await RuleBook.open(path, logger);
    const opened = book;
    expect(book.current().version).toBe(rulesVersion(v1));

    // Evaluate continuously while the file changes under the book.
    const bot = features({ signals: { webdriver: true } });
    const seen = new Set<string>();
    let thrown: unknown;
    let runs = 0;
    let running = true;
    const loop = (async () => {
      while (running) {
        try {
          const set: RuleSet = opened.current();
          const evaluation = set.evaluate(bot);
          if (evaluation.errors.length > 0 || evaluation.hits.length !== 1) throw new Error(JSON.stringify(evaluation));
          seen.add(evaluation.version);
          runs++;
        } catch (e) {
          thrown = e;
        }
        await new Promise((r) => setImmediate(r));
      }
    })();

    // Editors save by writing a temporary file and renaming it over the old one.
    writeFileSync(join(dir, '.rules.yaml.swp'), v2);
    renameSync(join(dir, '.rules.yaml.swp'), path);
    await until(() => book?.current().version === rulesVersion(v2), 'the new version');
    expect(book.current().ruleCount('register')).toBe(2);
    expect(logs.some((l) => l.level === 'info' && l.msg.includes('reloaded'))).toBe(true);

    writeFileSync(path, invalid);
    await until(() => logs.some((l) => l.level === 'error'), 'the invalid file to be logged');
    expect(book.current().version).toBe(rulesVersion(v2));
    const logged = logs.find((l) => l.level === 'error')?.obj as { issues?: RulesFileIssue[] };
    expect(logged.issues?.[0]).toMatchObject({ rule: 'bot', field: 'when' });

    const result = await book.reload();
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toBeInstanceOf(RulesFileError);

    writeFileSync(path, v1);
    expect(await book.reload()).toEqual({ ok: true, version: rulesVersion(v1) });

    running = false;
    await loop;
    expect(thrown).toBeUndefined();
    expect(runs).toBeGreaterThan(10);
    expect([...seen]).toEqual(expect.arrayContaining([rulesVersion(v1), rulesVersion(v2)]));
    expect(book.current().version).toBe(rulesVersion(v1));
  });

  it('ignores other files in the directory and reports a missing file without dropping the rules', async () => {
    const path = join(dir, 'rules.yaml');
    writeFileSync(path, v1);
    book = await RuleBook.open(path, logger);
    writeFileSync(join(dir, 'other.yaml'), 'not: rules');
    await new Promise((r) => setTimeout(r, 300));
    expect(logs.filter((l) => l.level !== 'info')).toEqual([]);

    rmSync(path);
    const result = await book.reload();
    expect(result.ok).toBe(false);
    expect(book.current().version).toBe(rulesVersion(v1));
  });
});
