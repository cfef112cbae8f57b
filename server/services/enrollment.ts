/**
 * Device enrollment: a device key proves some work once, bound to the app and
 * the client's network, and gets a certificate every later token carries.
 *
 * - `puzzle` counts the request under its IP prefix (/24, /64) and hands out
 *   an ALTCHA v2 puzzle (altcha-lib, deterministic PBKDF2/SHA-256) whose
 *   expected work grows with that count (difficulty.ts). The puzzle is signed
 *   (HMAC) with its app, a keyed hash of the prefix, its expiry and its
 *   difficulty; the server keeps nothing until it is solved.
 * - `enroll` checks the signature, expiry, app and prefix, the solution (an
 *   HMAC of the derived key, so verifying costs no work), and the device key's
 *   ES256 signature of the puzzle, then claims the puzzle (single use) and the
 *   device key (one enrollment per key and app) in hot state, counts the
 *   enrollment under the prefix, and answers the certificate.
 * - `features` checks a token's certificate for an evaluation.
 *
 * Keys are derived from the identifier hash key, which every instance shares
 * (the data directory, the configuration, or PostgreSQL in distributed mode),
 * so any instance verifies what another issued.
 */
import { createHmac, hkdfSync, randomInt } from 'node:crypto';
import { createChallenge, verifySolution, type Challenge } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/pbkdf2';
import { z } from 'zod';
import type { BlackBoxPayload } from '../../shared/schemas.js';
import type { EnrollRequest, EnrollResponse, PuzzleResponse } from '../../shared/enrollment.js';
import type { AppSettings } from '../config/config.js';
import { Refused } from './failures.js';
import { certificateFeatures, Certificates, deviceOfProof, type Certificate, type EnrollmentFeatures } from '../engine/enrollment/certificate.js';
import type { CounterObservation, HotState } from '../adapters/hot-state/hot-state.js';
import { BASE_DERIVATIONS, PUZZLE_COST, puzzleShape, type PrefixCounts } from '../engine/enrollment/difficulty.js';
import { ipPrefix } from '../engine/identifiers/ip-prefix.js';

const WINDOWS_MS = [5 * 60_000, 3_600_000, 86_400_000] as const;
const PUZZLE_TTL_MS = 10 * 60_000;
/** How long a device key stays known as enrolled (hot state keeps nothing forever). */
const ENROLLED_TTL_MS = 400 * 86_400_000;
const ALGORITHM = 'PBKDF2/SHA-256';

/** The signed challenge as the client sends it back: exactly what the server issued. */
const IssuedChallenge = z.strictObject({
  parameters: z.strictObject({
    algorithm: z.literal(ALGORITHM),
    nonce: z.string().regex(/^[0-9a-f]{32}$/),
    salt: z.string().regex(/^[0-9a-f]{32}$/),
    cost: z.number().int().positive().max(1_000_000),
    keyLength: z.literal(32),
    keyPrefix: z.string().regex(/^[0-9a-f]{2,64}$/),
    keySignature: z.string().regex(/^[0-9a-f]{64}$/),
    expiresAt: z.number().int().positive(),
    data: z.strictObject({ app: z.string().max(128), net: z.string().max(64), d: z.number().int().nonnegative() }),
  }),
  signature: z.string().regex(/^[0-9a-f]{64}$/),
});

export interface EnrollmentServiceOptions {
  hotState: HotState;
  /** The identifier hash key (shared by every instance). */
  secret: Buffer;
  log: { warn(obj: object, msg: string): void };
  /** Expected key derivations of a base puzzle (tests lower it). */
  baseDerivations?: number;
  /** PBKDF2 iterations per derivation. */
  cost?: number;
  /** Most a puzzle can cost as a multiple of the base (tests of SDKs that enroll many devices from one address lower it). */
  maxMultiplier?: number;
  puzzleTtlMs?: number;
  now?: () => number;
}

const sub = (secret: Buffer, label: string) => Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), `riskgate enrollment ${label}`, 32));

export class EnrollmentService {
  private readonly puzzleSecret: string;
  private readonly keySecret: string;
  private readonly certificates: Certificates;
  private readonly prefixKey: Buffer;
  private readonly now: () => number;

  constructor(private readonly options: EnrollmentServiceOptions) {
    this.puzzleSecret = sub(options.secret, 'puzzle').toString('hex');
    this.keySecret = sub(options.secret, 'puzzle key').toString('hex');
    this.certificates = new Certificates(sub(options.secret, 'certificate'));
    this.prefixKey = sub(options.secret, 'prefix');
    this.now = options.now ?? Date.now;
  }

  /** Keyed hash of an IP's prefix ("" for no address). */
  prefixHash(ip: string | undefined): string {
    const prefix = ipPrefix(ip);
    return prefix ? createHmac('sha256', this.prefixKey).update(prefix).digest().subarray(0, 12).toString('base64url') : '';
  }

  /** The puzzles asked for, or the devices enrolled, under a network (its prefix's keyed hash); `record` false reads without counting. */
  private prefixCounter(appId: string, net: string, facet: 'puzzles' | 'enrolled', record = true): CounterObservation {
    return { app: appId, entity: 'network', id: net, facet, windowsMs: WINDOWS_MS, record };
  }

  /** A puzzle for a client at `ip`, as hard as its prefix's recent demand says. */
  async puzzle(app: AppSettings, ip: string): Promise<PuzzleResponse> {
    const net = this.prefixHash(ip) || 'none';
    const now = this.now();
    const observed = await this.store(() =>
      this.options.hotState.observe({ at: now, keep: true, counters: [this.prefixCounter(app.id, net, 'puzzles')], distinct: [], firstSeen: [] }),
    );
    const [c5m = 1, c1h = 1, c24h = 1] = observed.counters[0] ?? [];
    const counts: PrefixCounts = { '5m': c5m, '1h': c1h, '24h': c24h };
    const shape = puzzleShape(counts, this.options.baseDerivations ?? BASE_DERIVATIONS, this.options.cost ?? PUZZLE_COST, this.options.maxMultiplier);
    const d = shape.derivations;
    const expiresAt = Math.floor((now + (this.options.puzzleTtlMs ?? PUZZLE_TTL_MS)) / 1000);
    const challenge = await createChallenge({
      algorithm: ALGORITHM,
      cost: shape.cost,
      // Uniform over [D/2, 3D/2]: D derivations expected, and never a free one.
      counter: randomInt(Math.ceil(d / 2), Math.floor((3 * d) / 2) + 1),
      deriveKey,
      expiresAt,
      data: { app: app.id, net, d: shape.difficulty },
      hmacSignatureSecret: this.puzzleSecret,
      hmacKeySignatureSecret: this.keySecret,
    });
    const p = challenge.parameters;
    return {
      code: 200,
      message: 'ok',
      puzzle: Buffer.from(JSON.stringify(challenge)).toString('base64url'),
      algorithm: ALGORITHM,
      nonce: p.nonce,
      salt: p.salt,
      cost: p.cost,
      key_prefix: p.keyPrefix,
      expires_at: new Date(expiresAt * 1000).toISOString(),
      difficulty: shape.difficulty,
    };
  }

  /** Checks a solved puzzle and the key's proof, claims both once, and issues the certificate. */
  async enroll(app: AppSettings, ip: string, body: EnrollRequest): Promise<EnrollResponse> {
    const challenge = this.parsePuzzle(body.puzzle);
    const result = await verifySolution({
      challenge: challenge as Challenge,
      solution: { counter: body.solution.counter, derivedKey: body.solution.derived_key },
      deriveKey,
      hmacSignatureSecret: this.puzzleSecret,
      hmacKeySignatureSecret: this.keySecret,
    });
    const params = challenge.parameters;
    if (result.expired || params.expiresAt * 1000 < this.now()) throw new Refused({ code: 'puzzle_expired' });
    if (result.invalidSignature) throw new Refused({ code: 'puzzle_not_issued' });
    if (params.data.app !== app.id) throw new Refused({ code: 'puzzle_other_app' });
    if (params.data.net !== (this.prefixHash(ip) || 'none')) throw new Refused({ code: 'puzzle_other_network' });
    if (!result.verified) throw new Refused({ code: 'solution_wrong' });
    const device = this.checkProof(body);

    const { hotState } = this.options;
    const ttl = Math.max(1000, params.expiresAt * 1000 - this.now() + 60_000);
    if (!(await this.store(() => hotState.claimOnce({ entity: 'puzzle', id: params.nonce, facet: 'used' }, ttl, `enr:${app.id}`)))) {
      throw new Refused({ code: 'puzzle_used' });
    }
    // A first-seen mark, not a claim: a year of devices would fill a claim table. Kept (never
    // evicted by evaluation traffic in memory mode); a full kept space fails closed (STORE_UNAVAILABLE).
    const now = this.now();
    const marked = await this.store(() =>
      hotState.observe({ at: now, keep: true, counters: [], distinct: [], firstSeen: [{ app: app.id, entity: 'device', id: device, facet: 'enrolled', ttlMs: ENROLLED_TTL_MS }] }),
    );
    if (!marked.firstSeen[0]) throw new Refused({ code: 'device_enrolled' });
    await this.store(() =>
      hotState.observe({ at: now, keep: true, counters: [this.prefixCounter(app.id, params.data.net, 'enrolled')], distinct: [], firstSeen: [] }),
    );
    const cert: Certificate = { device, app: app.id, issuedAt: Math.floor(now / 1000), prefix: params.data.net, difficulty: params.data.d };
    return {
      code: 200,
      message: 'ok',
      cert: this.sign(cert),
      device_id: device,
      issued_at: new Date(cert.issuedAt * 1000).toISOString(),
      difficulty: cert.difficulty,
    };
  }

  private parsePuzzle(text: string): z.infer<typeof IssuedChallenge> {
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    } catch {
      throw new Refused({ code: 'puzzle_unreadable' });
    }
    const parsed = IssuedChallenge.safeParse(json);
    if (!parsed.success) throw new Refused({ code: 'puzzle_unreadable' });
    return parsed.data;
  }

  /** The device id, when `proof` is the key's ES256 signature of the puzzle. */
  private checkProof(body: EnrollRequest): string {
    const device = deviceOfProof(body);
    if (!device) throw new Refused({ code: 'proof_invalid' });
    return device;
  }

  sign(cert: Certificate): string {
    return this.certificates.sign(cert);
  }

  /** The certificate's contents when this server (or a sibling instance) issued it. */
  readCertificate(text: string): Certificate | undefined {
    return this.certificates.read(text);
  }

  /**
   * The `enrollment` features of one evaluation: the token's certificate
   * against its device id, the app and the request IP, and the enrollments
   * counted under the request IP's prefix. A store failure gives zero counts.
   */
  async features(
    appId: string,
    enrollment: BlackBoxPayload['enrollment'] | undefined,
    deviceId: string,
    requestIp: string | undefined,
    at: number,
    timeoutMs: number,
  ): Promise<EnrollmentFeatures> {
    const net = this.prefixHash(requestIp);
    const out = certificateFeatures(this.certificates, enrollment, { appId, deviceId, net, at });
    if (net) {
      let expire = (_: undefined) => {};
      const timeout = new Promise<undefined>((resolve) => (expire = resolve));
      const timer = setTimeout(() => expire(undefined), timeoutMs);
      const counts = await Promise.race([
        this.options.hotState.observe({ at, keep: true, counters: [this.prefixCounter(appId, net, 'enrolled', false)], distinct: [], firstSeen: [] }),
        timeout,
      ])
        .catch(() => undefined)
        .finally(() => clearTimeout(timer));
      const [c5m = 0, c1h = 0, c24h = 0] = counts?.counters[0] ?? [];
      out.prefix_enrollments_5m = c5m;
      out.prefix_enrollments_1h = c1h;
      out.prefix_enrollments_24h = c24h;
    }
    return out;
  }

  private async store<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof Refused) throw error;
      this.options.log.warn({ err: (error as Error).message }, 'hot state unavailable on an enrollment path');
      throw new Refused({ code: 'enrollment_state_unavailable' });
    }
  }
}
