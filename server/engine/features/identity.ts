/**
 * The identity families: what an IP, an email, a mobile number and a pair of
 * user agents say about a request. Pure functions of their input; they fill
 * `Features.ip`, `.email`, `.mobile` (`identityFeatures`) and
 * `.request.ua_mismatch` (request.ts).
 *
 * Every input is attacker-controlled, so each function bounds its input's
 * length first and answers "invalid"/empty rather than throwing.
 */
import { domainToASCII } from 'node:url';
import ipaddr from 'ipaddr.js';
import { e164, isStrictIp, phoneCountryCode } from '../identifiers/canonical.js';
import { disposableEmailBlocklistSet } from 'disposable-email-domains-js';
import type { Features, IpKind } from './features.js';

// ---------------------------------------------------------------------------
// IP

/** Longest IPv6 text (45) plus a generous zone id. */
const MAX_IP_LENGTH = 100;

type Kind = Exclude<IpKind, 'invalid' | 'missing'>;

// ipaddr.js range names → kind. Anything not listed (a range a later ipaddr.js
// adds) is special-purpose, hence 'reserved'. Based on the IANA special-purpose
// registries: ranges that are globally reachable (AS112, AMT) are 'public'.
const V4_KINDS: Record<string, Kind> = {
  unicast: 'public',
  as112: 'public',
  amt: 'public',
  private: 'private',
  carrierGradeNat: 'private',
  loopback: 'loopback',
};
const V6_KINDS: Record<string, Kind> = {
  as112v6: 'public',
  amt: 'public',
  uniqueLocal: 'private',
  loopback: 'loopback',
};

/**
 * Classifies a client IP. Only the standard text forms count: inet_aton
 * shorthand (`127.1`, `0x7f.1`, `010.0.0.1`) is never what a backend sends for
 * a real client, and accepting it would let one address hide behind many
 * spellings, so it is `invalid` — itself a risk signal.
 */
export function ipKind(ip: string | undefined): IpKind {
  const text = ip?.trim() ?? '';
  if (text === '') return 'missing';
  if (text.length > MAX_IP_LENGTH || !isStrictIp(text)) return 'invalid';
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = ipaddr.parse(text);
  } catch {
    return 'invalid'; // a form the strict test lets through but ipaddr.js cannot parse
  }
  if (addr instanceof ipaddr.IPv4) return v4Kind(addr);
  // ipaddr.js reads the deprecated IPv4-compatible form `::a.b.c.d` as
  // IPv4-mapped; no real client arrives with it.
  if (/^::(?:\d+\.){3}\d+(?:%|$)/.test(text)) return 'reserved';
  return v6Kind(addr);
}

function v4Kind(addr: ipaddr.IPv4): Kind {
  return V4_KINDS[addr.range()] ?? 'reserved';
}

function v6Kind(addr: ipaddr.IPv6): Kind {
  const range = addr.range();
  const p = addr.parts;
  const embedded = (hi: number, lo: number) => v4Kind(new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]));
  switch (range) {
    case 'ipv4Mapped':
    case 'rfc6145': // IPv4-translated (SIIT): the host is the embedded IPv4
      return embedded(p[6]!, p[7]!);
    case 'rfc6052':
      // 64:ff9b::/96 carries an IPv4 in its low bits; 64:ff9b:1::/48 is local-use (RFC 8215).
      return p[2] === 0 ? embedded(p[6]!, p[7]!) : 'private';
    case '6to4': // 2002:AABB:CCDD::/48 — only a public IPv4 can have one
      return embedded(p[1]!, p[2]!) === 'public' ? 'public' : 'reserved';
    case 'teredo': // client IPv4 is the low 32 bits, inverted (RFC 4380)
      return embedded(p[6]! ^ 0xffff, p[7]! ^ 0xffff) === 'public' ? 'public' : 'reserved';
    case 'unicast':
      // Only 2000::/3 is allocated for global unicast; the rest is IETF-reserved.
      return (p[0]! & 0xe000) === 0x2000 ? 'public' : 'reserved';
    default:
      return V6_KINDS[range] ?? 'reserved';
  }
}

// ---------------------------------------------------------------------------
// Email

// The library's own isDisposableEmailDomain() rebuilds this Set on every call.
const DISPOSABLE = disposableEmailBlocklistSet();
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export interface EmailInfo {
  /** Lower-case ASCII (punycode) domain, or "" when the email is not valid. */
  domain: string;
  disposable: boolean;
}

/**
 * The email's domain and whether it, or a domain it is under, is a known
 * disposable-mail provider (`x.mailinator.com` counts as `mailinator.com`).
 */
export function emailInfo(email: string | undefined): EmailInfo {
  const none = { domain: '', disposable: false };
  const text = email?.trim() ?? '';
  if (text.length > 254) return none; // RFC 5321 path limit
  const at = text.lastIndexOf('@');
  const local = text.slice(0, at);
  if (at < 1 || local.length > 64 || /[\s\p{Cc}]/u.test(local)) return none;
  // domainToASCII lower-cases, converts IDNs to punycode and maps full-width
  // forms (`ＱＱ。ＣＯＭ` → `qq.com`), so look-alike spellings meet the same list.
  const domain = domainToASCII(text.slice(at + 1)).replace(/\.$/, '');
  const labels = domain.split('.');
  if (labels.length < 2 || domain.length > 253 || !labels.every((l) => LABEL.test(l)) || /^\d+$/.test(labels.at(-1)!)) {
    return none;
  }
  let disposable = false;
  for (let i = 0; i + 2 <= labels.length && !disposable; i++) {
    disposable = DISPOSABLE.has(labels.slice(i).join('.'));
  }
  return { domain, disposable };
}

// ---------------------------------------------------------------------------
// Mobile

/**
 * Chinese mobile prefixes allocated to virtual operators (移动转售, MVNOs), from
 * MIIT's number-block allocations: 170 and 171 (2013–2014), then 162, 165 and
 * 167 (2017). Host network for reference; any number in these blocks counts.
 */
const CN_MVNO_PREFIXES: readonly { prefix: string; host: string }[] = [
  { prefix: '170', host: 'Telecom 1700–1702, Mobile 1703/1705/1706, Unicom 1704/1707–1709' },
  { prefix: '171', host: 'China Unicom' },
  { prefix: '162', host: 'China Telecom' },
  { prefix: '165', host: 'China Mobile' },
  { prefix: '167', host: 'China Unicom' },
];


export interface MobileInfo {
  /** Calling code without `+` (`"86"`, `"852"`), or "" when unknown. */
  country_code: string;
  virtual_operator: boolean;
}

/** Country calling code and, for Chinese mobiles, whether the number is an MVNO's. */
export function mobileInfo(mobile: string | undefined): MobileInfo {
  const none = { country_code: '', virtual_operator: false };
  if (mobile === undefined || mobile.length > 64) return none;
  // One parser for every use of a phone number (engine/identifiers/canonical.ts).
  const number = e164(mobile);
  if (!number) return none;
  if (!number.startsWith('+86')) return { country_code: phoneCountryCode(number), virtual_operator: false };
  const national = number.slice(3);
  const cnMobile = /^1[3-9]\d{9}$/.test(national);
  return { country_code: '86', virtual_operator: cnMobile && CN_MVNO_PREFIXES.some(({ prefix }) => national.startsWith(prefix)) };
}

// ---------------------------------------------------------------------------
// User agent

/** Enough of a UA to read two regexes' worth; real ones are far shorter. */
const MAX_UA_LENGTH = 1024;

// Order matters: in-app and Chromium-based browsers also say Chrome/Safari.
const BROWSERS: readonly [string, RegExp][] = [
  ['wechat', /MicroMessenger\/(\d+)/i],
  ['qq', /\bM?QQBrowser\/(\d+)/i],
  ['uc', /\bUC?Browser\/(\d+)/i],
  ['edge', /\bEdg(?:e|A|iOS)?\/(\d+)/i],
  ['opera', /\bOPR\/(\d+)/i],
  ['samsung', /SamsungBrowser\/(\d+)/i],
  ['firefox', /\b(?:Firefox|FxiOS)\/(\d+)/i],
  ['chrome', /\b(?:Chrome|CriOS)\/(\d+)/i],
  ['safari', /\bVersion\/(\d+)[^\s]*\s.*\bSafari\//i],
];
const SYSTEMS: readonly [string, RegExp][] = [
  ['harmonyos', /HarmonyOS|OpenHarmony/i],
  ['android', /Android/i],
  ['ios', /iPhone|iPad|iPod/i],
  ['windows', /Windows/i],
  ['macos', /Macintosh|Mac OS X/i],
  ['chromeos', /\bCrOS\b/i],
  ['linux', /Linux/i],
];

export interface UaInfo {
  /** `android`, `ios`, `windows`, `macos`, `chromeos`, `linux`, `harmonyos`, or "". */
  os: string;
  /** `chrome`, `safari`, `firefox`, `edge`, `wechat` …, or "" for no browser we know. */
  family: string;
  /** The browser's major version, or "". */
  major: string;
}

/** The operating system and browser a user agent claims. */
export function uaInfo(ua: string): UaInfo {
  const text = ua.slice(0, MAX_UA_LENGTH);
  const os = SYSTEMS.find(([, re]) => re.test(text))?.[0] ?? '';
  for (const [family, re] of BROWSERS) {
    const major = re.exec(text)?.[1];
    if (major !== undefined) return { os, family, major };
  }
  return { os, family: '', major: '' };
}

function uaKey(ua: string): string {
  const { os, family, major } = uaInfo(ua);
  if (family) return `${family}/${major}/${os}`;
  // Not a browser we know (curl, an SDK, a bot): compare it whole, modulo spacing and case.
  return `?/${ua.slice(0, MAX_UA_LENGTH).replace(/\s+/g, ' ').trim().toLowerCase()}`;
}

/**
 * Whether the request's User-Agent and the one the SDK saw in the token belong
 * to different clients: a different browser family, major version or OS.
 * Cosmetic differences (spacing, minor versions) do not count, and a missing
 * side is no evidence either way.
 */
export function userAgentMismatch(requestUa: string | undefined, tokenUa: string | undefined): boolean {
  if (!requestUa?.trim() || !tokenUa?.trim()) return false;
  return uaKey(requestUa) !== uaKey(tokenUa);
}

// ---------------------------------------------------------------------------
// The feature groups

/** The `ip`, `email` and `mobile` groups of a request. */
export function identityFeatures(request: { ip?: string | undefined; email?: string | undefined; mobile?: string | undefined }): Pick<Features, 'ip' | 'email' | 'mobile'> {
  const email = emailInfo(request.email);
  const mobile = mobileInfo(request.mobile);
  return {
    ip: { kind: ipKind(request.ip) },
    email: { domain: email.domain, disposable: email.disposable },
    mobile: { country_code: mobile.country_code, virtual_operator: mobile.virtual_operator },
  };
}
