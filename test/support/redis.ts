/**
 * A real Redis for tests: RISKGATE_TEST_REDIS_URL, else redis://127.0.0.1:6379.
 * Unreachable: the caller's suites are skipped with a message, except under CI
 * where that is a failure. The outage tests start a private redis-server of
 * their own (from PATH) and kill it; never the shared one.
 */
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';

export const REDIS_URL = process.env.RISKGATE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Why `url` does not answer PING, or undefined when it does. */
export async function redisProblem(url: string = REDIS_URL): Promise<string | undefined> {
  const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 1000 });
  let cause: string | undefined;
  probe.on('error', (error: Error) => (cause ??= error.message));
  try {
    await probe.connect();
    await probe.ping();
    return undefined;
  } catch (error) {
    return cause ?? (error as Error).message;
  } finally {
    probe.disconnect();
  }
}

/** The message that skips (or, under CI, fails) `suites` when Redis at REDIS_URL is unreachable. */
export function redisUnreachable(problem: string): string {
  return `Redis at ${REDIS_URL} is unreachable (${problem}); set RISKGATE_TEST_REDIS_URL to point elsewhere`;
}

/** REDIS_URL, or undefined (after a warning naming `suites`) when it does not answer; under CI that throws. */
export async function testRedisUrl(suites: string): Promise<string | undefined> {
  const problem = await redisProblem();
  if (problem === undefined) return REDIS_URL;
  const message = redisUnreachable(problem);
  if (process.env.CI) throw new Error(`${message}; CI is set, so this fails instead of skipping ${suites}`);
  console.warn(`skipping ${suites}: ${message}`);
  return undefined;
}

/** Whether `redis-server` runs from PATH; when not, a warning naming `tests` (under CI, a throw). */
export async function redisServerOnPath(tests: string): Promise<boolean> {
  const found = await new Promise<boolean>((resolve) => {
    const child = spawn('redis-server', ['--version'], { stdio: 'ignore' });
    child.on('error', () => resolve(false));
    child.on('exit', (code) => resolve(code === 0));
  });
  if (!found) {
    if (process.env.CI) throw new Error(`redis-server is not on PATH; CI is set, so this fails instead of skipping ${tests}`);
    console.warn(`redis-server is not on PATH: skipping ${tests}`);
  }
  return found;
}

/** The arguments of a private, throw-away redis-server on `port` of 127.0.0.1 (nothing saved). */
export const privateRedisArgs = (port: number): string[] => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];

/** Waits until `url` answers PING; throws `failure()` after `timeoutMs`. */
export async function untilRedisAnswers(url: string, timeoutMs: number, failure: () => string = () => `${url} did not answer within ${timeoutMs} ms`): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await redisProblem(url)) === undefined) return;
    if (Date.now() > deadline) throw new Error(failure());
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Every key starting with `prefix` (SCAN, never KEYS). */
export async function scanKeys(client: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

/** Deletes every key starting with `prefix`: what a test run leaves in the shared Redis. */
export async function deleteKeys(client: Redis, prefix: string): Promise<void> {
  const keys = await scanKeys(client, prefix);
  for (let i = 0; i < keys.length; i += 500) await client.unlink(...keys.slice(i, i + 500));
}
