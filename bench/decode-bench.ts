/**
 * The bare token-decode loop, in process on one thread: openBlackBox
 * (node:crypto) against jose (WebCrypto) on the same tokens, for two device
 * mixes, plus the cost of openBlackBox's main steps.
 */
import { createECDH, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { compactDecrypt, compactVerify, EmbeddedJWK, importJWK } from 'jose';
import type { ServerTokenKey } from '../shared/jwk.js';
import { BlackBoxPayload } from '../shared/schemas.js';
import { ecThumbprint, generateTokenKey, TokenKeyRing } from '../server/engine/token/key-ring.js';
import { openBlackBox } from '../server/engine/token/decode.js';
import { systemBusySeconds } from './children.js';
import { deviceProfile } from './device-profile.js';
import { generateDeviceJwk } from './token-crypto.js';
import type { TokenFactory, TokenSpec } from './token-factory.js';

/**
 * openBlackBox caches device keys (an LRU of 10,000). New-device tokens are
 * therefore each decoded once only: a warm-up slice, then TRIALS slices.
 */
export const NEW_DEVICE_TOKENS = 4_500;
const NEW_DEVICE_WARMUP = 300;
export const RETURNING_DEVICES = 1_000;
export const RETURNING_TOKENS = 3_000;

export interface Timing {
  usPerOp: number;
  opsPerSecond: number;
  /** Process CPU (all threads, so WebCrypto's libuv work counts) per op. */
  cpuUsPerOp: number;
  ops: number;
}

export interface DecodeRow {
  what: string;
  mix: string;
  timing: Timing;
}

const TRIALS = 3;
const TRIAL_MS = 1000;
const WARMUP_MS = 400;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Runs `op` for a warm-up, then TRIALS trials; the median trial counts. */
export function timeSync(op: () => void, trialMs = TRIAL_MS, trials = TRIALS, warmupMs = WARMUP_MS): Timing {
  const run = (ms: number) => {
    const cpu = process.cpuUsage();
    const start = performance.now();
    let ops = 0;
    let now = start;
    while (now - start < ms) {
      for (let k = 0; k < 16; k++) op();
      ops += 16;
      now = performance.now();
    }
    const used = process.cpuUsage(cpu);
    return { us: ((now - start) * 1000) / ops, cpu: (used.user + used.system) / ops, ops };
  };
  run(warmupMs);
  const results = Array.from({ length: trials }, () => run(trialMs));
  const us = median(results.map((r) => r.us));
  return { usPerOp: us, opsPerSecond: 1e6 / us, cpuUsPerOp: median(results.map((r) => r.cpu)), ops: results.reduce((a, r) => a + r.ops, 0) };
}

/** Runs `op` once per item: a warm-up slice, then TRIALS equal slices; the median slice counts. */
export function timeEach<T>(items: readonly T[], warmup: number, op: (item: T) => void): Timing {
  for (let i = 0; i < warmup; i++) op(items[i]!);
  const per = Math.floor((items.length - warmup) / TRIALS);
  const results = Array.from({ length: TRIALS }, (_, t) => {
    const from = warmup + t * per;
    const cpu = process.cpuUsage();
    const start = performance.now();
    for (let i = from; i < from + per; i++) op(items[i]!);
    const us = ((performance.now() - start) * 1000) / per;
    const used = process.cpuUsage(cpu);
    return { us, cpu: (used.user + used.system) / per };
  });
  const us = median(results.map((r) => r.us));
  return { usPerOp: us, opsPerSecond: 1e6 / us, cpuUsPerOp: median(results.map((r) => r.cpu)), ops: per * TRIALS };
}

export async function timeAsync(op: () => Promise<unknown>, trialMs = TRIAL_MS, trials = TRIALS, warmupMs = WARMUP_MS): Promise<Timing> {
  const run = async (ms: number) => {
    const cpu = process.cpuUsage();
    const start = performance.now();
    let ops = 0;
    let now = start;
    while (now - start < ms) {
      for (let k = 0; k < 4; k++) await op();
      ops += 4;
      now = performance.now();
    }
    const used = process.cpuUsage(cpu);
    return { us: ((now - start) * 1000) / ops, cpu: (used.user + used.system) / ops, ops };
  };
  await run(warmupMs);
  const results = [];
  for (let i = 0; i < trials; i++) results.push(await run(trialMs));
  const us = median(results.map((r) => r.us));
  return { usPerOp: us, opsPerSecond: 1e6 / us, cpuUsPerOp: median(results.map((r) => r.cpu)), ops: results.reduce((a, r) => a + r.ops, 0) };
}

export interface DecodeBenchResult {
  rows: DecodeRow[];
  steps: { what: string; timing: Timing }[];
  tokenBytes: number;
  makeSeconds: number;
  /** Cores other processes used while the loops ran. */
  otherCores: number;
}

export async function runDecodeBench(factory: TokenFactory, log: (line: string) => void): Promise<DecodeBenchResult> {
  const stored = generateTokenKey();
  const ring = new TokenKeyRing([stored]);
  const { kty, crv, x, y, kid } = ring.primary;
  const serverKey: ServerTokenKey = { kty, crv, x, y, kid };
  const appKey = 'pk_bench_decode';

  const newSpecs: TokenSpec[] = Array.from({ length: NEW_DEVICE_TOKENS }, (_, i) => ({ device: -1, profile: 5_000_000 + i }));
  const returningSpecs: TokenSpec[] = Array.from({ length: RETURNING_TOKENS }, (_, i) => ({ device: i % RETURNING_DEVICES, profile: (i % RETURNING_DEVICES) + 1 }));
  const made = performance.now();
  const [newTokens, returningTokens] = [await factory.make(serverKey, appKey, newSpecs), await factory.make(serverKey, appKey, returningSpecs)];
  const makeSeconds = (performance.now() - made) / 1000;
  const tokenBytes = Math.round([...newTokens, ...returningTokens].reduce((a, t) => a + t.length, 0) / (newTokens.length + returningTokens.length));
  log(`made ${newTokens.length + returningTokens.length} tokens in ${makeSeconds.toFixed(1)} s (avg ${tokenBytes} chars)`);

  // Returning tokens must open (this also fills the device-key cache); new-device tokens are checked as they
  // are timed, since opening them first would cache their keys. A sample must pass jose too, which proves the
  // bench's token maker.
  for (const token of returningTokens) {
    const opened = openBlackBox(token, ring);
    if (!opened.ok) throw new Error(`bench token does not open: ${opened.failure}`);
  }
  const privateKey = await importJWK({ ...stored.jwk }, 'ECDH-ES');
  const joseOpen = async (token: string) => {
    const { plaintext } = await compactDecrypt(token, privateKey, { keyManagementAlgorithms: ['ECDH-ES'], contentEncryptionAlgorithms: ['A256GCM'] });
    return compactVerify(plaintext, EmbeddedJWK, { algorithms: ['ES256'] });
  };
  for (const token of [...newTokens.slice(0, 100), ...returningTokens.slice(0, 100)]) await joseOpen(token);

  const busy0 = systemBusySeconds();
  const own0 = process.cpuUsage();
  const timed0 = performance.now();
  const newMix = `new device each token (each key seen once: cache miss)`;
  const returningMix = `${RETURNING_DEVICES.toLocaleString('en-US')} returning devices (device key cached)`;
  const open = (token: string) => {
    const opened = openBlackBox(token, ring);
    if (!opened.ok) throw new Error(`bench token does not open: ${opened.failure}`);
  };

  // Returning devices first: it warms the JIT for the single pass over the new-device tokens.
  let r = 0;
  const returning = timeSync(() => open(returningTokens[r++ % returningTokens.length]!));
  const fresh = timeEach(newTokens, NEW_DEVICE_WARMUP, open);
  const rows: DecodeRow[] = [
    { what: 'openBlackBox (node:crypto)', mix: newMix, timing: fresh },
    { what: 'openBlackBox (node:crypto)', mix: returningMix, timing: returning },
  ];
  log(`openBlackBox: new devices ${fresh.usPerOp.toFixed(0)} µs/op, returning ${returning.usPerOp.toFixed(0)} µs/op`);
  // jose has no device-key cache, so both mixes can cycle.
  for (const [mix, tokens] of [
    [newMix, newTokens],
    [returningMix, returningTokens],
  ] as const) {
    let i = 0;
    const timing = await timeAsync(() => joseOpen(tokens[i++ % tokens.length]!));
    rows.push({ what: 'jose compactDecrypt + compactVerify', mix, timing });
    log(`jose, ${mix}: ${timing.usPerOp.toFixed(0)} µs/op`);
  }

  const own = process.cpuUsage(own0);
  const otherCores = Math.max(0, systemBusySeconds() - busy0 - (own.user + own.system) / 1e6) / ((performance.now() - timed0) / 1000);

  // Where openBlackBox's time goes, step by step, on similar inputs.
  const steps: { what: string; timing: Timing }[] = [];
  const points = Array.from({ length: 512 }, () => {
    const e = createECDH('prime256v1');
    e.generateKeys();
    return e.getPublicKey();
  });
  const ecdh = ring.decrypter(kid)!;
  let p = 0;
  steps.push({ what: 'ECDH computeSecret (P-256), per token', timing: timeSync(() => ecdh.computeSecret(points[p++ % points.length]!), 500, 1, 200) });
  const deviceJwk = generateDeviceJwk();
  const devicePublic = { kty: 'EC', crv: 'P-256', x: deviceJwk.x, y: deviceJwk.y };
  const devicePublicKey = createPublicKey({ key: devicePublic, format: 'jwk' });
  const signingInput = Buffer.from('x'.repeat(1700));
  const signature = sign('sha256', signingInput, { key: createPrivateKey({ key: { ...deviceJwk }, format: 'jwk' }), dsaEncoding: 'ieee-p1363' });
  steps.push({
    what: 'ES256 verify, cached KeyObject',
    timing: timeSync(() => verify('sha256', signingInput, { key: devicePublicKey, dsaEncoding: 'ieee-p1363' }, signature), 500, 1, 200),
  });
  steps.push({
    what: 'device key import (createPublicKey from JWK), cache miss',
    timing: timeSync(() => createPublicKey({ key: devicePublic, format: 'jwk' }), 500, 1, 200),
  });
  const payload = { ...deviceProfile(1, appKey).payload, jti: 'abcdefghijklmnopqrstuv', iat: Math.floor(Date.now() / 1000) };
  const payloadJson = JSON.stringify(payload);
  steps.push({ what: `payload JSON.parse + zod BlackBoxPayload (${payloadJson.length} B)`, timing: timeSync(() => BlackBoxPayload.safeParse(JSON.parse(payloadJson)), 500, 1, 200) });
  steps.push({ what: 'device id (RFC 7638 thumbprint)', timing: timeSync(() => ecThumbprint(deviceJwk), 500, 1, 200) });
  return { rows, steps, tokenBytes, makeSeconds, otherCores };
}

/**
 * The bare decode loop of the side-by-side rounds (R2's denominator):
 * openBlackBox alone, on this thread, on tokens in the evaluate mix made for
 * this loop's own key. Its device-key cache is openBlackBox's, as in the
 * server's decode workers, so returning devices hit it and new ones miss.
 */
export class DecodeLoop {
  readonly ring = new TokenKeyRing([generateTokenKey()]);

  get serverKey(): ServerTokenKey {
    const { kty, crv, x, y, kid } = this.ring.primary;
    return { kty, crv, x, y, kid };
  }

  run(tokens: readonly string[]): void {
    for (const token of tokens) {
      const opened = openBlackBox(token, this.ring);
      if (!opened.ok) throw new Error(`bench token does not open: ${opened.failure}`);
    }
  }
}
