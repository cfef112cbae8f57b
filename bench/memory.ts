/**
 * Heap per tracked identifier in memory mode (issue 13, item 8: ≤ 1 KB).
 *
 * An attacker spraying identifiers makes the hot state remember each one, so
 * this measures what one more costs: the real app (in process, memory hot
 * state, SQLite records, default rules), evaluations in which every
 * identifier is new — ip, account, mobile, email and a new device's token —
 * and the heap after a full GC, before and after. Both phases run the same
 * code on the same kinds of entries, so what grows is what the identifiers
 * keep. Run with `node --expose-gc dist/bench/memory.js` (`npm run bench` does).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerTokenKey } from '../shared/jwk.js';
import { buildApp } from '../server/app.js';
import { loadConfig } from '../server/config/config.js';
import { fixed, int, passFail, table } from './report.js';
import { TokenFactory } from './token-factory.js';

const APP_KEY = 'pk_bench_memory_01';
const APP_SECRET = 'sk_bench_memory_secret_0123456789';
const WARM_UP = 2_000;
const MEASURED = Number(process.env.BENCH_MEMORY_EVALUATIONS ?? 20_000);
/** Identifiers each evaluation brings: ip, account, mobile, email, device. */
const IDENTIFIERS = 5;
const TARGET_BYTES = 1024;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

async function heapAfterGc(): Promise<number> {
  // Let the decision queue flush and timers settle, then collect twice (weak references clear in the second).
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'riskgate-bench-memory-'));
  const config = loadConfig({
    env: {},
    raw: { data_dir: dataDir, log_level: 'silent', apps: [{ id: 'bench', name: 'Bench', key: APP_KEY, secret: APP_SECRET }] },
  });
  const app = await buildApp({ config, logger: false });
  const factory = new TokenFactory('node', 1);
  try {
    const keys = await app.inject({ method: 'GET', url: '/v1/keys' });
    const [serverKey] = (keys.json() as { keys: ServerTokenKey[] }).keys;
    const total = WARM_UP + MEASURED;
    const tokens = await factory.make(serverKey!, APP_KEY, Array.from({ length: total }, (_, i) => ({ device: -1, profile: i })));
    await factory.close();

    const run = async (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const response = await app.inject({
          method: 'POST',
          url: '/v1/risk/evaluate',
          headers: { authorization: `Bearer ${APP_SECRET}` },
          payload: {
            event: 'register',
            ip: `100.${64 + ((i >> 16) & 63)}.${(i >> 8) & 255}.${i & 255}`,
            account_id: `bench-account-${i}`,
            mobile: `+86139${String(10_000_000 + i).padStart(8, '0')}`,
            email: `bench${i}@example.com`,
            black_box: tokens[i],
          },
        });
        if (response.statusCode !== 200) throw new Error(`evaluate answered ${response.statusCode}: ${response.body}`);
        tokens[i] = '';
      }
    };
    await run(0, WARM_UP);
    const before = await heapAfterGc();
    await run(WARM_UP, total);
    const after = await heapAfterGc();
    const perEvaluation = (after - before) / MEASURED;
    const perIdentifier = perEvaluation / IDENTIFIERS;
    console.log('\nMemory per tracked identifier (memory mode, in process, every identifier new)');
    console.log(
      table(
        ['evaluations', 'heap growth', 'per evaluation', 'per identifier', 'target', ''],
        [[int(MEASURED), `${fixed((after - before) / 1024 / 1024)} MiB`, `${int(perEvaluation)} B`, `${int(perIdentifier)} B`, `≤ ${int(TARGET_BYTES)} B`, passFail(perIdentifier <= TARGET_BYTES)]],
        ['r', 'r', 'r', 'r', 'r', 'l'],
      ),
    );
  } finally {
    await factory.close();
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
