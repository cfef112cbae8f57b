/**
 * Keeps the token key ring in force and replaces it when the keys change,
 * as the rule book (adapters/rules/rule-book.ts) does for the rules file. A
 * read that fails is logged and ignored; the keys in force stay.
 *
 * Where the keys come from decides how a change is seen:
 * - `file` (embedded: the data directory's key file): `riskgate keys rotate`
 *   rewrites the file, and a watch on its directory reloads it;
 * - `shared` (distributed: PostgreSQL): another instance or the CLI rotates
 *   them, so they are polled every 30 s; and a token for a kid this instance
 *   does not know re-reads them first (`rereadForUnknownKid`), since another
 *   instance may already offer SDKs a key this one has not read;
 * - `fixed` (the configuration's `token.keys`): never re-read.
 * SIGHUP (`reload`) re-reads at once.
 *
 * @example
 *   const keys = KeyBook.open(initialKeys, { kind: 'file', file }, { logger, onKeys: (k) => opener.setKeys(k) });
 *   keys.current().primary; // the key SDKs encrypt to
 *   await keys.reload();    // true when the kids or the primary changed
 *   keys.close();
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { TokenKeyRing, type StoredTokenKey } from '../../engine/token/key-ring.js';
import { readKeyFile } from './key-file.js';

/** The part of a pino logger the KeyBook uses. */
export interface KeyBookLogger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export type TokenKeySource =
  | { kind: 'fixed' }
  | { kind: 'file'; file: string }
  | { kind: 'shared'; read: () => Promise<StoredTokenKey[]> };

export interface KeyBookOptions {
  logger: KeyBookLogger;
  /** Called with the keys after every successful read (the token decoders take them). */
  onKeys?: (keys: readonly StoredTokenKey[]) => void;
}

const DEBOUNCE_MS = 100;
const POLL_MS = 30_000;
/** Forged kids must not become database load: at most one unknown-kid re-read a second. */
const UNKNOWN_KID_REREAD_MS = 1000;

export class KeyBook {
  #current: TokenKeyRing;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #poller: NodeJS.Timeout | undefined;
  #unknownKidReread: { at: number; changed: Promise<boolean> } | undefined;
  readonly #read: (() => Promise<StoredTokenKey[]>) | undefined;

  private constructor(
    readonly source: TokenKeySource,
    private readonly options: KeyBookOptions,
    initial: TokenKeyRing,
  ) {
    this.#current = initial;
    this.#read = source.kind === 'file' ? async () => readKeyFile(source.file) : source.kind === 'shared' ? source.read : undefined;
  }

  /** Takes the keys read at start (throwing if they do not make a ring) and starts watching or polling their source. */
  static open(initial: readonly StoredTokenKey[], source: TokenKeySource, options: KeyBookOptions): KeyBook {
    const book = new KeyBook(source, options, new TokenKeyRing(initial));
    if (source.kind === 'file') book.#watch(source.file);
    else if (source.kind === 'shared') {
      book.#poller = setInterval(() => void book.reload(), POLL_MS);
      book.#poller.unref();
    }
    return book;
  }

  current(): TokenKeyRing {
    return this.#current;
  }

  /** Re-reads the keys; true when the set of kids or the primary changed. */
  async reload(): Promise<boolean> {
    if (!this.#read) return false;
    const { logger, onKeys } = this.options;
    try {
      const next = new TokenKeyRing(await this.#read());
      const previous = this.#current;
      const changed =
        next.keys.map((k) => k.kid).join() !== previous.keys.map((k) => k.kid).join() || next.jwks.keys[0]?.kid !== previous.jwks.keys[0]?.kid;
      this.#current = next;
      onKeys?.(next.keys);
      if (changed) logger.info({ kids: next.keys.map((k) => k.kid) }, 'token keys reloaded');
      return changed;
    } catch (error) {
      logger.error({ err: (error as Error).message }, 'token keys not reloaded; the previous keys stay in force');
      return false;
    }
  }

  /**
   * A token named a kid this instance does not know: with shared keys, re-read
   * them (at most once a second, however many such tokens arrive), waiting at
   * most `budgetMs`. True when the keys changed, so the token is worth opening
   * again; always false for keys from a file or the configuration.
   */
  async rereadForUnknownKid(budgetMs: number): Promise<boolean> {
    if (this.source.kind !== 'shared') return false;
    if (!this.#unknownKidReread || Date.now() - this.#unknownKidReread.at >= UNKNOWN_KID_REREAD_MS) {
      this.#unknownKidReread = { at: Date.now(), changed: this.reload() };
    }
    let budget: NodeJS.Timeout | undefined;
    const changed = await Promise.race([
      this.#unknownKidReread.changed,
      new Promise<false>((resolve) => (budget = setTimeout(resolve, budgetMs, false))),
    ]);
    clearTimeout(budget);
    return changed;
  }

  close(): void {
    clearTimeout(this.#timer);
    clearInterval(this.#poller);
    this.#watcher?.close();
    this.#watcher = undefined;
  }

  #watch(file: string): void {
    const name = basename(file);
    // The directory, not the file: the CLI replaces the file by rename.
    this.#watcher = watch(dirname(file), (_event, changed) => {
      if (changed !== name) return;
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => void this.reload(), DEBOUNCE_MS);
    });
    this.#watcher.unref();
  }
}
