/**
 * A real PostgreSQL for tests: the first reachable of RISKGATE_TEST_DATABASE_URL,
 * else postgres://postgres@127.0.0.1:5432/test or postgres://root@…/test, and
 * fresh schemas per test, dropped afterwards. Unreachable: the caller's suites
 * are skipped with a message, except under CI where that is a failure.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const PG_CANDIDATES: readonly string[] = process.env.RISKGATE_TEST_DATABASE_URL
  ? [process.env.RISKGATE_TEST_DATABASE_URL]
  : ['postgres://postgres@127.0.0.1:5432/test', 'postgres://root@127.0.0.1:5432/test'];

/** The first URL that answers `SELECT 1`, or why none did. */
export async function firstPostgres(urls: readonly string[] = PG_CANDIDATES): Promise<{ url?: string; error?: string }> {
  let error = 'no URL to try';
  for (const url of urls) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('SELECT 1');
      return { url };
    } catch (e) {
      error = (e as Error).message;
    } finally {
      await client.end().catch(() => {});
    }
  }
  return { error };
}

/** The URL to test against, or undefined (after a warning naming `suites`) when none answers. */
export async function testPostgresUrl(suites: string): Promise<string | undefined> {
  const probe = await firstPostgres();
  if (probe.url !== undefined) return probe.url;
  const message = postgresUnreachable(probe.error);
  if (process.env.CI) throw new Error(`${message}; CI is set, so this fails instead of skipping ${suites}`);
  console.warn(`skipping ${suites}: ${message}`);
  return undefined;
}

/** The message that skips (or, under CI, fails) the suites when no candidate answers. */
export function postgresUnreachable(error: string | undefined): string {
  return `PostgreSQL is unreachable at ${PG_CANDIDATES.join(' or ')} (${error}); set RISKGATE_TEST_DATABASE_URL to point elsewhere`;
}

/** Schemas `<prefix>_<pid>_<random>_<n>` of one test file; `dropAll()` in afterAll removes every one. */
export class TestSchemas {
  readonly #run: string;
  #count = 0;
  #admin: pg.Pool | undefined;

  readonly #poolSize: number;

  constructor(
    readonly url: string,
    prefix: string,
    options: { poolSize?: number } = {},
  ) {
    this.#run = `${prefix}_${process.pid}_${randomBytes(3).toString('hex')}`;
    this.#poolSize = options.poolSize ?? 2;
  }

  next(): string {
    return `${this.#run}_${this.#count++}`;
  }

  /** A pool outside RiskGate's, for reading and writing rows as an outsider (or an older version) would. */
  admin(): pg.Pool {
    if (!this.#admin) {
      this.#admin = new pg.Pool({ connectionString: this.url, max: this.#poolSize });
      this.#admin.on('error', () => {});
    }
    return this.#admin;
  }

  async drop(schema: string): Promise<void> {
    await this.admin().query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  }

  async dropAll(): Promise<void> {
    if (!this.#admin) return;
    const { rows } = await this.#admin.query<{ nspname: string }>('SELECT nspname FROM pg_namespace WHERE nspname LIKE $1', [`${this.#run}%`]);
    for (const { nspname } of rows) await this.drop(nspname);
    await this.#admin.end();
    this.#admin = undefined;
  }
}
