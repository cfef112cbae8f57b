/**
 * Runs a built app as a process: listens on HOST:PORT, prints the start
 * banner, shuts down on SIGINT and SIGTERM, and re-reads the rules and token
 * keys on SIGHUP. The plain server (main.ts) and the demo (demo/main.ts) both
 * run this way.
 */
import { SealedSecretError } from './adapters/keys/key-encryption.js';
import type { RiskGateApp } from './app.js';
import { ConfigError, type RiskGateConfig } from './config/config.js';
import { RulesFileError } from './engine/rules/loader.js';

export interface ServeOptions {
  /** Banner lines of the caller's own, given the address listened on (the demo names its page); after the token key line. */
  bannerLines?: (address: string) => string[];
}

/** Listens, installs the signal handlers and prints the banner; resolves to the address listened on. */
export async function serve(app: RiskGateApp, config: RiskGateConfig, options: ServeOptions = {}): Promise<string> {
  const { dataDirectory, rules, keys } = app.riskgate;
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
    void rules.reload();
    void keys.reload();
  });

  const address = await app.listen({ host: config.host, port: config.port });
  const generated = dataDirectory.demoApp;
  const lines = [
    `RiskGate listening on ${address}`,
    `  data directory: ${dataDirectory.dir}`,
    ...(dataDirectory.created.length > 0 ? [`  created: ${dataDirectory.created.join(', ')}`] : []),
    `  token key: ${keys.current().primary.kid}   API docs: ${address}/docs`,
    ...(options.bannerLines?.(address) ?? []),
    // The app the data directory generated when the configuration lists none (its secret is shown once).
    ...(generated
      ? [
          `  demo app "${generated.name}": app key ${generated.key}`,
          `  demo app secret: ${dataDirectory.created.length > 0 ? generated.secret : `(in ${dataDirectory.dir}/demo-app.json)`}`,
        ]
      : []),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return address;
}

/** Says why the process could not start (a bad configuration in one line, anything else with its stack) and exits 1. */
export function failStartup(error: unknown): never {
  if (error instanceof ConfigError || error instanceof RulesFileError || error instanceof SealedSecretError) {
    process.stderr.write(`riskgate: ${error.message}\n`);
  } else {
    process.stderr.write(`riskgate: failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  }
  process.exit(1);
}
