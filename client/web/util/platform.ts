/**
 * What a user agent string claims, parsed just enough for the consistency and
 * automation checks. Pure functions of strings: no browser global is read here.
 */

export type ClaimedOs = 'windows' | 'mac' | 'ios' | 'android' | 'chromeos' | 'linux' | 'other';

export interface UaClaims {
  os: ClaimedOs;
  /** A phone or tablet browser by its own account ("Mobile", Android, iPhone…). */
  mobile: boolean;
  /** A Blink browser (Chrome, Edge, Opera, Samsung Internet…); not Chrome on iOS, which is WebKit. */
  chromium: boolean;
  /** The Chromium major version in the string, or -1. */
  chromiumMajor: number;
  /** An embedded Android WebView ("; wv)"), which lacks `window.chrome`. */
  webView: boolean;
}

export function parseUserAgent(ua: string): UaClaims {
  let os: ClaimedOs = 'other';
  if (/iPhone|iPad|iPod/.test(ua)) os = 'ios';
  else if (/Android/.test(ua)) os = 'android';
  else if (/CrOS/.test(ua)) os = 'chromeos';
  else if (/Windows/.test(ua)) os = 'windows';
  else if (/Macintosh|Mac OS X/.test(ua)) os = 'mac';
  else if (/Linux|X11/.test(ua)) os = 'linux';
  const chromeMatch = /(?:Chrome|Chromium|HeadlessChrome)\/(\d+)/.exec(ua);
  const chromium = chromeMatch !== null && os !== 'ios';
  return {
    os,
    mobile: os === 'ios' || os === 'android' || /Mobile|Mobi\b/.test(ua),
    chromium,
    chromiumMajor: chromium && chromeMatch ? Number(chromeMatch[1]) : -1,
    webView: /; wv\)/.test(ua),
  };
}

/** The operating system `navigator.platform` names, in the same terms. */
export function platformOs(platform: string): ClaimedOs | 'unknown' {
  if (/^Win/i.test(platform)) return 'windows';
  if (/^Mac/i.test(platform)) return 'mac';
  if (/iPhone|iPad|iPod/i.test(platform)) return 'ios';
  if (/CrOS/i.test(platform)) return 'chromeos';
  if (/Android/i.test(platform)) return 'android';
  if (/Linux/i.test(platform)) return 'linux';
  return 'unknown';
}

const HINT_OS: Record<string, ClaimedOs> = {
  windows: 'windows',
  macos: 'mac',
  ios: 'ios',
  android: 'android',
  'chrome os': 'chromeos',
  chromeos: 'chromeos',
  linux: 'linux',
};

/** The operating system User-Agent Client Hints name (`navigator.userAgentData.platform`). */
export const hintsOs = (platform: string): ClaimedOs | 'unknown' => HINT_OS[platform.toLowerCase()] ?? 'unknown';

/**
 * Whether two OS claims can describe the same device. Android reports a Linux
 * `navigator.platform`, and ChromeOS a Linux one on some boards.
 */
export function sameOs(a: ClaimedOs | 'unknown', b: ClaimedOs | 'unknown'): boolean {
  if (a === 'unknown' || b === 'unknown' || a === 'other' || b === 'other' || a === b) return true;
  const linuxish = (os: ClaimedOs) => os === 'linux' || os === 'android' || os === 'chromeos';
  return linuxish(a) && linuxish(b);
}

/**
 * A desktop by every account: the UA claims a desktop OS and neither Client
 * Hints nor an ARM Linux platform give away an Android tablet, which Chrome
 * puts in desktop mode by default (an "X11; Linux x86_64" UA with touch).
 */
export function isDesktop(claims: UaClaims, platform: string, hintsPlatform: string | undefined): boolean {
  if (claims.mobile || claims.os === 'other') return false;
  if (hintsPlatform !== undefined && hintsOs(hintsPlatform) === 'android') return false;
  return !(claims.os === 'linux' && /arm|aarch64/i.test(platform));
}

/** Keeps a string within the server's bound for it. */
export const clip = (text: string, max: number): string => (text.length > max ? text.slice(0, max) : text);
