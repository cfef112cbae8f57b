/** The plain environment: user agent, platform, languages, time zone and screen. */
import { defineSource } from '../../core/sources/source.js';
import { clip } from '../util/platform.js';
import type { WebSourceContext } from './context.js';

export interface Environment {
  user_agent: string;
  platform: string;
  languages: string[];
  timezone: string;
  screen: { width: number; height: number; dpr: number; touch_points: number };
}

export const environmentSource = defineSource<Environment, WebSourceContext>({
  budgetMs: 50,
  stable: false,
  collect({ window: win }) {
    const nav = win.navigator;
    const languages = nav.languages && nav.languages.length > 0 ? Array.from(nav.languages) : nav.language ? [nav.language] : [];
    let timezone = '';
    try {
      timezone = win.Intl.DateTimeFormat().resolvedOptions().timeZone ?? '';
    } catch {
      // Old engines without time zone support: left empty.
    }
    return {
      user_agent: clip(nav.userAgent ?? '', 512),
      platform: clip(nav.platform ?? '', 512),
      languages: languages.slice(0, 32).map((l) => clip(String(l), 64)),
      timezone: clip(timezone, 512),
      screen: {
        width: win.screen.width,
        height: win.screen.height,
        dpr: win.devicePixelRatio,
        touch_points: nav.maxTouchPoints ?? 0,
      },
    };
  },
});
