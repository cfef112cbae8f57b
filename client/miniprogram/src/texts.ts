/**
 * The components' words (client/core/challenge/texts.ts, as in the web
 * dialog), in Simplified Chinese or English by WeChat's language setting.
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
  return textsFor(lang ?? '');
}
