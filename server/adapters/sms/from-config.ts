import type { ChallengeSettings } from '../../config/config.js';
import { LogSmsProvider, type SmsLogger } from './log.js';
import type { SmsProvider } from './provider.js';
import { WebhookSmsProvider } from './webhook.js';

/** The SMS provider the configuration names. */
export function smsProviderFor(settings: ChallengeSettings, logger: SmsLogger): SmsProvider {
  const { webhook } = settings.sms;
  if (settings.sms.provider === 'webhook' && webhook) {
    return new WebhookSmsProvider({
      url: webhook.url,
      secret: webhook.secret,
      allowInsecureHttp: webhook.allow_insecure_http,
      allowedNetworks: webhook.allowed_networks,
      timeoutMs: webhook.timeout_ms,
      ...(webhook.connect_timeout_ms === undefined ? {} : { connectTimeoutMs: webhook.connect_timeout_ms }),
    });
  }
  return new LogSmsProvider(logger);
}
