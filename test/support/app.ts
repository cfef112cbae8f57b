/** Builds a RiskGate app in a fresh temporary data directory, for inject tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, type BuildAppOptions, type RiskGateApp } from '../../server/app.js';
import { loadConfig } from '../../server/config/config.js';

export const APP_KEY = 'pk_test_shop_0001';
export const APP_SECRET = 'sk_test_secret_0123456789abcdef';
export const OTHER_APP_KEY = 'pk_test_other_0002';
export const OTHER_APP_SECRET = 'sk_test_other_secret_0123456789';

export interface TestApp {
  app: RiskGateApp;
  dataDir: string;
  auth: { authorization: string };
  close(): Promise<void>;
}

export async function testApp(raw: Record<string, unknown> = {}, options: Partial<BuildAppOptions> = {}): Promise<TestApp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'riskgate-test-'));
  const config = loadConfig({
    env: {},
    raw: {
      data_dir: dataDir,
      log_level: 'silent',
      apps: [
        { id: 'shop', name: 'Shop', key: APP_KEY, secret: APP_SECRET, origins: ['https://shop.example'] },
        { id: 'other', name: 'Other', key: OTHER_APP_KEY, secret: OTHER_APP_SECRET },
      ],
      ...raw,
    },
  });
  let app: RiskGateApp;
  try {
    app = await buildApp({ config, logger: false, ...options });
  } catch (error) {
    // Tests of refused start-ups (bad secrets, no key-encryption key) leave no directory behind.
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    app,
    dataDir,
    auth: { authorization: `Bearer ${APP_SECRET}` },
    async close() {
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
