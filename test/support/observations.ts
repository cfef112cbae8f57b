/**
 * The hot-state work of one evaluation, for the Redis hot-state tests and the
 * bench that measures it (bench/redis-mode.ts).
 */
import type { ObservationBatch } from '../../server/adapters/hot-state/hot-state.js';

export const WINDOWS = [5 * 60_000, 3_600_000, 86_400_000];

/** What one evaluation with every identifier observes: 4 counters × 3 windows, 4 distinct sets, 1 first-seen mark. */
export function evaluationBatch(i: number, at = Date.now()): ObservationBatch {
  const ip = `10.0.${(i >> 8) & 255}.${i & 255}`;
  const device = `dev-${i % 5000}`;
  const account = `u${i % 20000}`;
  const mobile = `m:${(i % 30000).toString(36)}`;
  return {
    at,
    counters: [
      { app: 'app', entity: 'ip', id: ip, facet: 'login', windowsMs: WINDOWS },
      { app: 'app', entity: 'device', id: device, facet: 'login', windowsMs: WINDOWS },
      { app: 'app', entity: 'account', id: account, facet: 'login', windowsMs: WINDOWS },
      { app: 'app', entity: 'mobile', id: mobile, facet: 'login', windowsMs: WINDOWS },
    ],
    distinct: [
      { app: 'app', entity: 'device', id: device, facet: 'accounts', member: account, windowsMs: WINDOWS },
      { app: 'app', entity: 'ip', id: ip, facet: 'accounts', member: account, windowsMs: WINDOWS },
      { app: 'app', entity: 'device', id: device, facet: 'mobiles', member: mobile, windowsMs: WINDOWS },
      { app: 'app', entity: 'ip', id: ip, facet: 'devices', member: device, windowsMs: WINDOWS },
    ],
    firstSeen: [{ app: 'app', entity: 'device', id: device, facet: 'seen', ttlMs: 90 * 86_400_000 }],
  };
}
