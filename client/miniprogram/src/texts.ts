/**
 * The components' words: the web challenge dialog's (client/src/challenge/texts.ts),
 * in Simplified Chinese or English by WeChat's language setting.
 */
import { textsFor, type Texts } from '../../core/challenge/texts.js';
import { currentWx } from './wx.js';

export type { Texts };

/** Texts for a WeChat language (`zh_CN`, `zh_TW`, `en`…); by default the client's own. */
export function challengeTexts(language?: string): Texts {
  let lang = language;
  if (lang === undefined) {
    try {
      const wx = currentWx();
      lang = (wx?.getAppBaseInfo ?? wx?.getSystemInfoSync)?.call(wx)?.language;
    } catch {
      // Unknown: English below.
    }
  }
  // textsFor reads a page's <html lang>; a mini-program has none, so hand it one.
  return textsFor({ documentElement: { lang: (lang ?? '').replace('_', '-') } } as unknown as Parameters<typeof textsFor>[0], undefined);
}
