/**
 * Seals short secrets (phone numbers) kept in shared hot state: AES-256-GCM
 * with a key derived from the instance secret, so Redis never holds a number
 * in clear.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

export class Sealer {
  private readonly key: Buffer;

  constructor(secret: Buffer) {
    if (secret.length < 32) throw new TypeError('the sealing secret must be at least 32 bytes');
    this.key = createHmac('sha256', secret).update('riskgate:seal:v1').digest();
  }

  seal(text: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  open(sealed: string): string {
    const bytes = Buffer.from(sealed, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', this.key, bytes.subarray(0, 12));
    decipher.setAuthTag(bytes.subarray(12, 28));
    return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString('utf8');
  }
}
