/**
 * Reads and validates a rules file (YAML, or JSON for `.json` files).
 *
 * Conditions are compiled by a function the caller passes (compile.ts gives
 * the CEL one), so that every problem in the file — shape, duplicates and
 * conditions alike — is reported together in one RulesFileError.
 */
import { createHash } from 'node:crypto';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { DECISIONS, EVENTS, TAGS, type Decision, type RiskEvent, type RiskTag } from '../../../shared/constants.js';
import type { ReasonText } from '../../../shared/reasons.js';
import type { RuleState } from './ruleset.js';

export const RULES_FORMAT_VERSION = 1;
export const RULE_ID_PATTERN = /^[a-z][a-z0-9_]{1,63}$/;

export interface RuleDefinition<C> {
  id: string;
  /** Events the rule runs for; "*" or an omitted list becomes all of EVENTS. */
  events: readonly RiskEvent[];
  /** The condition as written. */
  when: string;
  /** The condition as the compile function returned it. */
  condition: C;
  score: number;
  decision?: Decision;
  tags: readonly RiskTag[];
  reason: ReasonText;
  state: RuleState;
}

export interface RulesFile<C> {
  /** `r-` and the first 12 hex digits of the file's sha256. */
  version: string;
  rules: RuleDefinition<C>[];
}

export interface RulesFileIssue {
  /** The rule's id, when it has a usable one. */
  rule?: string;
  /** Position in `rules`. */
  index?: number;
  /** Field path inside the rule (`when`, `events[1]`, `reason.zh`), or a top-level key. */
  field?: string;
  message: string;
}

export class RulesFileError extends Error {
  override readonly name = 'RulesFileError';

  constructor(
    readonly fileName: string,
    readonly issues: readonly RulesFileIssue[],
  ) {
    super(issues.map((issue) => formatIssue(fileName, issue)).join('\n'));
  }
}

export function formatIssue(fileName: string, { rule, index, field, message }: RulesFileIssue): string {
  const where: string[] = [];
  if (index !== undefined) where.push(rule ? `rule "${rule}" (rules[${index}])` : `rules[${index}]`);
  if (field) where.push(`field "${field}"`);
  return `rules file ${fileName}: ${where.length > 0 ? `${where.join(' ')}: ` : ''}${message}`;
}

export function rulesVersion(source: string): string {
  return `r-${createHash('sha256').update(source, 'utf8').digest('hex').slice(0, 12)}`;
}

const eventSchema = z.enum(EVENTS, { error: (iss) => `unknown event ${JSON.stringify(iss.input)}` });
const tagSchema = z.enum(TAGS, { error: (iss) => `unknown tag ${JSON.stringify(iss.input)}` });

const fileSchema = z.strictObject({
  version: z.literal(RULES_FORMAT_VERSION, { error: `must be ${RULES_FORMAT_VERSION}` }),
  rules: z.array(z.unknown()),
});

function ruleSchema<C>(compile: (when: string) => C) {
  return z.strictObject({
    id: z.string().regex(RULE_ID_PATTERN, `must match ${RULE_ID_PATTERN}`),
    events: z.preprocess(
      (v) => (v === undefined || v === '*' ? EVENTS : typeof v === 'string' ? [v] : v),
      z.array(eventSchema).min(1, 'list at least one event, or "*"'),
    ),
    when: z
      .string()
      .trim()
      .min(1)
      .transform((when, ctx) => {
        try {
          return { when, condition: compile(when) };
        } catch (e) {
          ctx.addIssue({ code: 'custom', message: e instanceof Error ? e.message : String(e) });
          return z.NEVER;
        }
      }),
    // Negative scores lower risk (a recently passed challenge); the total is clamped to 0–100.
    score: z.number().int().min(-100).max(100).default(0),
    decision: z.enum(DECISIONS).optional(),
    tags: z.array(tagSchema).default([]),
    reason: z.strictObject({ en: z.string().trim().min(1), zh: z.string().trim().min(1) }),
    state: z.enum(['online', 'shadow']).default('online'),
  });
}

// Zod's default for an absent key ("expected string, received undefined") reads poorly.
const zodError: z.core.$ZodErrorMap = (iss) =>
  iss.code === 'invalid_type' && iss.input === undefined ? 'required' : undefined;

function zodIssues(error: z.ZodError, at: Omit<RulesFileIssue, 'message'>): RulesFileIssue[] {
  return error.issues.flatMap((iss): RulesFileIssue[] => {
    // One issue per unknown key, so each names its field like the others do.
    if (iss.code === 'unrecognized_keys') {
      return iss.keys.map((key) => ({ ...at, field: fieldPath([...iss.path, key]), message: 'unknown field' }));
    }
    return [{ ...at, ...(iss.path.length > 0 ? { field: fieldPath(iss.path) } : {}), message: iss.message }];
  });
}

function fieldPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}

function parseSource(source: string, fileName: string): { data?: unknown; issues: RulesFileIssue[] } {
  if (fileName.toLowerCase().endsWith('.json')) {
    try {
      return { data: JSON.parse(source), issues: [] };
    } catch (e) {
      return { issues: [{ message: `invalid JSON: ${e instanceof Error ? e.message : String(e)}` }] };
    }
  }
  // Any other extension is read as YAML, which also accepts JSON.
  const doc = parseDocument(source, { prettyErrors: true });
  if (doc.errors.length > 0) {
    return { issues: doc.errors.map((e) => ({ message: `invalid YAML: ${e.message.split('\n')[0]}` })) };
  }
  return { data: doc.toJS(), issues: [] };
}

/**
 * Validates a rules file and compiles each condition with `compile`, which
 * throws an Error saying what is wrong with a condition it cannot accept.
 */
export function loadRulesFile<C>(source: string, fileName: string, compile: (when: string) => C): RulesFile<C> {
  const parsed = parseSource(source, fileName);
  if (parsed.issues.length > 0) throw new RulesFileError(fileName, parsed.issues);

  const file = fileSchema.safeParse(parsed.data, { error: zodError });
  if (!file.success) throw new RulesFileError(fileName, zodIssues(file.error, {}));

  const schema = ruleSchema(compile);
  const issues: RulesFileIssue[] = [];
  const rules: RuleDefinition<C>[] = [];
  const seen = new Map<string, number>();

  file.data.rules.forEach((raw, index) => {
    const rawId = (raw as { id?: unknown } | null)?.id;
    const rule = typeof rawId === 'string' && rawId ? rawId : undefined;
    const at = { index, ...(rule ? { rule } : {}) };

    if (rule !== undefined) {
      const first = seen.get(rule);
      if (first === undefined) seen.set(rule, index);
      else issues.push({ ...at, field: 'id', message: `duplicate id, first used by rules[${first}]` });
    }

    const result = schema.safeParse(raw, { error: zodError });
    if (!result.success) {
      issues.push(...zodIssues(result.error, at));
      return;
    }
    const { when, ...def } = result.data;
    if (def.score === 0 && !def.decision) {
      issues.push({ ...at, field: 'score', message: 'a rule needs a non-zero score or a decision' });
      return;
    }
    rules.push({ ...def, when: when.when, condition: when.condition });
  });

  if (issues.length > 0) throw new RulesFileError(fileName, issues);
  return { version: rulesVersion(source), rules };
}
