/**
 * `npm start`: RiskGate with the demo shop, in one process. The demo composes
 * the server through its public API (server/index.ts) — the server knows
 * nothing of the demo — and mounts the shop's page and backend at /demo/ when
 * the data directory's generated app is in use (the configuration lists no
 * app).
 *
 * DEMO ONLY: with the development `log` SMS provider (the default, which
 * sends nothing), the demo keeps the provider it hands to the server and its
 * page shows the codes "sent". With any other provider it shows none.
 */
import { buildApp, failStartup, loadConfig, LogSmsProvider, serve, smsProviderFor } from '../server/index.js';
import { demoBackend } from './backend.js';
import { DEMO_WEB_DIR } from './paths.js';

async function main(): Promise<void> {
  const config = loadConfig();
  let smsCodes: LogSmsProvider | undefined;
  const app = await buildApp({
    config,
    smsProvider: (logger) => {
      const provider = smsProviderFor(config.challenges, logger);
      if (provider instanceof LogSmsProvider) smsCodes = provider;
      return provider;
    },
  });
  const shop = app.riskgate.dataDirectory.demoApp;
  let address = '';
  if (shop) {
    await app.register(demoBackend, { appKey: shop.key, appSecret: shop.secret, riskGateUrl: () => address, webDir: DEMO_WEB_DIR, ...(smsCodes ? { smsCodes } : {}) });
  }
  address = await serve(app, config, { bannerLines: (at) => (shop ? [`  demo page: ${at}/demo/`] : []) });
}

main().catch(failStartup);
