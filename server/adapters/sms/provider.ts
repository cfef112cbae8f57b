/**
 * Sending SMS codes: one small interface, so the challenge code does not care
 * whether a code goes to a log (development), a webhook (your own gateway), or
 * a vendor adapter written later.
 */

export interface SmsMessage {
  /** The recipient, normalised (E.164-like: "+8613812345678"). Taken from the backend, never the browser. */
  to: string;
  /** The full text to send, code included. */
  text: string;
  appId: string;
  challengeId: string;
  /**
   * The bare code, for providers that need it apart from the text (LogSmsProvider
   * shows it; a vendor template takes it as a parameter). Optional: the text has it.
   */
  code?: string;
}

export interface SmsProvider {
  /** For logs and metrics: "log", "webhook", … */
  readonly name: string;
  /** Resolves once the provider has accepted the message; rejects with SmsSendError. */
  send(message: SmsMessage): Promise<void>;
}

export type SmsSendErrorCode =
  /** No answer within the time limit (after the retries). */
  | 'timeout'
  /** The connection failed: DNS, refused, reset, TLS (after the retries). */
  | 'network'
  /** The receiver answered with a non-2xx status (a 4xx at once, a 5xx after the retries), or a redirect. */
  | 'rejected'
  /** The target resolved to an address the provider may not connect to (not public, not allowed); not retried. */
  | 'blocked';

/**
 * A send that failed, with a stable `code` to branch on. The message never
 * contains the phone number, the text or the code.
 */
export class SmsSendError extends Error {
  override readonly name = 'SmsSendError';
  readonly code: SmsSendErrorCode;
  /** The HTTP status, when the receiver answered. */
  readonly status: number | undefined;
  /** How many requests were made. */
  readonly attempts: number;

  constructor(code: SmsSendErrorCode, message: string, details: { status?: number; attempts: number; cause?: unknown }) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.status = details.status;
    this.attempts = details.attempts;
  }
}

/**
 * Masks a phone number for logs and UIs: the first 3 and last 4 digits stay on
 * numbers of 10+ digits, the last 2 on shorter ones; a leading "+" is kept and
 * everything else is dropped.
 *
 * @example
 * maskPhoneNumber('+8613812345678') // '+861******5678'
 * maskPhoneNumber('+1 (415) 555-0100') // '+141****0100'
 */
export function maskPhoneNumber(number: string): string {
  const digits = number.replace(/\D/g, '');
  const plus = number.trimStart().startsWith('+') ? '+' : '';
  if (digits.length >= 10) return plus + digits.slice(0, 3) + '*'.repeat(digits.length - 7) + digits.slice(-4);
  if (digits.length > 4) return plus + '*'.repeat(digits.length - 2) + digits.slice(-2);
  return plus + '*'.repeat(digits.length);
}
