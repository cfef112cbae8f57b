/**
 * Identifiers as stored: normalised, keyed-hashed for PII, masked for display.
 *
 * Lists and hot state key mobile and email by an HMAC of the normalised value,
 * so neither the database nor Redis ever holds them in clear (DESIGN.md, "State
 * and storage"). The same value must give the same key whatever its spelling,
 * hence the normalisation.
 */
import { createHmac } from 'node:crypto';
import type { ListDimension } from '../../../shared/constants.js';
import type { EvaluateRequest } from '../../../shared/schemas.js';
import { canonicalAccount, canonicalEmail, canonicalIp, canonicalMobile, type AccountCase } from './canonical.js';

const MIN_SECRET_BYTES = 32;
/** 128 bits: collisions stay out of reach while keys stay short in Redis. */
const KEY_HASH_BYTES = 16;
const KEY_PREFIX: Partial<Record<ListDimension, string>> = { mobile: 'm:', email: 'e:' };

/** What an app decides about its own identifiers (config `apps[].account_case`). */
export interface IdentifierRules {
  readonly accountCase: AccountCase;
}

export const DEFAULT_IDENTIFIER_RULES: IdentifierRules = Object.freeze({ accountCase: 'sensitive' });

/** The canonical spelling of an identifier (canonical.ts), under an app's rules. */
export function normalizeIdentifier(dimension: ListDimension, value: string, rules: IdentifierRules = DEFAULT_IDENTIFIER_RULES): string {
  switch (dimension) {
    case 'email':
      return canonicalEmail(value);
    case 'mobile':
      return canonicalMobile(value);
    case 'ip':
      return canonicalIp(value);
    case 'account':
      return canonicalAccount(value, rules.accountCase);
    case 'device':
      return value.trim();
  }
}

export function maskIdentifier(dimension: ListDimension, value: string, rules: IdentifierRules = DEFAULT_IDENTIFIER_RULES): string {
  const normalized = normalizeIdentifier(dimension, value, rules);
  if (dimension === 'mobile') return maskMobile(normalized);
  if (dimension === 'email') return maskEmail(normalized);
  return normalized;
}

function maskMobile(digits: string): string {
  const national = digits.length === 13 && digits.startsWith('86') ? digits.slice(2) : digits;
  if (national.length >= 10) return `${national.slice(0, 3)}****${national.slice(-4)}`;
  if (national.length >= 5) return `****${national.slice(-2)}`;
  return '****';
}

function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  const local = at < 0 ? email : email.slice(0, at);
  const domain = at < 0 ? '' : email.slice(at);
  return `${maskText(local)}${domain}`;
}

/** First character and stars; a one-character value shows nothing. */
function maskText(text: string): string {
  const chars = Array.from(text);
  return chars.length > 1 ? `${chars[0]}***` : '***';
}

export class IdentifierKeys {
  readonly #secret: Buffer;

  constructor(secret: Buffer) {
    if (secret.length < MIN_SECRET_BYTES) {
      throw new Error(`identifier key secret must be at least ${MIN_SECRET_BYTES} bytes`);
    }
    this.#secret = Buffer.from(secret);
  }

  normalize(dimension: ListDimension, value: string, rules?: IdentifierRules): string {
    return normalizeIdentifier(dimension, value, rules);
  }

  /** The stored and hot-state key: a keyed hash for mobile and email, else the normalised value. */
  key(dimension: ListDimension, value: string, rules?: IdentifierRules): string {
    const normalized = normalizeIdentifier(dimension, value, rules);
    const prefix = KEY_PREFIX[dimension];
    if (prefix === undefined) return normalized;
    // The dimension is hashed too, so one string never gives the same hash in two dimensions.
    const mac = createHmac('sha256', this.#secret).update(`${dimension}\0${normalized}`).digest();
    return prefix + mac.subarray(0, KEY_HASH_BYTES).toString('base64url');
  }

  mask(dimension: ListDimension, value: string, rules?: IdentifierRules): string {
    return maskIdentifier(dimension, value, rules);
  }
}

/** A copy of an evaluate request fit to store and log: no PII in clear, no token. */
export function maskRequest(req: EvaluateRequest): EvaluateRequest {
  const out: EvaluateRequest = { ...req };
  if (req.mobile !== undefined) out.mobile = maskIdentifier('mobile', req.mobile);
  if (req.email !== undefined) out.email = maskIdentifier('email', req.email);
  if (req.nickname !== undefined) out.nickname = maskText(req.nickname.trim());
  if (req.black_box !== undefined) out.black_box = `<token ${req.black_box.length} chars>`;
  return out;
}
