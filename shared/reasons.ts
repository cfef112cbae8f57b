/**
 * Reason ids the engine itself produces, with English and Simplified Chinese
 * texts. Every other reason id is the id of a rule in the rules file (for
 * example `token_replayed`), whose texts the rules file carries.
 */
export const REASON_LANGUAGES = ['en', 'zh'] as const;
export type ReasonLanguage = (typeof REASON_LANGUAGES)[number];

export interface ReasonText {
  readonly en: string;
  readonly zh: string;
}

export const ENGINE_REASONS = {
  list_black: { en: 'On the blacklist', zh: '命中黑名单' },
  list_white: { en: 'On the whitelist', zh: '命中白名单' },
  state_unavailable: { en: 'Velocity and history data were unavailable; decided without them', zh: '频次与历史数据暂不可用,已在缺少这些数据的情况下决策' },
  replay_check_unavailable: {
    en: 'The token could not be checked for reuse (the replay table is full); decided without it',
    zh: '令牌防重放校验暂不可用(记录表已满),已在未校验重放的情况下决策',
  },
  lists_unavailable: { en: 'Lists were unavailable; decided without them', zh: '名单数据暂不可用,已在缺少名单的情况下决策' },
  token_unavailable: {
    en: 'The device token could not be checked (the decoder failed); decided without it',
    zh: '设备令牌暂无法校验(解码失败),已在未校验令牌的情况下决策',
  },
  challenge_escalated: { en: 'An SMS check was asked for within the hour and not passed yet', zh: '一小时内已要求短信验证且尚未通过' },
} as const satisfies Record<string, ReasonText>;
export type EngineReasonId = keyof typeof ENGINE_REASONS;
