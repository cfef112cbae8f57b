/**
 * The challenge UI's words, in English and Simplified Chinese: the web dialog's
 * and the mini-program components'. Each platform names the language.
 */

export interface Texts {
  close: string;
  brand: string;
  loading: string;
  sliderTitle: string;
  sliderDesc: string;
  sliderHint: string;
  knobLabel: string;
  knobValue: (x: number, max: number) => string;
  checking: string;
  passed: string;
  retry: (attemptsLeft: number) => string;
  failed: string;
  expired: string;
  unavailable: string;
  smsTitle: string;
  smsDesc: string;
  sending: (masked: string) => string;
  sent: (masked: string) => string;
  codeLabel: string;
  verify: string;
  resend: string;
  resendIn: (seconds: number) => string;
  wait: string;
  sendFailed: string;
  offline: string;
  needCode: string;
  wrongCode: (attemptsLeft: number) => string;
  codeExpired: string;
  codeNotSent: string;
}

const en: Texts = {
  close: 'Close',
  brand: 'Protected by RiskGate',
  loading: 'Loading…',
  sliderTitle: 'Security check',
  sliderDesc: 'Drag the slider to fit the piece into the puzzle.',
  sliderHint: 'Drag to complete the puzzle',
  knobLabel: 'Puzzle piece position',
  knobValue: (x, max) => `${x} of ${max} pixels`,
  checking: 'Checking…',
  passed: 'Verified',
  retry: (n) => `Not quite. Try again (${n} ${n === 1 ? 'attempt' : 'attempts'} left).`,
  failed: 'Too many attempts. Please try again later.',
  expired: 'This check has expired. Please start again.',
  unavailable: 'The verification service cannot be reached. Please try again.',
  smsTitle: 'Verify your phone',
  smsDesc: 'We text a 6-digit code to your phone. Enter it below.',
  sending: (m) => `Sending a code to ${m}…`,
  sent: (m) => `Code sent to ${m}.`,
  codeLabel: 'Verification code',
  verify: 'Verify',
  resend: 'Resend code',
  resendIn: (s) => `Resend in ${s} s`,
  wait: 'Please wait a moment before asking for another code.',
  sendFailed: 'The code could not be sent. Please try again.',
  offline: 'Cannot reach the server. Check your connection and try again.',
  needCode: 'Enter the 6-digit code.',
  wrongCode: (n) => `That code is not right: ${n} ${n === 1 ? 'attempt' : 'attempts'} left.`,
  codeExpired: 'This code has expired. Send a new one.',
  codeNotSent: 'Send a code first.',
};

const zh: Texts = {
  close: '关闭',
  brand: '由 RiskGate 提供安全保护',
  loading: '加载中…',
  sliderTitle: '安全验证',
  sliderDesc: '拖动下方滑块,将拼图块移入缺口。',
  sliderHint: '向右拖动滑块完成拼图',
  knobLabel: '拼图块位置',
  knobValue: (x, max) => `${x} / ${max} 像素`,
  checking: '验证中…',
  passed: '验证通过',
  retry: (n) => `验证未通过,请重试(还剩 ${n} 次)。`,
  failed: '失败次数过多,请稍后再试。',
  expired: '验证已过期,请重新开始。',
  unavailable: '无法连接验证服务,请稍后再试。',
  smsTitle: '验证手机号',
  smsDesc: '我们将向您的手机发送 6 位验证码,请在下方输入。',
  sending: (m) => `正在向 ${m} 发送验证码…`,
  sent: (m) => `验证码已发送至 ${m}。`,
  codeLabel: '验证码',
  verify: '验证',
  resend: '重新发送',
  resendIn: (s) => `${s} 秒后可重新发送`,
  wait: '请稍候再获取验证码。',
  sendFailed: '验证码发送失败,请重试。',
  offline: '网络连接失败,请检查网络后重试。',
  needCode: '请输入 6 位验证码。',
  wrongCode: (n) => `验证码错误,还可尝试 ${n} 次。`,
  codeExpired: '验证码已过期,请重新获取。',
  codeNotSent: '请先获取验证码。',
};

/** Chinese for a `zh` language tag (`zh-CN`, `zh_TW`…), else English. */
export function textsFor(language: string): Texts {
  return language.toLowerCase().startsWith('zh') ? zh : en;
}
