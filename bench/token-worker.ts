/**
 * Worker thread that makes black_box tokens with the client's buildBlackBox.
 * Started by token-factory.ts; one per core.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { EcPrivateJwk } from '../shared/jwk.js';
import { buildBlackBox, type DeviceSigner } from '../client/core/token/build.js';
import { deviceProfile } from './device-profile.js';
import { tokenBackend, type CryptoMode } from './token-crypto.js';
import type { TokenJob, TokenJobResult } from './token-factory.js';

const { mode, pool } = workerData as { mode: CryptoMode; pool: EcPrivateJwk[] };
const backend = tokenBackend(mode);
const signers = new Map<number, DeviceSigner>();
/** How many tokens are built concurrently (WebCrypto work runs on the libuv pool). */
const CONCURRENCY = mode === 'webcrypto' ? 64 : 1;

async function signerFor(device: number): Promise<DeviceSigner> {
  if (device < 0) return backend.newDevice();
  let signer = signers.get(device);
  if (!signer) {
    const jwk = pool[device];
    if (!jwk) throw new RangeError(`no pool device ${device}`);
    signer = await backend.importDevice(jwk);
    signers.set(device, signer);
  }
  return signer;
}

async function one(job: TokenJob, i: number): Promise<string> {
  const profile = deviceProfile(job.profiles[i]!, job.appKey);
  return buildBlackBox({
    serverKey: job.serverKey,
    signer: await signerFor(job.devices[i]!),
    crypto: backend.crypto,
    payload: profile.payload,
  });
}

parentPort!.on('message', (job: TokenJob) => {
  void (async () => {
    try {
      const tokens: string[] = new Array<string>(job.devices.length);
      for (let i = 0; i < job.devices.length; i += CONCURRENCY) {
        const end = Math.min(i + CONCURRENCY, job.devices.length);
        const batch: Promise<void>[] = [];
        for (let k = i; k < end; k++) batch.push(one(job, k).then((t) => void (tokens[k] = t)));
        await Promise.all(batch);
      }
      parentPort!.postMessage({ id: job.id, tokens } satisfies TokenJobResult);
    } catch (error) {
      parentPort!.postMessage({ id: job.id, error: (error as Error).stack ?? String(error) } satisfies TokenJobResult);
    }
  })();
});
