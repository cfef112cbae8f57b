/**
 * The decision log's write-behind queue, shared by the SQLite and PostgreSQL
 * stores: an evaluation answers first and its record is written later, in
 * batches, off the request path.
 *
 * - A batch is written when `batchSize` records are queued, and every
 *   `flushIntervalMs` in any case; one batch is written at a time.
 * - The queue is bounded: past `maxQueued` the oldest record is dropped and
 *   counted, so a stalled database costs memory up to a limit, not the process.
 * - A batch whose write fails because the store is unreachable or too slow
 *   (a StoreUnavailableError: the database is down) goes back to the head of
 *   the queue and is tried again on the next tick, so an outage shorter than
 *   the queue's bound loses no decision. The write must be idempotent (both
 *   stores skip a sequence_id already written).
 * - A batch whose write fails for any other reason is dropped and counted,
 *   not retried: the decisions were already answered, and retrying a batch
 *   that cannot be written (a corrupt record, a broken table) would wedge the
 *   queue.
 * - Records are queued as their rows (the record as one JSON string), so a
 *   queued decision is one string on the heap rather than an object graph the
 *   garbage collector copies until it is written.
 * - Queued records and those being written are still served by `get`, parsed
 *   from that JSON as the stores serve written ones.
 * - `close` writes what is queued, stopping at the first failure.
 */
import type { DecisionRecord } from '../../../shared/schemas.js';
import { StoreUnavailableError } from './records.js';

/** The decisions table's columns, in order: what both stores insert. */
export type DecisionRow = [
  sequence_id: string,
  app_id: string,
  event: string,
  created_at: number,
  score: number,
  level: number,
  decision: string,
  rules_version: string,
  device_id: string | null,
  record: string,
];

export const DECISION_COLUMNS = 10;

export function decisionRow(record: DecisionRecord): DecisionRow {
  const createdAt = Date.parse(record.created_at);
  return [
    record.sequence_id,
    record.app_id,
    record.event,
    Number.isNaN(createdAt) ? Date.now() : createdAt,
    record.score,
    record.level,
    record.decision,
    record.rules_version,
    record.device_id,
    JSON.stringify(record),
  ];
}

export interface DecisionQueueOptions {
  /** How often queued decisions are written. Default 200 ms. */
  flushIntervalMs?: number;
  /** Decisions per batch; reaching it triggers a write. Default 500. */
  batchSize?: number;
  /** Most decisions held in memory; beyond it the oldest are dropped. Default 50,000. */
  maxQueuedDecisions?: number;
  /**
   * Called when a batch could not be written: `dropped` of its decisions were
   * dropped and counted (0 when the store was unavailable and the batch is kept
   * for the next try).
   */
  onError?: (error: unknown, dropped: number) => void;
}

export class DecisionQueue {
  readonly #write: (batch: DecisionRow[]) => Promise<void>;
  readonly #batchSize: number;
  readonly #maxQueued: number;
  readonly #onError: DecisionQueueOptions['onError'];
  /** Waiting to be written, oldest first (Maps iterate in insertion order). */
  readonly #queue = new Map<string, DecisionRow>();
  /** The batch being written now. */
  readonly #writing = new Map<string, DecisionRow>();
  readonly #timer: NodeJS.Timeout;
  #flushing: Promise<void> | undefined;
  #flushScheduled = false;
  #dropped = 0;
  #closed = false;

  constructor(write: (batch: DecisionRow[]) => Promise<void>, options: DecisionQueueOptions = {}) {
    this.#write = write;
    this.#batchSize = options.batchSize ?? 500;
    this.#maxQueued = options.maxQueuedDecisions ?? 50_000;
    this.#onError = options.onError;
    this.#timer = setInterval(() => void this.#flush(), options.flushIntervalMs ?? 200);
    this.#timer.unref();
  }

  /** Decisions dropped because the queue was full or their batch failed to write. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Decisions not written yet (queued or being written). */
  get size(): number {
    return this.#queue.size + this.#writing.size;
  }

  add(record: DecisionRecord): void {
    if (this.#closed) {
      this.#dropped++;
      return;
    }
    let row: DecisionRow;
    try {
      row = decisionRow(record);
    } catch (error) {
      // A record that cannot be serialised is lost alone, not with its batch, and never fails the request.
      this.#dropped++;
      this.#onError?.(error, 1);
      return;
    }
    this.#queue.set(record.sequence_id, row);
    if (this.#queue.size > this.#maxQueued) {
      const oldest = this.#queue.keys().next();
      if (!oldest.done) this.#queue.delete(oldest.value);
      this.#dropped++;
    }
    if (this.#queue.size >= this.#batchSize) this.#scheduleFlush();
  }

  /** A decision not written yet, if it is one. */
  get(sequenceId: string): DecisionRecord | undefined {
    const row = this.#queue.get(sequenceId) ?? this.#writing.get(sequenceId);
    return row && (JSON.parse(row[9]) as DecisionRecord);
  }

  /** Stops the timer and writes what is queued; after the first failed batch, the rest is dropped. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#flushing;
    while (this.#queue.size > 0) {
      if (!(await this.#writeBatch())) {
        this.#dropped += this.#queue.size;
        this.#queue.clear();
      }
    }
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      void this.#flush();
    });
  }

  /** Writes batches until the queue is empty or a write fails (the next tick tries again). */
  #flush(): Promise<void> {
    if (this.#flushing) return this.#flushing;
    if (this.#closed || this.#queue.size === 0) return Promise.resolve();
    this.#flushing = (async () => {
      try {
        while (!this.#closed && this.#queue.size > 0) {
          if (!(await this.#writeBatch())) break;
          // Let requests in between batches.
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      } finally {
        this.#flushing = undefined;
      }
    })();
    return this.#flushing;
  }

  /** Writes the oldest queued decisions; false when the write failed. */
  async #writeBatch(): Promise<boolean> {
    const batch: DecisionRow[] = [];
    for (const [key, row] of this.#queue) {
      if (batch.length >= this.#batchSize) break;
      batch.push(row);
      this.#queue.delete(key);
      this.#writing.set(key, row);
    }
    if (batch.length === 0) return true;
    try {
      await this.#write(batch);
      this.#writing.clear();
      return true;
    } catch (error) {
      if (error instanceof StoreUnavailableError && !this.#closed) {
        this.#requeue();
        this.#onError?.(error, 0);
      } else {
        this.#writing.clear();
        this.#dropped += batch.length;
        this.#onError?.(error, batch.length);
      }
      return false;
    }
  }

  /** Puts the batch being written back at the head of the queue, then trims the queue to its bound (oldest first). */
  #requeue(): void {
    const waiting = [...this.#queue];
    this.#queue.clear();
    for (const [key, row] of this.#writing) this.#queue.set(key, row);
    this.#writing.clear();
    for (const [key, row] of waiting) this.#queue.set(key, row);
    for (const key of this.#queue.keys()) {
      if (this.#queue.size <= this.#maxQueued) break;
      this.#queue.delete(key);
      this.#dropped++;
    }
  }
}
