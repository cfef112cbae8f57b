/**
 * Claims that outlive the process (memory mode). A token, a used challenge
 * session or an enrollment solution claimed before a crash or a restart must
 * stay claimed after it, or `kill -9` turns every captured token into a fresh
 * one. `MemoryHotState` writes each new claim here before answering, and
 * reloads the live ones at start. Redis mode needs none of this: Redis keeps
 * the claims.
 *
 * The journal is a folder of append-only segment files, one line per claim,
 * a new segment each minute. A segment is deleted once every claim in it has
 * expired, so nothing is ever rewritten and a claim costs one `write` (about
 * 2 µs, where a SQLite commit costs 30). A written line is in the operating
 * system's hands: it survives the process being killed, though not a power
 * loss (no fsync per claim). A line torn by a crash is skipped at start.
 */
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface Claim {
  scope: string;
  key: string;
  /** Epoch milliseconds after which the claim no longer holds. */
  expiresAt: number;
}

export interface ClaimJournal {
  /** The claims still live at `now`, oldest expiry first. */
  live(now: number): Claim[];
  /** Writes one claim made at `now`; when this returns, a crash of the process cannot lose it. Throws if it cannot be written. */
  record(claim: Claim, now: number): void;
  close(): void;
}

const SEGMENT = /^claims-(\d+)\.log$/;

interface Segment {
  file: string;
  /** The latest expiry written to it: the segment can go once that has passed. */
  lastExpiry: number;
}

export class FileClaimJournal implements ClaimJournal {
  readonly #dir: string;
  readonly #segmentMs: number;
  /** Older segments that still hold live claims. */
  #segments: Segment[] = [];
  #current: (Segment & { fd: number; until: number }) | undefined;

  /** `segmentMs`: how long one segment file takes new claims. */
  constructor(dir: string, options: { segmentMs?: number } = {}) {
    this.#dir = dir;
    this.#segmentMs = options.segmentMs ?? 60_000;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  live(now: number): Claim[] {
    const claims: Claim[] = [];
    for (const name of readdirSync(this.#dir).filter((n) => SEGMENT.test(n)).sort()) {
      const file = join(this.#dir, name);
      let lastExpiry = 0;
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        const claim = parseLine(line);
        if (!claim) continue;
        lastExpiry = Math.max(lastExpiry, claim.expiresAt);
        if (claim.expiresAt > now) claims.push(claim);
      }
      if (lastExpiry > now) this.#segments.push({ file, lastExpiry });
      else removeFile(file);
    }
    return claims.sort((a, b) => a.expiresAt - b.expiresAt);
  }

  record(claim: Claim, now: number): void {
    const segment = this.#segmentFor(now);
    // JSON, so no key can break the line format.
    const line = Buffer.from(`${JSON.stringify([claim.expiresAt, claim.scope, claim.key])}\n`);
    let written = 0;
    while (written < line.length) written += writeSync(segment.fd, line, written);
    segment.lastExpiry = Math.max(segment.lastExpiry, claim.expiresAt);
  }

  close(): void {
    if (this.#current) closeSync(this.#current.fd);
    this.#current = undefined;
  }

  /** The segment taking claims now: a new one each `segmentMs`, when the expired ones are deleted. */
  #segmentFor(now: number): Segment & { fd: number } {
    if (this.#current && now < this.#current.until) return this.#current;
    if (this.#current) {
      closeSync(this.#current.fd);
      this.#segments.push({ file: this.#current.file, lastExpiry: this.#current.lastExpiry });
      this.#current = undefined;
    }
    this.#segments = this.#segments.filter((segment) => {
      if (segment.lastExpiry > now) return true;
      removeFile(segment.file);
      return false;
    });
    // Zero-padded so that names sort in time order.
    const file = join(this.#dir, `claims-${String(now).padStart(15, '0')}.log`);
    const fd = openSync(file, 'a', 0o600);
    // Should the name exist already, with a line torn by a crash at its end, the next line starts afresh.
    writeSync(fd, '\n');
    this.#current = { file, fd, lastExpiry: 0, until: now + this.#segmentMs };
    return this.#current;
  }
}

function removeFile(file: string): void {
  try {
    unlinkSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

function parseLine(line: string): Claim | undefined {
  if (!line) return undefined;
  try {
    const parsed: unknown = JSON.parse(line);
    if (!Array.isArray(parsed) || parsed.length !== 3) return undefined;
    const [expiresAt, scope, key] = parsed as unknown[];
    if (typeof expiresAt !== 'number' || typeof scope !== 'string' || typeof key !== 'string') return undefined;
    return { scope, key, expiresAt };
  } catch {
    // A line torn by a crash mid-write.
    return undefined;
  }
}
