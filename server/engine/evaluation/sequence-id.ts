import { randomUUID } from 'node:crypto';

/**
 * An evaluation's sequence_id, time-ordered and unique: 12 hex digits of
 * milliseconds and 20 random ones (TongDun's 32-character form). randomUUID
 * draws from a cached entropy pool, several times cheaper per call than
 * randomBytes on this hot path.
 */
export function newSequenceId(now = Date.now()): string {
  return (now.toString(16).padStart(12, '0') + randomUUID().replaceAll('-', '').slice(0, 20)).toUpperCase();
}
