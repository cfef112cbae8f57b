/**
 * FingerprintJS (MIT since v5): its visitor id and its components, flattened
 * to primitives. Heavy components (canvas, audio, fonts, WebGL extensions…)
 * go in as short hashes so the token stays small.
 *
 * FingerprintJS touches no browser global until `load()` is called (its own
 * `check:ssr`), so importing it here keeps this module side-effect free.
 *
 * The `domBlockers` component (which ad-blocker lists hide test elements; only
 * Safari and Android browsers run it) is left out of both the id and the
 * components: its selector list is 4 KB gzipped, so the script-tag bundle ships
 * without it (rollup.config.mjs), and every build computes the same id. Left out
 * means "as in Chromium desktop", where FingerprintJS itself gives no value.
 */
import { hashComponents, load, murmurX64Hash128, type Agent, type GetResult, type UnknownComponents } from '@fingerprintjs/fingerprintjs';
import { defineSource } from '../../core/sources/source.js';

export type ComponentValue = string | number | boolean | null;

export interface FingerprintInfo {
  visitor_id: string;
  components: Record<string, ComponentValue>;
}

/** Components the token already carries as named signals. */
const DUPLICATES = new Set(['languages', 'timezone', 'platform', 'screenResolution']);
/** Strings longer than this travel as a hash. */
const MAX_PLAIN_STRING = 32;
/** 48 bits of a 128-bit MurmurHash3: plenty to tell one device's values apart, and short. */
const HASH_CHARS = 12;

const hash = (value: unknown): string => murmurX64Hash128(JSON.stringify(value) ?? '').slice(0, HASH_CHARS);

export function flattenComponents(components: UnknownComponents): Record<string, ComponentValue> {
  const flat: Record<string, ComponentValue> = {};
  for (const name of Object.keys(components)) {
    if (DUPLICATES.has(name) || name.length > 64) continue;
    const component = components[name]!;
    if ('error' in component) {
      flat[name] = null;
      continue;
    }
    const value = component.value;
    if (value === undefined) continue;
    if (value === null || typeof value === 'boolean') flat[name] = value;
    else if (typeof value === 'number') flat[name] = Number.isFinite(value) ? value : null;
    else if (typeof value === 'string') flat[name] = value.length <= MAX_PLAIN_STRING ? value : hash(value);
    else flat[name] = hash(value);
  }
  return flat;
}

// One agent and one collection per page, created on first use.
let agent: Promise<Agent> | undefined;
let result: Promise<GetResult> | undefined;

function loadAgent(): Promise<Agent> {
  agent ??= load({ monitoring: false }).catch((error: unknown) => {
    agent = undefined; // let a later token try again
    throw error;
  });
  return agent;
}

/** FingerprintJS's result for this page; the WebGL source reads its renderer from it too. */
export function fingerprintResult(): Promise<GetResult> {
  result ??= loadAgent()
    .then((a) => a.get())
    .catch((error: unknown) => {
      result = undefined;
      throw error;
    });
  return result;
}

export const fingerprintSource = defineSource<FingerprintInfo>({
  budgetMs: 900,
  stable: true,
  async collect() {
    const components = { ...(await fingerprintResult()).components, domBlockers: { value: undefined, duration: 0 } };
    return { visitor_id: hashComponents(components), components: flattenComponents(components) };
  },
});
