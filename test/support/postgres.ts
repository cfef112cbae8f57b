/**
 * The PostgreSQL the tests use: RISKGATE_TEST_DATABASE_URL, else
 * postgres://postgres@127.0.0.1:5432/test or postgres://root@127.0.0.1:5432/test.
 * Tests that need it skip with a message when it is unreachable, except under
 * CI, where that is a failure.
 */
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
