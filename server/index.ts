/**
 * RiskGate's public composition API: what code that runs the server inside
 * its own process uses (the demo, demo/main.ts; an embedding app; a re-scoring
 * job). Everything else in server/ is internal and may move.
 *
 * @example
 *   import { buildApp, failStartup, loadConfig, serve } from '../server/index.js'; // as demo/main.ts does
 *   const config = loadConfig();
 *   const app = await buildApp({ config });
 *   await app.register(myRoutes);          // before listening
 *   await serve(app, config).catch(failStartup);
 */
export { buildApp, DEFAULT_RULES_FILE, type BuildAppOptions, type RiskGateApp, type RiskGateHandle } from './app.js';
export { ConfigError, loadConfig, type AppSettings, type RiskGateConfig } from './config/config.js';
export type { DataDirectory, DemoApp } from './config/data-dir.js';
export { failStartup, serve, type ServeOptions } from './serve.js';
export { PROJECT_ROOT } from './paths.js';
export { scoreEvent, type EventScore } from './engine/evaluation/score.js';
export { smsProviderFor } from './adapters/sms/from-config.js';
export { LogSmsProvider, type SmsLogger } from './adapters/sms/log.js';
export { SmsSendError, type SmsMessage, type SmsProvider } from './adapters/sms/provider.js';
