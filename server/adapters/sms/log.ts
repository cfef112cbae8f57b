/**
 * FOR DEVELOPMENT AND DEMOS ONLY: "sends" an SMS by writing it to the log, and
 * remembers the last code per challenge so a demo page can show it. The log
 * line carries the full code, so anyone who can read the logs can pass SMS
 * challenges: never configure this provider in production.
 */
import { maskPhoneNumber, type SmsMessage, type SmsProvider } from './provider.js';

/** The part of a pino logger this needs. */
export interface SmsLogger {
  info(obj: object, msg: string): void;
}

export interface LogSmsProviderOptions {
  /** Codes remembered for lastCodeFor, oldest dropped first. Default 1000. */
  maxRemembered?: number;
}

/** A 4–8 digit run standing alone: how codes appear in texts like "Your code is 123456". */
const CODE_IN_TEXT = /(?<!\d)\d{4,8}(?!\d)/;

/**
 * Logs each message at info level — the number masked, the code in full — and
 * keeps the last code per challenge in memory.
 *
 * @example
 * const sms = new LogSmsProvider(app.log);
 * await sms.send({ to: '+8613812345678', text: 'Your code is 493021', code: '493021', appId, challengeId });
 * sms.lastCodeFor(challengeId); // '493021' (for the demo page only)
 */
export class LogSmsProvider implements SmsProvider {
  readonly name = 'log';
  readonly #logger: SmsLogger;
  readonly #codes = new Map<string, string>();
  readonly #maxRemembered: number;

  constructor(logger: SmsLogger, options: LogSmsProviderOptions = {}) {
    const maxRemembered = options.maxRemembered ?? 1000;
    if (!Number.isInteger(maxRemembered) || maxRemembered < 1) throw new TypeError('maxRemembered must be a positive integer');
    this.#logger = logger;
    this.#maxRemembered = maxRemembered;
  }

  async send(message: SmsMessage): Promise<void> {
    const code = message.code ?? CODE_IN_TEXT.exec(message.text)?.[0];
    this.#logger.info(
      {
        sms: {
          provider: this.name,
          to: maskPhoneNumber(message.to),
          app_id: message.appId,
          challenge_id: message.challengeId,
          code,
          text: message.text,
        },
      },
      'SMS not sent (development provider): code logged instead',
    );
    if (code === undefined) return;
    // Re-insert so the Map's order is recency and the first key is the oldest.
    this.#codes.delete(message.challengeId);
    this.#codes.set(message.challengeId, code);
    if (this.#codes.size > this.#maxRemembered) {
      const oldest = this.#codes.keys().next().value;
      if (oldest !== undefined) this.#codes.delete(oldest);
    }
  }

  /** The last code sent for a challenge, for a development or demo page. */
  lastCodeFor(challengeId: string): string | undefined {
    return this.#codes.get(challengeId);
  }
}
