/**
 * Keeps the current RuleSet for a rules file and replaces it when the file
 * changes. A bad new version is logged and ignored; the old one stays in force.
 * Evaluations hold the RuleSet they started with, so a swap never disturbs them.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { compileRuleSet } from '../../engine/rules/compile.js';
import { RulesFileError } from '../../engine/rules/loader.js';
import type { RuleSet } from '../../engine/rules/ruleset.js';

/** The part of a pino logger the RuleBook uses. */
export interface RuleBookLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export type ReloadResult = { ok: true; version: string } | { ok: false; error: Error };

const DEBOUNCE_MS = 100;

async function loadRuleSet(path: string): Promise<RuleSet> {
  return compileRuleSet(await readFile(path, 'utf8'), basename(path));
}

export class RuleBook {
  #current: RuleSet;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Reloads run one after another, so an older read never replaces a newer one. */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly path: string,
    private readonly logger: RuleBookLogger,
    initial: RuleSet,
  ) {
    this.#current = initial;
  }

  /** Loads the file (throwing RulesFileError if it is invalid) and starts watching it. */
  static async open(path: string, logger: RuleBookLogger): Promise<RuleBook> {
    const book = new RuleBook(path, logger, await loadRuleSet(path));
    book.#watch();
    logger.info({ path, version: book.#current.version }, 'rules loaded');
    return book;
  }

  current(): RuleSet {
    return this.#current;
  }

  reload(): Promise<ReloadResult> {
    const next = this.#queue.then(() => this.#reload());
    this.#queue = next;
    return next;
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#watcher?.close();
    this.#watcher = undefined;
  }

  async #reload(): Promise<ReloadResult> {
    const previous = this.#current.version;
    let next: RuleSet;
    try {
      next = await loadRuleSet(this.path);
    } catch (e) {
      const error = e instanceof Error ? e : new Error(String(e));
      const issues = error instanceof RulesFileError ? error.issues : undefined;
      this.logger.error(
        { path: this.path, version: previous, err: error.message, ...(issues ? { issues } : {}) },
        'rules file not reloaded; the previous version stays in force',
      );
      return { ok: false, error };
    }
    if (next.version !== previous) {
      this.#current = next;
      this.logger.info({ path: this.path, version: next.version, previous }, 'rules reloaded');
    }
    return { ok: true, version: next.version };
  }

  #watch(): void {
    const name = basename(this.path);
    try {
      // The directory, not the file: editors and deploy tools replace the file
      // by rename, which would leave a watch on the old inode deaf.
      this.#watcher = watch(dirname(this.path), { persistent: false }, (_event, file) => {
        // Kubernetes ConfigMap volumes swap a `..data` symlink instead of the file.
        if (file !== null && file !== name && !file.startsWith('..')) return;
        clearTimeout(this.#timer);
        this.#timer = setTimeout(() => void this.reload(), DEBOUNCE_MS);
        this.#timer.unref();
      });
      this.#watcher.on('error', (err) => this.logger.warn({ path: this.path, err: err.message }, 'rules file watch failed'));
    } catch (e) {
      this.logger.warn(
        { path: this.path, err: e instanceof Error ? e.message : String(e) },
        'cannot watch the rules file; reload it with SIGHUP',
      );
    }
  }
}
