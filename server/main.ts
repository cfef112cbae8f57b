/**
 * `npm start`: the embedded RiskGate server. Creates the data directory, keys
 * and a demo app on first start, then listens on HOST:PORT.
 */
import { demoBackend } from '../demo/backend.js';
import { buildApp } from './app.js';
import { smsProviderFor } from './adapters/sms/from-config.js';
import { LogSmsProvider } from './adapters/sms/log.js';
import { ConfigError, loadConfig } from './config/config.js';
import { SealedSecretError } from './adapters/keys/key-encryption.js';
import { DEMO_WEB_DIR } from './paths.js';
import { RulesFileError } from './engine/rules/loader.js';

async function main(): Promise<void> {
  const config = loadConfig();
  // The demo shows the codes of the development `log` SMS provider: keep it when that is the one configured.
  let smsCodes: LogSmsProvider | undefined;
  const app = await buildApp({
    config,
    smsProvider: (logger) => {
      const provider = smsProviderFor(config.challenges, logger);
      if (provider instanceof LogSmsProvider) smsCodes = provider;
      return provider;
    },
  });
  const { dataDirectory } = app.riskgate;
  const demo = dataDirectory.demoApp;
  let address = '';
  if (demo) {
    await app.register(demoBackend, { appKey: demo.key, appSecret: demo.secret, riskGateUrl: () => address, webDir: DEMO_WEB_DIR, ...(smsCodes ? { smsCodes } : {}) });
  }

  const shutdown = (signal: string) => {
    app.log.info({ signal }, 'shutting down');
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
  process.on('SIGHUP', () => {
    void app.riskgate.rules.reload();
    void app.riskgate.keys.reload();
  });

  address = await app.listen({ host: config.host, port: config.port });
  const lines = [
    `RiskGate listening on ${address}`,
    `  data directory: ${dataDirectory.dir}`,
    ...(dataDirectory.created.length > 0 ? [`  created: ${dataDirectory.created.join(', ')}`] : []),
    `  token key: ${app.riskgate.keys.current().primary.kid}   API docs: ${address}/docs`,
    ...(demo
      ? [
          `  demo page: ${address}/demo/`,
          `  demo app "${demo.name}": app key ${demo.key}`,
          `  demo app secret: ${dataDirectory.created.length > 0 ? demo.secret : `(in ${dataDirectory.dir}/demo-app.json)`}`,
        ]
      : []),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof RulesFileError || error instanceof SealedSecretError) {
    process.stderr.write(`riskgate: ${error.message}\n`);
  } else {
    process.stderr.write(`riskgate: failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  }
  process.exit(1);
});
