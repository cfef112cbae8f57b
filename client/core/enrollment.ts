/**
 * Device enrollment, the part both SDKs share: once per device key, ask
 * `{endpoint}/v1/devices/puzzle` for a proof-of-work puzzle, solve it (the
 * platform's solver: a Worker on the web, time slices in a mini-program),
 * sign the puzzle with the device key (proof of possession) and post it to
 * `/v1/devices/enroll`; keep the certificate with the key. It runs beside
 * token making and never delays it: a token made meanwhile says `enrolling`.
 */
import type { DeviceSigner } from './token/build.js';
import { base64url, utf8 } from './token/encoding.js';

/** What every token carries as `enrollment`. */
export interface EnrollmentState {
  state: 'enrolled' | 'enrolling' | 'failed';
  cert?: string;
  /** Why it failed: the server's error name (`DEVICE_ENROLLED` …), `network` or `solver`. */
  error?: string;
}

/** The puzzle fields a solver needs (ALTCHA v2, PBKDF2/SHA-256; hex strings). */
export interface Puzzle {
  nonce: string;
  salt: string;
  cost: number;
  key_prefix: string;
}

/** The smallest counter whose PBKDF2-SHA-256(nonce ‖ uint32be(counter), salt, cost, 32 bytes) starts with key_prefix, and that key in hex. */
export type Solver = (puzzle: Puzzle) => Promise<[counter: number, derivedKey: string]>;

export interface EnrollmentIo {
  /** POSTs JSON and resolves with the parsed answer (any status); rejects on a network failure. */
  post(path: string, body: object): Promise<{ code?: number; error?: string; [name: string]: unknown }>;
  solve: Solver;
  /** The certificate stored for this key and app, if any. */
  load(): Promise<string | undefined>;
  save(cert: string): Promise<void>;
}

/**
 * Starts enrolling `signer`. The returned function tells the state for a
 * token: once the stored certificate has been looked up (local storage, as
 * quick as the device key itself), never waiting for the network or the work.
 */
export function startEnrollment(io: EnrollmentIo, appKey: string, signer: Promise<DeviceSigner>): () => Promise<EnrollmentState> {
  let now: EnrollmentState = { state: 'enrolling' };
  let looked = () => {};
  const lookedUp = new Promise<void>((resolve) => (looked = resolve));
  let step = 'device_key';
  const call = async (path: string, body: object) => {
    step = 'network';
    const answer = await io.post(path, body);
    if (answer.code !== 200) throw (step = String(answer.error ?? answer.code ?? 'server'));
    return answer;
  };
  (async () => {
    const key = await signer;
    const stored = await io.load().catch(() => undefined);
    looked();
    if (stored) return (now = { state: 'enrolled', cert: stored });
    const p = (await call('/v1/devices/puzzle', { app_key: appKey })) as unknown as Puzzle & { puzzle: string };
    step = 'solver';
    const [counter, derived_key] = await io.solve(p);
    const { kty, crv, x, y } = key.publicKey;
    const proof = base64url(await key.sign(utf8(p.puzzle)));
    const { cert } = (await call('/v1/devices/enroll', { app_key: appKey, puzzle: p.puzzle, solution: { counter, derived_key }, public_key: { kty, crv, x, y }, proof })) as { cert: string };
    now = { state: 'enrolled', cert };
    await io.save(cert).catch(() => {});
  })().catch(() => {
    now = { state: 'failed', error: step.slice(0, 64) };
    looked();
  });
  return () => lookedUp.then(() => now);
}
