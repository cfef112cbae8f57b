/**
 * One spelling per identifier: what lists, velocity and distinct counts, SMS
 * limits, keyed hashes and masks all key on. Every spelling a person or a
 * script can give of the same phone, email, IP or account must land on the
 * same canonical value, or a black-listed value passes under another spelling
 * and counters split.
 *
 * - Phone numbers: libphonenumber-js, mainland China as the default region,
 *   so full-width digits, `+86 138 …`, `0086…` and a trunk `0` all give
 *   E.164. A string it cannot read keeps its digits.
 * - Emails: NFKC, lower case, the domain in ASCII (IDN), and the provider's
 *   own equivalences (Gmail ignores dots and `+tags`, googlemail.com is
 *   gmail.com; Outlook, iCloud, Fastmail and Proton ignore `+tags`).
 * - IPs: the schema admits only plain dotted-quad IPv4 and IPv6 (no leading
 *   zeros, ports or brackets); here they get one text form.
 * - Accounts: NFKC, with invisible characters (zero-width spaces and joiners,
 *   soft hyphens, byte-order marks) removed.
 */
import { domainToASCII } from 'node:url';
import ipaddr from 'ipaddr.js';
import { parsePhoneNumberFromString } from 'libphonenumber-js/min';

/** Where numbers without a country code are from: this system's users are mostly in mainland China. */
const DEFAULT_REGION = 'CN';

/** A phone number in E.164 (`+8613800138000`), or undefined when it is not one. */
export function e164(value: string): string | undefined {
  const parsed = parsePhoneNumberFromString(value.normalize('NFKC'), DEFAULT_REGION);
  return parsed?.isValid() ? parsed.number : undefined;
}

/** The country calling code of an E.164 number, without `+` (`"86"`, `"852"`). */
export function phoneCountryCode(number: string): string {
  return parsePhoneNumberFromString(number)?.countryCallingCode ?? '';
}

/** The digits of the E.164 form (`8613800138000`), the stored and hashed spelling; the digits given when not a number. */
export function canonicalMobile(value: string): string {
  const number = e164(value);
  if (number) return number.slice(1);
  const digits = value.normalize('NFKC').replace(/\D/g, '');
  // Input without any digit is not a number; keep it rather than let all such values share one key.
  return digits === '' ? value.trim() : digits;
}

interface MailboxRules {
  /** `name+anything@` is `name@`. */
  plusTags: boolean;
  /** Dots in the local part mean nothing. */
  dots?: boolean;
}
const GMAIL: MailboxRules = { plusTags: true, dots: true };
const PLUS: MailboxRules = { plusTags: true };
const PROVIDERS: Readonly<Record<string, MailboxRules>> = {
  'gmail.com': GMAIL,
  'outlook.com': PLUS,
  'hotmail.com': PLUS,
  'live.com': PLUS,
  'icloud.com': PLUS,
  'me.com': PLUS,
  'mac.com': PLUS,
  'fastmail.com': PLUS,
  'proton.me': PLUS,
  'protonmail.com': PLUS,
};
const DOMAIN_ALIASES: Readonly<Record<string, string>> = { 'googlemail.com': 'gmail.com' };

export function canonicalEmail(value: string): string {
  const text = value.normalize('NFKC').trim().toLowerCase();
  const at = text.lastIndexOf('@');
  if (at <= 0 || at === text.length - 1) return text;
  let local = text.slice(0, at);
  const rawDomain = text.slice(at + 1).replace(/\.$/, '');
  const ascii = domainToASCII(rawDomain) || rawDomain;
  const domain = DOMAIN_ALIASES[ascii] ?? ascii;
  const rules = PROVIDERS[domain];
  if (rules?.plusTags) local = local.split('+')[0] || local;
  if (rules?.dots) local = local.replaceAll('.', '') || local;
  return `${local}@${domain}`;
}

/** Plain dotted-quad IPv4 (no leading zeros) or IPv6: the only spellings the API admits. */
export function isStrictIp(value: string): boolean {
  if (ipaddr.IPv4.isValidFourPartDecimal(value)) return true;
  if (!ipaddr.IPv6.isValid(value)) return false;
  // An embedded IPv4 (`::ffff:a.b.c.d`) must be plain dotted decimal too: `::ffff:010.0.0.1` is ambiguous.
  const dotted = /:([^:]*\.[^:]*)$/.exec(value)?.[1];
  return dotted === undefined || ipaddr.IPv4.isValidFourPartDecimal(dotted);
}

export function canonicalIp(value: string): string {
  const text = value.trim();
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return ipaddr.IPv4.parse(text).toString();
  if (ipaddr.IPv6.isValid(text)) {
    const addr = ipaddr.process(text);
    return addr.kind() === 'ipv4' ? addr.toString() : (addr as ipaddr.IPv6).toRFC5952String();
  }
  return text.toLowerCase();
}

const INVISIBLE = /\p{Default_Ignorable_Code_Point}/gu;

/**
 * How an app compares account ids: `sensitive` (the default: ids are opaque,
 * `Alice` and `alice` are two accounts) or `insensitive` (user names that the
 * app's own sign-in folds to one case).
 */
export type AccountCase = 'sensitive' | 'insensitive';

export function canonicalAccount(value: string, accountCase: AccountCase = 'sensitive'): string {
  const canonical = value.normalize('NFKC').replace(INVISIBLE, '').trim();
  // Lower-casing can leave a sequence NFKC would compose (İ → i + U+0307): normalise again.
  return accountCase === 'insensitive' ? canonical.toLowerCase().normalize('NFKC') : canonical;
}
