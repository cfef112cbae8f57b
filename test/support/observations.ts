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
      { key: `v:{app:ip:${ip}}:login`, windowsMs: WINDOWS },
      { key: `v:{app:device:${device}}:login`, windowsMs: WINDOWS },
      { key: `v:{app:account:${account}}:login`, windowsMs: WINDOWS },
      { key: `v:{app:mobile:${mobile}}:login`, windowsMs: WINDOWS },
    ],
    distinct: [
      { key: `d:{app:device:${device}}:accounts`, member: account, windowsMs: WINDOWS },
      { key: `d:{app:ip:${ip}}:accounts`, member: account, windowsMs: WINDOWS },
      { key: `d:{app:device:${device}}:mobiles`, member: mobile, windowsMs: WINDOWS },
      { key: `d:{app:ip:${ip}}:devices`, member: device, windowsMs: WINDOWS },
    ],
    firstSeen: [{ key: `s:{app:device:${device}}`, ttlMs: 90 * 86_400_000 }],
  };
}
