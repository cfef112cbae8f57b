/**
 * Key-encryption keys (KEKs) that seal the rows of `shared_secrets` in
 * PostgreSQL, so the token private keys and the identifier hash key never sit
 * in clear next to the data they protect. A KEK comes from the environment
 * (`RISKGATE_SECRETS_KEK`) or a file (`secrets.kek_file`), never from the
 * database.
 *
 * Several KEKs can be given, current first: rows are sealed with the current
 * one and opened with whichever sealed them, so a KEK rotates by putting the
 * new one first (the next start re-seals the rows) and dropping the old one
 * later.
 *
 * A sealed row is `rgs1.<kek id>.<iv>.<ciphertext>.<tag>` (base64url parts):
 * AES-256-GCM with a random 96-bit IV, whose associated data is
 * `rgs1.<kek id>.<row name>`, so a row copied onto another, or relabelled with
 * another KEK's id, does not open.
 *
 * @example
 *   const keks = KeyEncryptionKeys.parse([generateKeyEncryptionKey()], 'RISKGATE_SECRETS_KEK');
 *   const stored = keks.seal('identifier_hash_key', 'hash key text');
 *   keks.open('identifier_hash_key', stored); // { clear: 'hash key text', sealedBy: keks.currentId }
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const FORMAT = 'rgs1';
const KEK_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const B64U = /^[A-Za-z0-9_-]*$/;

/** A row that cannot be opened: the message names the row and what is wrong, never a key. */
export class SealedSecretError extends Error {
  override name = 'SealedSecretError';
}

/** A fresh KEK as text (32 random bytes, base64url), as `npm run keys -- new-kek` prints it. */
export function generateKeyEncryptionKey(): string {
  return randomBytes(KEK_BYTES).toString('base64url');
}

/** 32 bytes written as base64url (43 characters), base64 (44, with `=`) or hex (64); undefined otherwise. */
function decodeKek(text: string): Buffer | undefined {
  if (/^[A-Za-z0-9_-]{43}$/.test(text)) return Buffer.from(text, 'base64url');
  if (/^[A-Za-z0-9+/]{43}=$/.test(text)) return Buffer.from(text, 'base64');
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  return undefined;
}

/** A short public name for a KEK (a hash of it): says which KEK sealed a row without revealing it. */
export function keyEncryptionKeyId(key: Buffer): string {
  return createHash('sha256').update('riskgate kek id\0').update(key).digest('base64url').slice(0, 8);
}

export class KeyEncryptionKeys {
  // Private fields: the keys never show in a logged or serialised configuration.
  readonly #keys = new Map<string, Buffer>();
  /** Id of the KEK that seals; the others only open. */
  readonly currentId: string;
  /** Ids of every KEK given, current first. */
  readonly ids: readonly string[];

  private constructor(keys: readonly Buffer[]) {
    for (const key of keys) this.#keys.set(keyEncryptionKeyId(key), key);
    this.ids = Object.freeze([...this.#keys.keys()]);
    this.currentId = this.ids[0]!;
  }

  /**
   * KEKs as written, current first. Throws a TypeError naming `source` and the
   * position of a bad one (never its text).
   */
  static parse(texts: readonly string[], source: string): KeyEncryptionKeys {
    if (texts.length === 0) throw new TypeError(`${source}: no key-encryption key given`);
    const keys = texts.map((text, i) => {
      const key = decodeKek(text);
      if (!key) {
        throw new TypeError(
          `${source}: key ${i + 1} is not 32 bytes written as base64url (43 characters), base64 (44) or hex (64); make one with \`npm run keys -- new-kek\``,
        );
      }
      return key;
    });
    const ids = keys.map(keyEncryptionKeyId);
    const repeated = ids.findIndex((id, i) => ids.indexOf(id) !== i);
    if (repeated >= 0) throw new TypeError(`${source}: key ${repeated + 1} is given twice`);
    return new KeyEncryptionKeys(keys);
  }

  /** Seals the clear text of row `name` with the current KEK. */
  seal(name: string, clear: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#keys.get(this.currentId)!, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(associatedData(this.currentId, name));
    const ciphertext = Buffer.concat([cipher.update(clear, 'utf8'), cipher.final()]);
    return [FORMAT, this.currentId, iv.toString('base64url'), ciphertext.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
  }

  /**
   * The clear text of row `name` and the id of the KEK that sealed it;
   * `sealedBy` is undefined for a row written in clear (before KEKs).
   * Throws SealedSecretError when the row does not open.
   */
  open(name: string, stored: string): { clear: string; sealedBy: string | undefined } {
    if (!/^rgs\d+\./.test(stored)) return { clear: stored, sealedBy: undefined };
    const parts = stored.split('.');
    const [format, id, ivText, ciphertextText, tagText] = parts;
    if (format !== FORMAT) throw new SealedSecretError(`shared secrets: row "${name}" is sealed in a format this version does not know (${format})`);
    if (parts.length !== 5 || !id || ![ivText, ciphertextText, tagText].every((p) => p !== undefined && B64U.test(p))) {
      throw new SealedSecretError(`shared secrets: row "${name}" is not a well-formed sealed value`);
    }
    const key = this.#keys.get(id);
    if (!key) {
      throw new SealedSecretError(
        `shared secrets: row "${name}" is sealed with key-encryption key ${id}, which is not among those given (${this.ids.join(', ')}): ` +
          'start with the key that sealed it (RISKGATE_SECRETS_KEK or secrets.kek_file, current first); no new secret is made in its place',
      );
    }
    const iv = Buffer.from(ivText!, 'base64url');
    const tag = Buffer.from(tagText!, 'base64url');
    try {
      if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new Error('bad lengths');
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(associatedData(id, name));
      decipher.setAuthTag(tag);
      const clear = Buffer.concat([decipher.update(Buffer.from(ciphertextText!, 'base64url')), decipher.final()]).toString('utf8');
      return { clear, sealedBy: id };
    } catch {
      throw new SealedSecretError(
        `shared secrets: row "${name}" does not open with key-encryption key ${id}: it was altered, or copied from another row`,
      );
    }
  }

  toJSON(): { current: string; ids: readonly string[] } {
    return { current: this.currentId, ids: this.ids };
  }
}

function associatedData(kekId: string, name: string): Buffer {
  return Buffer.from(`${FORMAT}.${kekId}.${name}`, 'utf8');
}
