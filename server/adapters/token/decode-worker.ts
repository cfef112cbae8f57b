/**
 * A worker thread that opens black_box tokens (ECDH, AES-GCM, ES256 verify),
 * so the main thread's event loop is free for HTTP, rules and stores.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { TokenKeyRing, type StoredTokenKey } from '../../engine/token/key-ring.js';
import { openBlackBox } from '../../engine/token/decode.js';

type Message = { id: number; tokens: string[] } | { keys: StoredTokenKey[] };

let ring = new TokenKeyRing((workerData as { keys: StoredTokenKey[] }).keys);

parentPort!.on('message', (message: Message) => {
  if ('keys' in message) {
    ring = new TokenKeyRing(message.keys);
    return;
  }
  parentPort!.postMessage({ id: message.id, results: message.tokens.map((token) => openBlackBox(token, ring)) });
});

// Loaded and listening: the pool's hang clock starts now (a thread can take long to start on a busy machine).
parentPort!.postMessage({ ready: true });
