/**
 * Builds a RiskGate app in a fresh temporary data directory, for inject tests.
 * The stores are opened here from the configuration, as buildApp would open
 * them, and handed to it, so a test can read them (`t.records`) or wrap them
 * (`records: (opened) => overriding(opened, {...})`) instead of reaching into
 * the app.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InjectOptions } from 'fastify';
import type { ErrorBody } from '../../shared/schemas.js';
import type { HotState } from '../../server/adapters/hot-state/hot-state.js';
import type { Records } from '../../server/adapters/records/records.js';
import { buildApp, type BuildAppOptions, type RiskGateApp } from '../../server/app.js';
import { loadConfig, type RiskGateConfig } from '../../server/config/config.js';
import { openStores } from '../../server/stores.js';

export const APP_KEY = 'pk_test_shop_0001';
export const APP_SECRET = 'sk_test_secret_0123456789abcdef';
export const OTHER_APP_KEY = 'pk_test_other_0002';
export const OTHER_APP_SECRET = 'sk_test_other_secret_0123456789';

export interface TestApp {
  app: RiskGateApp;
  config: RiskGateConfig;
  dataDir: string;
  /** The stores the app runs on (closed with it). */
  records: Records;
  hotState: HotState;
  auth: { authorization: string };
  close(): Promise<void>;
}

export interface TestAppOptions extends Partial<Omit<BuildAppOptions, 'records'>> {
  /** The records to run on, or a function of those the configuration opens (to wrap them). */
  records?: Records | ((opened: Records) => Records);
}

export async function testApp(raw: Record<string, unknown> = {}, options: TestAppOptions = {}): Promise<TestApp> {
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
  const { records: given, ...buildOptions } = options;
  let app: RiskGateApp;
  let records: Records;
  let hotState: HotState;
  try {
    const opened = options.hotState && given && typeof given !== 'function' ? undefined : await openStores(config);
    if (opened && options.hotState) await opened.hotState.close();
    if (opened && given && typeof given !== 'function') await opened.records.close();
    hotState = options.hotState ?? opened!.hotState;
    records = typeof given === 'function' ? given(opened!.records) : (given ?? opened!.records);
    const database = options.database ?? opened?.database;
    app = await buildApp({ config, logger: false, ...buildOptions, hotState, records, ...(database ? { database } : {}) });
  } catch (error) {
    // Tests of refused start-ups (bad secrets, no key-encryption key) leave no directory behind.
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    app,
    config,
    dataDir,
    records,
    hotState,
    auth: { authorization: `Bearer ${APP_SECRET}` },
    async close() {
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * `target` with some members replaced, the others its own (bound to it, so
 * private fields still work): what a test injects to make one store call fail.
 */
export function overriding<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get(object, property) {
      if (Object.hasOwn(overrides, property)) return overrides[property as keyof T];
      const value: unknown = Reflect.get(object, property, object);
      return typeof value === 'function' ? value.bind(object) : value;
    },
  });
}

/** `inject`, its answer read as JSON: a `T`, or the fields of an error answer. */
export async function injectJson<T>(t: TestApp, options: InjectOptions) {
  const response = await t.app.inject(options);
  return { status: response.statusCode, headers: response.headers, body: response.json() as T & Partial<ErrorBody> };
}
