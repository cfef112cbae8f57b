/**
 * Wire contracts of device enrollment (`POST /v1/devices/puzzle`,
 * `POST /v1/devices/enroll`) as zod schemas. Server code and tests import this
 * file; the SDKs import only its types.
 */
import { z } from 'zod';
import { controlFree } from './schemas.js';

const appKeyField = controlFree.opaque(1, 128);
const b64url = (max: number) => z.string().max(max).regex(/^[A-Za-z0-9_-]+$/, 'is not base64url');

export const PuzzleRequest = z.object({ app_key: appKeyField }).meta({ id: 'DevicePuzzleRequest' });
export type PuzzleRequest = z.infer<typeof PuzzleRequest>;

/**
 * An ALTCHA proof-of-work v2 puzzle (PBKDF2/SHA-256): find the smallest
 * `counter` such that PBKDF2-SHA-256(password = nonce ‖ uint32be(counter),
 * salt, cost iterations, 32 bytes) starts with `key_prefix` (hex). `puzzle` is
 * the signed challenge, sent back as it is.
 */
export const PuzzleResponse = z
  .object({
    code: z.literal(200),
    message: z.string(),
    puzzle: z.string(),
    algorithm: z.literal('PBKDF2/SHA-256'),
    /** Hex. */
    nonce: z.string(),
    /** Hex. */
    salt: z.string(),
    cost: z.number().int(),
    key_prefix: z.string(),
    expires_at: z.string(),
    /** Expected PBKDF2 iterations to solve it. */
    difficulty: z.number().int(),
  })
  .meta({ id: 'DevicePuzzleResponse' });
export type PuzzleResponse = z.infer<typeof PuzzleResponse>;

export const DevicePublicKey = z.object({
  kty: z.literal('EC'),
  crv: z.literal('P-256'),
  x: b64url(64),
  y: b64url(64),
});

export const EnrollRequest = z
  .object({
    app_key: appKeyField,
    puzzle: controlFree.opaque(1, 2048),
    solution: z.object({
      counter: z.number().int().min(0).max(0xffffffff),
      /** Hex of the derived key. */
      derived_key: z.string().max(128).regex(/^[0-9a-f]*$/, 'is not lowercase hex'),
    }),
    /** The device key's public JWK. */
    public_key: DevicePublicKey,
    /** ES256 signature (r ‖ s, base64url) by the device key of the UTF-8 bytes of `puzzle`. */
    proof: b64url(128),
  })
  .meta({ id: 'DeviceEnrollRequest' });
export type EnrollRequest = z.infer<typeof EnrollRequest>;

export const EnrollResponse = z
  .object({
    code: z.literal(200),
    message: z.string(),
    /** The device certificate: every token of this device carries it as `enrollment.cert`. */
    cert: z.string(),
    device_id: z.string(),
    issued_at: z.string(),
    difficulty: z.number().int(),
  })
  .meta({ id: 'DeviceEnrollResponse' });
export type EnrollResponse = z.infer<typeof EnrollResponse>;
