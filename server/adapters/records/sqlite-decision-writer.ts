/**
 * A worker thread that writes the decision log into the SQLite file through
 * its own connection, so the inserts and each batch's fsync (synchronous=FULL)
 * do not hold the event loop. `SqliteRecords` starts it (see sqlite.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { DecisionRow } from './decision-queue.js';
import { openDatabase, prepareDecisionInsert } from './sqlite.js';

export type DecisionWriterMessage = { id: number; rows: DecisionRow[] };
export type DecisionWriterReply = { id: number; error?: string };

const db = openDatabase((workerData as { file: string }).file);
const insertAll = prepareDecisionInsert(db);

parentPort!.on('message', ({ id, rows }: DecisionWriterMessage) => {
  let reply: DecisionWriterReply;
  try {
    insertAll(rows);
    reply = { id };
  } catch (error) {
    reply = { id, error: error instanceof Error ? error.message : String(error) };
  }
  parentPort!.postMessage(reply);
});
