/**
 * A private X display for headful browser tests: Xvfb on a display number it
 * picks itself (-displayfd: no race with other test runs), and xdotool input on it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

export const XVFB = '/usr/bin/Xvfb';
export const XDOTOOL = '/usr/bin/xdotool';
export const HAS_X11_TOOLS = existsSync(XVFB) && existsSync(XDOTOOL);

const execFileAsync = promisify(execFile);

export interface Display {
  display: string;
  /** The environment of X11 clients on this display (never the tester's own display or a Wayland session). */
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

/** Ends a process started with `detached: true` and everything it started. */
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

export async function startXvfb(width: number, height: number): Promise<Display> {
  const child = spawn(XVFB, ['-displayfd', '1', '-screen', '0', `${width}x${height}x24`, '-nolisten', 'tcp'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  // The display number comes alone on stdout; stderr tells of the displays tried before it.
  let displayNumber = '';
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (displayNumber += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const match = /^(\d+)\n/.exec(displayNumber);
    if (match) {
      const display = `:${match[1]}`;
      const env: NodeJS.ProcessEnv = { ...process.env, DISPLAY: display };
      delete env.WAYLAND_DISPLAY;
      delete env.XAUTHORITY;
      return { display, env, stop: () => endGroup(child) };
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      await endGroup(child);
      throw new Error(`Xvfb did not start:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function xdotool(display: Display, args: string[], timeoutMs = 30_000): Promise<string> {
  const { stdout } = await execFileAsync(XDOTOOL, args, { env: display.env, timeout: timeoutMs });
  return stdout;
}
