/**
 * Compiles rule conditions (CEL, via @marcbachmann/cel-js) against the Features
 * type, and turns a rules file into a RuleSet indexed by event.
 *
 * Numbers: every number in Features is exposed to CEL as `int` (a BigInt),
 * truncated toward zero. The features are counts and whole seconds or
 * milliseconds, and `int` makes `behavior.clicks == 0`, `velocity.ip_5m + 1`
 * and `velocity.ip_5m >= 5` all type-check; `double` fields would reject the
 * first two (CEL has no `double == int` overload). Comparisons with a double
 * literal (`token.age_s > 0.5`) still work: CEL orders int against double.
 */
import { Environment, type ParseResult } from '@marcbachmann/cel-js';
import { EVENTS, type RiskEvent } from '../../../shared/constants.js';
import {
  DISTINCT_PAIRS,
  VELOCITY_DIMENSIONS,
  WINDOW_NAMES,
  type DistinctFeature,
  type Features,
  type VelocityFeature,
} from '../features/features.js';
import { loadRulesFile, type RuleDefinition } from './loader.js';
import type { RuleError, RuleEvaluation, RuleHit, RuleSet } from './ruleset.js';

type CelKind = 'bool' | 'int' | 'string';
type KindOf<T> = [T] extends [boolean] ? 'bool' : [T] extends [number] ? 'int' : [T] extends [string] ? 'string' : never;
type GroupSchema<T> = { readonly [K in keyof T]-?: KindOf<T[K]> };
type FeatureSchema = {
  readonly [K in keyof Features]-?: Features[K] extends string ? 'string' : GroupSchema<Features[K]>;
};

const ints = <K extends string>(keys: readonly K[]) =>
  Object.fromEntries(keys.map((k) => [k, 'int'])) as Record<K, 'int'>;

/**
 * The rules language's variables. `satisfies` keeps this in step with the
 * Features interface: a field added, removed or retyped there fails to compile here.
 */
const SCHEMA = {
  event: 'string',
  app: 'string',
  platform: 'string',
  token: { status: 'string', failure: 'string', age_s: 'int', degraded: 'bool' },
  device: { id: 'string', new: 'bool' },
  signals: {
    webdriver: 'bool',
    headless_ua: 'bool',
    cdp: 'bool',
    cdp_inspector: 'bool',
    cdp_eval: 'bool',
    automation_globals: 'int',
    missing_chrome_objects: 'int',
    permissions_inconsistent: 'bool',
    no_plugins: 'bool',
    window_anomaly: 'bool',
    software_renderer: 'bool',
    lies: 'int',
    inconsistencies: 'int',
    device_key_fallback: 'bool',
    source_errors: 'int',
    missing_sources: 'int',
    core_source_errors: 'int',
  },
  fingerprint: {
    present: 'bool',
    low_entropy: 'bool',
    software_renderer: 'bool',
    ua_mismatches: 'int',
    worker_mismatch: 'bool',
    worker_headless: 'bool',
    template_new: 'bool',
  },
  behavior: {
    present: 'bool',
    pointer_moves: 'int',
    clicks: 'int',
    touches: 'int',
    key_presses: 'int',
    pastes: 'int',
    focus_changes: 'int',
    dwell_ms: 'int',
    untrusted_events: 'int',
    move_interval_mean_ms: 'int',
    move_interval_sd_ms: 'int',
    key_interval_mean_ms: 'int',
    key_interval_sd_ms: 'int',
  },
  request: {
    has_account: 'bool',
    has_mobile: 'bool',
    has_email: 'bool',
    has_ip: 'bool',
    has_user_agent: 'bool',
    ua_mismatch: 'bool',
  },
  ip: { kind: 'string' },
  email: { domain: 'string', disposable: 'bool' },
  mobile: { country_code: 'string', virtual_operator: 'bool' },
  velocity: ints(VELOCITY_DIMENSIONS.flatMap((d) => WINDOW_NAMES.map((w): VelocityFeature => `${d}_${w}`))),
  distinct: ints(
    DISTINCT_PAIRS.flatMap(([d, of]) => WINDOW_NAMES.map((w) => `${d}_${of}_${w}` as DistinctFeature)),
  ),
  lists: { black: 'bool', white: 'bool' },
  challenge: { passed_1h: 'int', failed_24h: 'int', abandoned_24h: 'int', sms_pending: 'bool' },
  wechat: {
    devtools: 'bool',
    emulator: 'bool',
    emulator_hints: 'int',
    hooks: 'int',
    low_benchmark: 'bool',
    system_proxy: 'bool',
    debug: 'bool',
    env_version: 'string',
    scene: 'int',
    network_type: 'string',
  },
  enrollment: {
    status: 'string',
    age_s: 'int',
    difficulty: 'int',
    prefix_match: 'bool',
    prefix_enrollments_5m: 'int',
    prefix_enrollments_1h: 'int',
    prefix_enrollments_24h: 'int',
  },
} as const satisfies FeatureSchema;

interface Group {
  name: string;
  /** Wraps the group's object from Features; undefined for top-level strings. */
  View?: new (source: object) => object;
}

const SOURCE = Symbol('source');

// Counts are small; reusing their BigInts keeps conversions allocation-free.
const SMALL_INTS = Array.from({ length: 1024 }, (_, i) => BigInt(i));

function toInt(v: unknown): bigint | undefined {
  if (typeof v !== 'number' || !Number.isFinite(v)) return undefined; // the rule reading it fails, not the request
  const n = Math.trunc(v);
  return n >= 0 && n < SMALL_INTS.length ? SMALL_INTS[n] : BigInt(n);
}

/**
 * A class whose instances wrap one Features group. The library reads fields
 * off instances of a registered class as plain property reads, so getters
 * convert only the fields a rule touches, and building a context costs one
 * small object per group instead of a copy of every field.
 */
function viewClass(typeName: string, fields: Record<string, CelKind>): new (source: object) => object {
  const View = {
    [typeName]: class {
      readonly [SOURCE]: Record<string, unknown>;
      constructor(source: object) {
        this[SOURCE] = source as Record<string, unknown>;
      }
    },
  }[typeName]!;
  for (const [field, kind] of Object.entries(fields)) {
    Object.defineProperty(View.prototype, field, {
      get:
        kind === 'int'
          ? function (this: InstanceType<typeof View>) {
              return toInt(this[SOURCE][field]);
            }
          : function (this: InstanceType<typeof View>) {
              return this[SOURCE][field];
            },
    });
  }
  return View;
}

/** Parse-time bounds: no condition needs more, and none may make an evaluation slow. */
const env = new Environment({ limits: { maxAstNodes: 2000, maxDepth: 64, maxListElements: 256, maxMapEntries: 256, maxCallArguments: 16 } });

/**
 * Most work one condition may describe, in AST nodes visited, each
 * comprehension's body counted once per element it can iterate. A condition
 * over the features costs tens; nested `.all`/`.exists` over large lists (a
 * slip, or a hostile rules file) cost millions and are refused at load, with
 * the rule named, before they can stall every evaluation.
 */
export const MAX_CONDITION_COST = 20_000;
const COMPREHENSIONS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);
/** Elements a non-literal list can have: a feature string (≤ 1,024 characters) split per character. */
const UNKNOWN_LIST_LENGTH = 1025;

interface AstNode {
  op: string;
  args: unknown;
}
const isNode = (value: unknown): value is AstNode => typeof value === 'object' && value !== null && 'op' in value && 'args' in value;

function childrenCost(value: unknown): number {
  if (isNode(value)) return conditionCost(value);
  if (Array.isArray(value)) return value.reduce((sum: number, item) => sum + childrenCost(item), 0);
  return 0;
}

/** The work bound of `node` (see MAX_CONDITION_COST). */
export function conditionCost(node: AstNode): number {
  if (node.op === 'rcall' && Array.isArray(node.args) && COMPREHENSIONS.has(node.args[0] as string)) {
    const [, receiver, body] = node.args as [string, unknown, unknown];
    const length = isNode(receiver) && (receiver.op === 'list' || receiver.op === 'map') && Array.isArray(receiver.args) ? receiver.args.length : UNKNOWN_LIST_LENGTH;
    return 1 + childrenCost(receiver) + length * Math.max(1, childrenCost(body));
  }
  return 1 + childrenCost(node.args);
}
const GROUPS: Group[] = [];
for (const [name, spec] of Object.entries(SCHEMA)) {
  if (typeof spec === 'string') {
    env.registerVariable(name, spec);
    GROUPS.push({ name });
    continue;
  }
  const typeName = `riskgate.${name}`;
  const View = viewClass(typeName, spec);
  env.registerType(typeName, { ctor: View, fields: spec });
  env.registerVariable(name, typeName);
  GROUPS.push({ name, View });
}

/** The CEL context for one evaluation; built once and shared by all its rules. */
export function toCelContext(features: Features): Record<string, unknown> {
  const src = features as unknown as Record<string, unknown>;
  const ctx: Record<string, unknown> = {};
  for (const { name, View } of GROUPS) {
    const value = src[name];
    if (!View) ctx[name] = value;
    // A missing group fails the rules that read it, not the whole evaluation.
    else if (typeof value === 'object' && value !== null) ctx[name] = new View(value);
  }
  return ctx;
}

export type Condition = ParseResult;

/** Parses and type-checks a condition; throws an Error whose message says what is wrong. */
export function compileCondition(source: string): Condition {
  let condition: Condition;
  try {
    condition = env.parse(source);
  } catch (e) {
    throw new Error(celMessage(e));
  }
  const checked = condition.check();
  if (!checked.valid) throw new Error(celMessage(checked.error));
  if (checked.type !== 'bool') throw new Error(`must be a bool condition, but its type is ${checked.type}`);
  const cost = conditionCost((condition as unknown as { ast: AstNode }).ast);
  if (cost > MAX_CONDITION_COST) {
    throw new Error(`too costly to evaluate: bounded by ${cost} steps, more than ${MAX_CONDITION_COST} (nested .all/.exists over large lists?)`);
  }
  return condition;
}

function celMessage(e: unknown): string {
  if (e && typeof e === 'object' && 'summary' in e && typeof e.summary === 'string') return e.summary;
  return e instanceof Error ? e.message : String(e);
}

interface CompiledRule {
  id: string;
  condition: Condition;
  hit: RuleHit;
}

class CompiledRuleSet implements RuleSet {
  readonly #byEvent: ReadonlyMap<string, readonly CompiledRule[]>;

  constructor(
    readonly version: string,
    rules: readonly RuleDefinition<Condition>[],
  ) {
    const byEvent = new Map<string, CompiledRule[]>(EVENTS.map((e) => [e, []]));
    for (const rule of rules) {
      const hit: RuleHit = Object.freeze({
        id: rule.id,
        state: rule.state,
        score: rule.score,
        ...(rule.decision ? { decision: rule.decision } : {}),
        tags: Object.freeze([...rule.tags]),
        reason: Object.freeze({ ...rule.reason }),
      });
      const compiled = { id: rule.id, condition: rule.condition, hit };
      for (const event of new Set(rule.events)) byEvent.get(event)?.push(compiled);
    }
    this.#byEvent = byEvent;
  }

  evaluate(features: Features): RuleEvaluation {
    const hits: RuleHit[] = [];
    const errors: RuleError[] = [];
    const rules = this.#byEvent.get(features?.event);
    if (rules && rules.length > 0) {
      const ctx = toCelContext(features);
      for (const rule of rules) {
        let result: unknown;
        try {
          result = rule.condition(ctx);
        } catch (e) {
          errors.push({ id: rule.id, message: celMessage(e) });
          continue;
        }
        if (result === true) hits.push(rule.hit);
        else if (result !== false) errors.push({ id: rule.id, message: `condition gave ${String(result)}, not a bool` });
      }
    }
    return { version: this.version, hits, errors };
  }

  ruleCount(event: RiskEvent): number {
    return this.#byEvent.get(event)?.length ?? 0;
  }
}

/** Validates and compiles a rules file; throws RulesFileError listing every problem. */
export function compileRuleSet(source: string, fileName: string): RuleSet {
  const file = loadRulesFile(source, fileName, compileCondition);
  return new CompiledRuleSet(file.version, file.rules);
}
