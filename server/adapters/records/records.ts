/**
 * Durable records: lists, the decision log and the audit trail.
 *
 * One interface, two implementations: SQLite under the data directory
 * (embedded default, `sqlite.ts`) and PostgreSQL (distributed mode). Methods
 * are async so both fit; the SQLite one resolves synchronously-computed values.
 */
import type { ListDimension, ListKind } from '../../../shared/constants.js';
import type { DecisionRecord, ListEntry } from '../../../shared/schemas.js';

/** Where a store reports trouble it survives (pino's logger fits). */
export interface RecordsLogger {
  warn(message: string): void;
}

/**
 * At most one warning per `intervalMs`: an outage would otherwise log once per
 * batch or per connection.
 */
export function throttledWarning(logger: RecordsLogger | undefined, intervalMs = 30_000): (message: string) => void {
  let last = -Infinity;
  return (message) => {
    const now = performance.now();
    if (now - last < intervalMs) return;
    last = now;
    logger?.warn(message);
  };
}

/**
 * The store could not be reached, or did not answer in time: an outage, not a
 * bad request or a bug. The routes answer it with 503 / STORE_UNAVAILABLE; the
 * decision log keeps such a batch queued and tries it again.
 */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface NewListEntry {
  appId: string;
  list: ListKind;
  dimension: ListDimension;
  /** Normalised value, or a keyed hash of it for mobile and email (see identifiers.ts). */
  valueKey: string;
  /** What the API shows: the value, masked for mobile and email. */
  displayValue: string;
  reason: string | null;
  createdBy: string;
  /** Epoch milliseconds, or null for no expiry. */
  expiresAt: number | null;
}

export interface ListLookup {
  dimension: ListDimension;
  valueKey: string;
}

export interface ListMatch {
  black: ListDimension[];
  white: ListDimension[];
}

export interface ListFilter {
  appId: string;
  list?: ListKind;
  dimension?: ListDimension;
  valueKey?: string;
  limit: number;
}

/**
 * Every method but `logDecision` and `ping` may reject with a
 * StoreUnavailableError when the store is down or too slow to answer.
 */
export interface Records {
  /**
   * Resolves only once the entry is durable (it survives `kill -9`). The entry
   * and its audit row are written together or not at all.
   */
  addListEntry(entry: NewListEntry): Promise<ListEntry>;
  findListEntries(filter: ListFilter): Promise<ListEntry[]>;
  /** Resolves false when no live entry of this app has that id. */
  deleteListEntry(appId: string, id: string, deletedBy: string): Promise<boolean>;
  /** Live (unexpired) entries of this app matching any of the identifiers. Hot path: must be fast. */
  matchLists(appId: string, lookups: readonly ListLookup[], now: number): Promise<ListMatch>;
  /** Queues a decision for the log; written in batches off the request path. */
  logDecision(record: DecisionRecord): void;
  /** A logged decision of this app, including ones still queued. */
  getDecision(appId: string, sequenceId: string): Promise<DecisionRecord | null>;
  /** Whether the store answers (for /readyz). */
  ping(): Promise<boolean>;
  /** Flushes queued decisions and closes. */
  close(): Promise<void>;
}
