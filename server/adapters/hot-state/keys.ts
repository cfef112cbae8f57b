/**
 * How both hot-state adapters name a key (`StateKey`) in their stores: one
 * layout, `<head><entity part><tail>`. The entity part of an app's key
 * (`<app>:<entity>:<id>`) is what Redis Cluster hashes: `RedisHotState` wraps
 * it in a hash tag (`open`, `close` = `{`, `}`), so every key of one entity
 * sits on one slot; `MemoryHotState` leaves it bare. A key of no app is its
 * own entity part (Redis wraps the whole name, redis.ts).
 *
 * The names are the ones callers wrote out before keys were structured
 * (issue 14), byte for byte, so a rolling upgrade keeps what Redis holds
 * (counters, first-seen and enrollment marks, replay claims, challenges,
 * sessions, rate limits) and a restart keeps the memory store's journalled
 * claims (claim-journal.ts). Hence the irregular heads and tails below. A key
 * of a kind added since needs no head: `<app>:<entity>:<id>:<facet>`, or
 * `<entity>:<id>:<facet>` for a key of no app (Redis's kind prefix and the
 * memory store's spaces already tell operations apart).
 */
import { EVENTS } from '../../../shared/constants.js';
import type { StateEntity, StateKey } from '../../engine/evaluation/state-key.js';

/** Velocity counters: the facet is the event counted. */
const EVENT_FACETS: ReadonlySet<string> = new Set(EVENTS);

/** The SMS rate limits' short names for their entities. */
const SMS_LIMITED: Partial<Record<StateEntity, string>> = { mobile: 'm', ip: 'ip', device: 'dev', app: 'app' };

/**
 * The stored name of `key`, with the entity part of an app's key between
 * `open` and `close`.
 */
export function keyName(key: StateKey, open: string, close: string): string {
  const { app, entity, id, facet } = key;
  if (app === undefined) return sharedName(entity, id, facet);
  switch (facet) {
    case 'started':
    case 'passed':
    case 'failed':
    case 'sms_advised':
    case 'sms_passed':
      return `o:${open}${app}:${entity}:${id}${close}:${facet}`;
    case 'accounts':
    case 'mobiles':
    case 'devices':
      return `d:${open}${app}:${entity}:${id}${close}:${facet}`;
    case 'seen':
      return `s:${open}${app}:${entity}:${id}${close}`;
    case 'sms_mobiles':
      return `p:${open}${app}:${entity}:${id}${close}:mobiles`;
    case 'sms_countries':
      return `p:${open}${app}:${entity}:${id}${close}:countries`;
    case 'puzzles':
    case 'enrolled':
      // Enrollment: what a network asked for and got (puzzles, devices enrolled), and the devices enrolled.
      if (entity === 'network') return `enr:${open}${app}:${id}${close}:${facet}`;
      if (entity === 'device' && facet === 'enrolled') return `enr:dev:${open}${app}:${id}${close}`;
      break;
    case undefined:
      return `${open}${app}:${entity}:${id}${close}`;
  }
  if (EVENT_FACETS.has(facet)) return `v:${open}${app}:${entity}:${id}${close}:${facet}`;
  return `${open}${app}:${entity}:${id}${close}:${facet}`;
}

/** The name of a key of no app. */
function sharedName(entity: StateEntity, id: string, facet: string | undefined): string {
  switch (facet) {
    case undefined:
      if (entity === 'challenge_token') return `ctok:${id}`;
      if (entity === 'challenge') return `chal:${id}`;
      if (entity === 'session') return `sess:${id}`;
      return `${entity}:${id}`;
    case 'used':
      if (entity === 'token') return `jti:${id}`;
      if (entity === 'session') return `sessu:${id}`;
      if (entity === 'puzzle') return `enr:used:${id}`;
      break;
    case 'challenge_starts':
      if (entity === 'ip') return `rl:start:${id}`;
      break;
    case 'slider_answers':
      if (entity === 'device') return `rl:slider:dev:${id}`;
      if (entity === 'network') return `rl:slider:net:${id}`;
      break;
    case 'sms_hour':
    case 'sms_day': {
      const short = SMS_LIMITED[entity];
      if (short) return `rl:sms:${short}:${id}:${facet === 'sms_hour' ? 'h' : 'd'}`;
      break;
    }
  }
  return `${entity}:${id}:${facet}`;
}
