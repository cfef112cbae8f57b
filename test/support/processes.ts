/**
 * Real processes for the tests that run the built server
 * (`dist/server/main.js`; `dist/demo/main.js`, what `npm start` runs, is the
 * same server with the demo composed in): list durability across kill -9,
 * distributed mode, the entry points. Each test file keeps one `Processes`, whose `cleanup()` in afterAll
 * kills whatever is still running and removes its temporary directories.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './build.js';

export const SERVER_MAIN = join(ROOT, 'dist', 'server', 'main.js');
/** `npm start`: the server with the demo shop. */
export const DEMO_MAIN = join(ROOT, 'dist', 'demo', 'main.js');
export const SERVER_CLI = join(ROOT, 'dist', 'server', 'cli.js');

export interface Proc {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface ServerProc extends Proc {
  name: string;
  /** http://127.0.0.1:port */
  base: string;
}

/** A port free a moment ago; whoever listens on it must cope with losing a race for it. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A clean environment: nothing RiskGate reads leaks in from the one running the tests. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'TEMP', 'TMP', 'SYSTEMROOT', 'LANG']) {
    if (process.env[name] !== undefined) env[name] = process.env[name];
  }
  return { ...env, ...extra };
}

/** Signals `proc` (SIGKILL unless told) and waits for it to exit; a process already gone is left alone. */
export async function stop(proc: Proc, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill(signal);
  await proc.exited;
}

/** Ends a process started with `detached: true` and everything it started: SIGTERM to its group, SIGKILL after 10 s. */
export async function endGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    process.kill(-child.pid!, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }, 10_000);
  await exited;
  clearTimeout(timer);
}

/**
 * Runs `node --import tsx <script> ...args` in the project root until it has
 * printed its first line, then kills it with SIGKILL (no grace period, no
 * clean shutdown). Answers the line and the signal the child died of; a
 * child that exits before printing fails with its stderr.
 */
export async function firstLineThenKill9(script: string, args: readonly string[]): Promise<{ line: string; signal: NodeJS.Signals | null }> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
    child.on('exit', (code) => reject(new Error(`child exited (${code}) before printing: ${stderr}`)));
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  child.kill('SIGKILL');
  return { line, signal: await exited };
}

/** Keeps the last `limit` characters: a server logging one warning per request during an outage must not grow without bound. */
const tail = (text: string, limit = 200_000) => (text.length > limit ? text.slice(-limit) : text);

export class Processes {
  readonly #children = new Set<ChildProcess>();
  readonly #dirs: string[] = [];

  /** A new directory under the system's temporary one, removed by cleanup(). */
  tempDir(prefix: string): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.#dirs.push(dir);
    return dir;
  }

  /** Spawns `command` in the project root, collecting its output; cleanup() kills it if it still runs. */
  track(command: string, args: readonly string[], env?: NodeJS.ProcessEnv): Proc {
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env } : {}) });
    this.#children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout = tail(stdout + chunk)));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr = tail(stderr + chunk)));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('exit', (code, signal) => {
        this.#children.delete(child);
        resolve({ code, signal });
      });
    });
    return { child, stdout: () => stdout, stderr: () => stderr, exited };
  }

  /** Runs the built server (or `main`, e.g. DEMO_MAIN) with a clean environment plus `env`, without waiting for anything. */
  spawnServer(env: Record<string, string>, main = SERVER_MAIN): Proc {
    return this.track(process.execPath, [main], cleanEnv(env));
  }

  /**
   * Starts the built server on a free port of 127.0.0.1 (log level warn unless
   * `env` says otherwise) and waits for its "RiskGate listening on …" line.
   */
  async startServer(name: string, env: Record<string, string>, timeoutMs = 30_000, main = SERVER_MAIN): Promise<ServerProc> {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const proc = this.spawnServer({ RISKGATE_LOG_LEVEL: 'warn', ...env, HOST: '127.0.0.1', PORT: String(port) }, main);
      const outcome = await new Promise<{ base: string } | { exit: string }>((resolve) => {
        const timer = setTimeout(() => resolve({ exit: `no listening line after ${timeoutMs} ms` }), timeoutMs);
        const onData = () => {
          const match = /RiskGate listening on (http:\/\/\S+)/.exec(proc.stdout());
          if (match) {
            clearTimeout(timer);
            proc.child.stdout!.off('data', onData);
            resolve({ base: match[1]! });
          }
        };
        proc.child.stdout!.on('data', onData);
        void proc.exited.then(({ code, signal }) => {
          clearTimeout(timer);
          resolve({ exit: `exited (code ${code}, signal ${signal}) before listening` });
        });
      });
      if ('base' in outcome) {
        if (outcome.base !== `http://127.0.0.1:${port}`) {
          await stop(proc);
          throw new Error(`server ${name} listens on ${outcome.base}, not on port ${port}`);
        }
        return { ...proc, name, base: outcome.base };
      }
      await stop(proc);
      // Another process may have taken the port between probe and listen: try again.
      if (/EADDRINUSE/.test(proc.stderr()) && attempt < 3) continue;
      throw new Error(`server ${name} did not start: ${outcome.exit}\nstdout:\n${proc.stdout()}\nstderr:\n${proc.stderr()}`);
    }
  }

  /** Kills every process still running and removes the temporary directories. */
  async cleanup(): Promise<void> {
    const running = [...this.#children];
    for (const child of running) child.kill('SIGKILL');
    await Promise.all(
      running.map((child) => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(null) : child.once('exit', resolve)))),
    );
    for (const dir of this.#dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}
