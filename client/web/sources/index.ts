/**
 * Every signal source, in one ordered map (fingerprintjs's `src/sources`
 * habit): its type is the type of what one collection returns. Adding a
 * source is one file and one line here; the runner and the token assembly
 * follow from the types.
 */
import { automationSource } from './automation.js';
import { behaviorSource } from './behavior.js';
import { consistencySource } from './consistency.js';
import type { WebSourceContext } from './context.js';
import { environmentSource } from './environment.js';
import { fingerprintSource } from './fingerprint.js';
import { liesSource } from './lies.js';
import type { SourceRegistry, SourceValue } from '../../core/sources/source.js';
import { webglSource } from './webgl.js';
import { workerSource } from './worker.js';

export const sources = {
  // Slow and stable: started at init, collected once per page.
  fingerprint: fingerprintSource,
  webgl: webglSource,
  lies: liesSource,
  consistency: consistencySource,
  // Optional: goes into the tokens made after it answers.
  worker: workerSource,
  // Cheap: refreshed for every token.
  environment: environmentSource,
  automation: automationSource,
  behavior: behaviorSource,
} satisfies SourceRegistry<WebSourceContext>;

export type Sources = typeof sources;
export type SourceName = keyof Sources;
/** What each source returns when it succeeds. */
export type SourceValues = { [K in SourceName]: SourceValue<Sources[K]> };
