/**
 * `node dist/server/main.js`: the RiskGate server alone (API, SDK files,
 * docs). Creates the data directory, keys and, when the configuration lists
 * no app, an app to try it with on first start, then listens on HOST:PORT.
 * `npm start` runs the demo instead (demo/main.ts), which is this server with
 * the demo shop mounted.
 */
import { buildApp } from './app.js';
import { loadConfig } from './config/config.js';
import { failStartup, serve } from './serve.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const app = await buildApp({ config });
  await serve(app, config);
}

main().catch(failStartup);
