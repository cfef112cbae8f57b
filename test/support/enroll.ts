/**
 * Test helpers for device enrollment: ask for a puzzle, solve it with
 * altcha-lib's own solver (an independent check of the SDKs' solvers), prove
 * the key and enroll, all through `inject`.
 */
import { solveChallenge, type Challenge } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/pbkdf2';
import type { DeviceSigner } from '../../client/core/token/build.js';
import type { RiskGateApp } from '../../server/app.js';

export interface InjectedJson<T = Record<string, unknown>> {
  status: number;
  body: T;
}

export async function post<T = Record<string, unknown>>(app: RiskGateApp, url: string, payload: unknown, ip = '203.0.113.10', headers: Record<string, string> = {}): Promise<InjectedJson<T>> {
  const response = await app.inject({ method: 'POST', url, payload: payload as object, remoteAddress: ip, headers });
  return { status: response.statusCode, body: response.json() as T };
}

export interface PuzzleBody {
  puzzle: string;
  difficulty: number;
  cost: number;
  nonce: string;
  salt: string;
  key_prefix: string;
  expires_at: string;
}

export async function askPuzzle(app: RiskGateApp, appKey: string, ip?: string): Promise<PuzzleBody> {
  const { status, body } = await post<PuzzleBody>(app, '/v1/devices/puzzle', { app_key: appKey }, ip);
  if (status !== 200) throw new Error(`puzzle: ${status} ${JSON.stringify(body)}`);
  return body;
}

export async function solve(puzzle: string): Promise<{ counter: number; derived_key: string }> {
  const challenge = JSON.parse(Buffer.from(puzzle, 'base64url').toString('utf8')) as Challenge;
  const solution = await solveChallenge({ challenge, deriveKey });
  if (!solution) throw new Error('no solution');
  return { counter: solution.counter, derived_key: solution.derivedKey };
}

export async function proofOf(device: DeviceSigner, puzzle: string): Promise<string> {
  return Buffer.from(await device.sign(new TextEncoder().encode(puzzle))).toString('base64url');
}

export async function enrollBody(device: DeviceSigner, appKey: string, puzzle: string) {
  const { kty, crv, x, y } = device.publicKey;
  return { app_key: appKey, puzzle, solution: await solve(puzzle), public_key: { kty, crv, x, y }, proof: await proofOf(device, puzzle) };
}

/** Enrolls `device` and returns its certificate. */
export async function enroll(app: RiskGateApp, device: DeviceSigner, appKey: string, ip = '203.0.113.10'): Promise<string> {
  const { puzzle } = await askPuzzle(app, appKey, ip);
  const { status, body } = await post<{ cert: string }>(app, '/v1/devices/enroll', await enrollBody(device, appKey, puzzle), ip);
  if (status !== 200) throw new Error(`enroll: ${status} ${JSON.stringify(body)}`);
  return body.cert;
}
