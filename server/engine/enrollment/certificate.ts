/**
 * Device certificates: what enrollment (services/enrollment.ts) issues once a
 * device key has solved its puzzle, and what every later token of the device
 * carries. A certificate is MACed with a key every instance derives from the
 * shared identifier hash key, so any instance reads what another issued.
 *
 * Pure: no store, no clock of its own.
 */
import { createHmac, createPublicKey, timingSafeEqual, verify } from 'node:crypto';
import { z } from 'zod';
import type { BlackBoxPayload } from '../../../shared/schemas.js';
import { ecThumbprint } from '../token/key-ring.js';

export const ENROLLMENT_STATUSES = ['ok', 'missing', 'enrolling', 'failed', 'invalid'] as const;
export type EnrollmentStatus = (typeof ENROLLMENT_STATUSES)[number];

/** The `enrollment` feature group (features/features.ts). */
export interface EnrollmentFeatures {
  status: EnrollmentStatus;
  /** Seconds since the certificate was issued; -1 without a valid one. */
  age_s: number;
  /** Expected PBKDF2 iterations of the puzzle the device solved; 0 without a valid certificate. */
  difficulty: number;
  /** The certificate's enrollment prefix is the request IP's prefix. */
  prefix_match: boolean;
  /** Enrollments from the request IP's prefix (this app) over 5 minutes, an hour, a day. */
  prefix_enrollments_5m: number;
  prefix_enrollments_1h: number;
  prefix_enrollments_24h: number;
}

export const NO_ENROLLMENT: Readonly<EnrollmentFeatures> = Object.freeze({
  status: 'missing',
  age_s: -1,
  difficulty: 0,
  prefix_match: false,
  prefix_enrollments_5m: 0,
  prefix_enrollments_1h: 0,
  prefix_enrollments_24h: 0,
});

/** What a certificate says. */
export interface Certificate {
  /** JWK thumbprint of the device key: the device_id. */
  device: string;
  app: string;
  /** Seconds since the epoch. */
  issuedAt: number;
  /** Keyed hash of the enrollment IP prefix. */
  prefix: string;
  difficulty: number;
}

const CERT_PREFIX = 'rgc1';

const CertBody = z.strictObject({
  k: z.string().max(64),
  a: z.string().max(128),
  t: z.number().int().nonnegative(),
  n: z.string().max(64),
  w: z.number().int().nonnegative(),
});

/** Signs and reads certificates with one MAC key. */
export class Certificates {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    this.#key = key;
  }

  sign(cert: Certificate): string {
    const body = Buffer.from(
      JSON.stringify({ k: cert.device, a: cert.app, t: cert.issuedAt, n: cert.prefix, w: cert.difficulty } satisfies z.infer<typeof CertBody>),
    ).toString('base64url');
    const mac = createHmac('sha256', this.#key).update(`${CERT_PREFIX}.${body}`).digest().toString('base64url');
    return `${CERT_PREFIX}.${body}.${mac}`;
  }

  /** The certificate's contents when this server (or a sibling instance) issued it. */
  read(text: string): Certificate | undefined {
    const parts = text.split('.');
    if (parts.length !== 3 || parts[0] !== CERT_PREFIX) return undefined;
    const expected = createHmac('sha256', this.#key).update(`${CERT_PREFIX}.${parts[1]}`).digest();
    const given = Buffer.from(parts[2]!, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    try {
      const c = CertBody.parse(JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')));
      return { device: c.k, app: c.a, issuedAt: c.t, prefix: c.n, difficulty: c.w };
    } catch {
      return undefined;
    }
  }
}

/** The device id (its key's thumbprint) when `proof` is the key's ES256 signature of the puzzle; undefined when it is not. */
export function deviceOfProof(body: { public_key: { x: string; y: string }; proof: string; puzzle: string }): string | undefined {
  const { x, y } = body.public_key;
  const signature = Buffer.from(body.proof, 'base64url');
  let ok = false;
  try {
    const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x, y }, format: 'jwk' });
    ok = signature.length === 64 && verify('sha256', Buffer.from(body.puzzle, 'utf8'), { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    ok = false; // not a point on the curve
  }
  return ok ? ecThumbprint({ x, y }) : undefined;
}

/**
 * The certificate half of the `enrollment` features: the token's certificate
 * against its device id, the app and the request IP's prefix hash (`net`, ""
 * without one). The prefix counts stay 0: they come from the hot state.
 */
export function certificateFeatures(
  certificates: Certificates,
  enrollment: BlackBoxPayload['enrollment'] | undefined,
  subject: { appId: string; deviceId: string; net: string; at: number },
): EnrollmentFeatures {
  const out: EnrollmentFeatures = { ...NO_ENROLLMENT };
  if (enrollment?.state === 'enrolling' || enrollment?.state === 'failed') out.status = enrollment.state;
  else if (enrollment?.state === 'enrolled') {
    const cert = enrollment.cert ? certificates.read(enrollment.cert) : undefined;
    if (cert && subject.deviceId && cert.device === subject.deviceId && cert.app === subject.appId) {
      out.status = 'ok';
      out.age_s = Math.max(0, Math.floor(subject.at / 1000) - cert.issuedAt);
      out.difficulty = cert.difficulty;
      out.prefix_match = subject.net !== '' && cert.prefix === subject.net;
    } else out.status = 'invalid';
  }
  return out;
}
