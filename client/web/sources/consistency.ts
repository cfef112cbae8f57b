/**
 * Whether the device's claims agree: the user agent's OS and form factor vs
 * `navigator.platform`, User-Agent Client Hints (low entropy, plus
 * `getHighEntropyValues` when it answers quickly), touch support and screen.
 * Each entry names a failed check. Real devices pass all of them; spoofed user
 * agents and device emulation on a desktop usually fail one.
 */
import { defineSource } from '../../core/sources/source.js';
import { hintsOs, isDesktop, parseUserAgent, platformOs, sameOs } from '../util/platform.js';
import type { WebSourceContext } from './context.js';

const HIGH_ENTROPY_BUDGET_MS = 60;

interface UaData {
  platform?: string;
  mobile?: boolean;
  getHighEntropyValues?(hints: string[]): Promise<{ model?: string }>;
}

async function highEntropy(win: Window & typeof globalThis, data: UaData) {
  if (typeof data.getHighEntropyValues !== 'function') return undefined;
  let timer: number | undefined;
  try {
    return await Promise.race([
      data.getHighEntropyValues(['model']),
      new Promise<undefined>((resolve) => {
        timer = win.setTimeout(() => resolve(undefined), HIGH_ENTROPY_BUDGET_MS);
      }),
    ]);
  } catch {
    return undefined;
  } finally {
    if (timer !== undefined) win.clearTimeout(timer);
  }
}

export const consistencySource = defineSource<string[], WebSourceContext>({
  budgetMs: 150,
  stable: true,
  async collect({ window: win }) {
    const nav = win.navigator;
    const ua = nav.userAgent ?? '';
    const claims = parseUserAgent(ua);
    const platform = nav.platform ?? '';
    const touchPoints = nav.maxTouchPoints ?? 0;
    const found: string[] = [];

    if (!sameOs(claims.os, platformOs(platform))) found.push('ua_platform');
    if (claims.os === 'android' && /x86|i[3-6]86/i.test(platform)) found.push('android_x86');

    const data = (nav as { userAgentData?: UaData }).userAgentData;
    const desktop = isDesktop(claims, platform, data?.platform);
    if (data) {
      if (typeof data.platform === 'string' && data.platform && !sameOs(claims.os, hintsOs(data.platform))) found.push('ua_hints_platform');
      // Client Hints' "mobile" is the phone form factor; Android tablets say false and drop "Mobile" from the UA too.
      if (claims.chromium && typeof data.mobile === 'boolean' && data.mobile !== /Mobile/.test(ua)) found.push('ua_hints_mobile');
      // Only phones and tablets name a model. (Architecture is not compared: Chrome's reduced
      // user agent says "x64"/"x86_64" on ARM Windows and Linux machines too.)
      const high = await highEntropy(win, data);
      if (high?.model && desktop) found.push('hints_model_on_desktop');
    }

    if (claims.mobile && touchPoints === 0 && !('ontouchstart' in win)) found.push('mobile_without_touch');
    // Touch on a Mac is an iPad asking for the desktop site, unless the browser is Chrome or Firefox;
    // on "Linux" it is usually an Android tablet in desktop mode, which isDesktop() recognises.
    const macTouch = claims.os === 'mac' && /Chrome\/|Firefox\//.test(ua);
    const linuxTouch = claims.os === 'linux' && desktop;
    if (touchPoints > 0 && (macTouch || linuxTouch)) found.push('desktop_with_touch');

    const { width, height } = win.screen;
    const shortSide = Math.min(width, height);
    if (claims.mobile && claims.os !== 'ios' && shortSide > 1400) found.push('mobile_ua_desktop_screen');
    if (!claims.mobile && claims.os !== 'other' && shortSide > 0 && shortSide < 320) found.push('desktop_ua_phone_screen');

    if (nav.languages && nav.languages.length > 0 && nav.language && nav.languages[0] !== nav.language) found.push('language_list');
    return found;
  },
});
