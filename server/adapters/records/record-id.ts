/**
 * Ids of stored rows (list entries, audit entries), made in code so that
 * SQLite and PostgreSQL need no sequences.
 */
import { randomBytes } from 'node:crypto';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

let lastTime = -1;
let lastRandom: number[] = [];

/**
 * A ULID-style id (26 characters: 48-bit time, 80 random bits). Ids are made in
 * code, not by the database, so SQLite and PostgreSQL need no sequence quirks.
 * Within one millisecond the random part counts up, so ids made by a process
 * sort in creation order and "newest first" needs no extra column.
 */
export function newRecordId(now: number = Date.now()): string {
  if (now === lastTime) {
    for (let i = lastRandom.length - 1; i >= 0; i--) {
      const digit = ((lastRandom[i] ?? 0) + 1) % 32;
      lastRandom[i] = digit;
      if (digit !== 0) break;
    }
  } else {
    lastTime = now;
    lastRandom = Array.from(randomBytes(16), (byte) => byte & 31);
  }
  let time = '';
  for (let t = now, i = 0; i < 10; i++, t = Math.floor(t / 32)) time = CROCKFORD.charAt(t % 32) + time;
  return time + lastRandom.map((d) => CROCKFORD.charAt(d)).join('');
}
