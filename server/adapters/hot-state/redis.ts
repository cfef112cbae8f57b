/**
 * Hot state in Redis, shared by every server instance (distributed mode).
 *
 * Same semantics as `MemoryHotState`: sliding windows of 12 buckets, distinct
 * sets capped at 1000 members, first-seen marks, atomic claim and take, fixed-
 * window rate counters, and a TTL on every key (a counter or distinct set
 * lives as long as its longest window after its last event).
 *
 * One evaluation is one round trip: `observe` groups the batch's keys by Redis
 * Cluster hash tag (this adapter alone makes them: an app's key carries its
 * entity, `{app:entity:id}`, see keys.ts) and runs one Lua script per group,
 * all written to the socket together as one pipeline. Every script touches
 * one slot only, so it also runs on a Cluster (there, the scripts go out
 * concurrently and the client routes each to its node).
 *
 * Outages: commands fail fast instead of queueing (no offline queue, no
 * retries, a command timeout), the client reconnects by itself in the
 * background with capped backoff, `ping()` answers false, and connection
 * errors are logged once per outage instead of crashing the process.
 *
 * Needs Redis ≥ 6.2 (ZADD GT, GETDEL). Run it with `maxmemory-policy
 * noeviction`: every key has a TTL, so any other policy may evict claims and
 * rate limits under memory pressure; with noeviction a full Redis fails writes,
 * which callers treat as an outage (degraded evaluation, STORE_UNAVAILABLE).
 */
import { Redis, type Cluster } from 'ioredis';
import type { HotState, ObservationBatch, ObservationResult, PutOptions, StateKey } from './hot-state.js';
import { keyName } from './keys.js';

/** Same as `MemoryHotState`: a count is exact to within one twelfth of its window. */
const BUCKETS_PER_WINDOW = 12;
const DEFAULT_MAX_MEMBERS = 1000;

/**
 * One entity's part of an observation, as one script. KEYS are the keys of its
 * operations in order; ARGV is `at, maxMembers`, then the operations:
 *
 *   c <n> <ttl> <inc> then n × <w> <current bucket index>
 *       counter over n windows (KEYS: 1 string); inc 0 reads without counting
 *   d <member> <n> <ttl> <trim bound> then n × <count bound>
 *       distinct members over n windows (KEYS: 1 sorted set, member → last seen)
 *   s <ttl>
 *       first-seen mark (KEYS: 1 string)
 *
 * It returns the flat list of results: n counts, n counts, 1 or 0.
 *
 * A counter is one string holding every window's live buckets as MessagePack,
 * `[w, m, index₁, count₁, … indexₘ, countₘ, w, m, …]`: one GET and one SET per
 * counter. Measured against a hash per window (HINCRBY, HGETALL, PEXPIRE) and
 * against per-window running totals, it costs Redis 1.5–3× less, most of all
 * for the many keys that see one event now and then.
 *
 * Every number Redis needs arrives as a string computed by the caller: a Lua
 * number passed to redis.call is formatted with sprintf (~1.5 µs each).
 */
const OBSERVE_LUA = `
local out = {}
local k = 1
local a = 3
while a <= #ARGV do
  local op = ARGV[a]
  if op == 'c' then
    local n = tonumber(ARGV[a + 1])
    local key = KEYS[k]
    k = k + 1
    local data = nil
    local raw = redis.call('GET', key)
    if raw then
      local ok, decoded = pcall(cmsgpack.unpack, raw)
      if ok and type(decoded) == 'table' then data = decoded end
    end
    local packed = {}
    local inc = tonumber(ARGV[a + 3])
    for i = 1, n do
      local w = tonumber(ARGV[a + 2 + 2 * i])
      local current = tonumber(ARGV[a + 3 + 2 * i])
      local oldest = current - ${BUCKETS_PER_WINDOW - 1}
      local at = #packed + 1
      packed[at] = w
      packed[at + 1] = 0
      local m = 0
      local total = 0
      local found = false
      if data then
        local j = 1
        while j + 1 <= #data do
          local size = data[j + 1]
          if data[j] == w then
            for x = j + 2, j + 1 + size * 2, 2 do
              local index = data[x]
              local count = data[x + 1]
              if index == current then
                count = count + inc
                found = true
              end
              -- Buckets older than the window ending at this event are dropped.
              if index >= oldest then
                packed[#packed + 1] = index
                packed[#packed + 1] = count
                m = m + 1
                if index <= current then total = total + count end
              end
            end
            break
          end
          j = j + 2 + size * 2
        end
      end
      if not found and inc > 0 then
        packed[#packed + 1] = current
        packed[#packed + 1] = inc
        m = m + 1
        total = total + inc
      end
      packed[at + 1] = m
      out[#out + 1] = total
    end
    -- Only the windows asked for now are kept; a read leaves the key as it is.
    if inc > 0 then redis.call('SET', key, cmsgpack.pack(packed), 'PX', ARGV[a + 2]) end
    a = a + 4 + 2 * n
  elseif op == 'd' then
    local member = ARGV[a + 1]
    local n = tonumber(ARGV[a + 2])
    local key = KEYS[k]
    k = k + 1
    -- The set grows only when a member is new: trim and cap it then.
    if redis.call('ZADD', key, 'GT', ARGV[1], member) == 1 then
      -- Members last seen before the longest window count in no window.
      redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[a + 4])
      local size = redis.call('ZCARD', key)
      local cap = tonumber(ARGV[2])
      if size > cap then redis.call('ZREMRANGEBYRANK', key, '0', tostring(size - cap - 1)) end
    end
    for i = 1, n do
      out[#out + 1] = redis.call('ZCOUNT', key, ARGV[a + 4 + i], '+inf')
    end
    redis.call('PEXPIRE', key, ARGV[a + 3])
    a = a + 5 + n
  elseif op == 's' then
    local key = KEYS[k]
    k = k + 1
    if redis.call('SET', key, '1', 'NX', 'PX', ARGV[a + 1]) then out[#out + 1] = 1 else out[#out + 1] = 0 end
    a = a + 2
  else
    return redis.error_reply('riskgate observe: unknown operation ' .. tostring(op))
  end
end
return out
`;

/** INCR, and an expiry on the first increment only: a fixed window (also repairs a key left without one). */
const INCREMENT_LUA = `
local n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
`;

type ScriptReply = (string | number)[];

/** The commands `defineCommand` adds; ioredis does not type them. */
interface RiskGateCommands {
  riskgateObserve(numKeys: number, ...keysAndArgs: string[]): Promise<ScriptReply>;
  riskgateIncrement(key: string, ttlMs: string): Promise<number>;
}

/** Enough of a logger for connection state changes (pino's logger fits). */
export interface RedisHotStateLogger {
  warn(message: string): void;
  info(message: string): void;
}

export interface RedisHotStateOptions {
  /** redis:// or rediss:// URL; ignored when `client` is given. */
  url?: string;
  /** A client to use instead (a Cluster works too); `close()` leaves it open. */
  client?: Redis | Cluster;
  /** Prefix of every key. Default `rg:`; must not contain `{` or `}`. */
  keyPrefix?: string;
  /** A command not answered within this fails (ms). Default 500. */
  commandTimeoutMs?: number;
  /** Longest pause between reconnection attempts (ms). Default 2000. */
  maxReconnectDelayMs?: number;
  /** Most members kept per distinct set (same default as memory: 1000). */
  maxMembersPerSet?: number;
  logger?: RedisHotStateLogger;
}

export interface RedisOpenOptions extends RedisHotStateOptions {
  /** How long `open` waits for the first connection before failing (ms). Default 5000. */
  connectTimeoutMs?: number;
}

type Kind = 'c' | 'z' | 'f' | 'k';

/** One script call: its keys, its operations, and where each result goes. */
interface Group {
  keys: string[];
  args: string[];
  /** For each operation in order: which batch entry and how many numbers it returns. */
  ops: { kind: 'counter' | 'distinct' | 'seen'; index: number; width: number }[];
}

export class RedisHotState implements HotState {
  readonly #client: (Redis | Cluster) & RiskGateCommands;
  readonly #ownsClient: boolean;
  readonly #prefix: string;
  readonly #maxMembers: number;
  readonly #logger: RedisHotStateLogger | undefined;
  #down = false;
  #closed = false;

  /** Creates the store and waits (up to `connectTimeoutMs`) until Redis answers. */
  static async open(options: RedisOpenOptions): Promise<RedisHotState> {
    const state = new RedisHotState(options);
    try {
      await state.ready(options.connectTimeoutMs ?? 5000);
      await state.#checkEvictionPolicy();
      return state;
    } catch (error) {
      await state.close();
      throw error;
    }
  }

  /**
   * Replay claims, rate limits, challenges and sessions must stay until their
   * TTL: a Redis that evicts under memory pressure (any policy but
   * `noeviction`; every key here has a TTL, so `volatile-*` evicts them too)
   * would accept a replayed token or reset a limit. Warned at start; a Redis
   * that refuses CONFIG (managed services) is named as unchecked.
   */
  async #checkEvictionPolicy(): Promise<void> {
    let policy: string | undefined;
    try {
      const reply = (await this.#client.config('GET', 'maxmemory-policy')) as unknown;
      policy = Array.isArray(reply) && typeof reply[1] === 'string' ? reply[1] : undefined;
    } catch (error) {
      this.#logger?.warn(`redis: could not read maxmemory-policy (${(error as Error).message}); make sure it is noeviction`);
      return;
    }
    const warning = evictionPolicyWarning(policy);
    if (warning) this.#logger?.warn(warning);
  }

  constructor(options: RedisHotStateOptions) {
    const prefix = options.keyPrefix ?? 'rg:';
    // A brace in the prefix would put every key in one Cluster slot.
    if (/[{}]/.test(prefix)) throw new TypeError('RedisHotState keyPrefix must not contain { or }');
    this.#prefix = prefix;
    this.#maxMembers = options.maxMembersPerSet ?? DEFAULT_MAX_MEMBERS;
    this.#logger = options.logger;
    const commandTimeout = options.commandTimeoutMs ?? 500;
    const maxDelay = options.maxReconnectDelayMs ?? 2000;
    let client: Redis | Cluster;
    if (options.client) {
      client = options.client;
      this.#ownsClient = false;
    } else {
      if (!options.url) throw new TypeError('RedisHotState needs a url or a client');
      client = new Redis(options.url, {
        // Fail fast while disconnected instead of queueing requests behind an outage.
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        commandTimeout,
        connectTimeout: Math.max(1000, commandTimeout * 4),
        // Reconnect forever in the background: 50 ms, 100 ms, … capped, with jitter.
        retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times - 1, 10), maxDelay) + Math.floor(Math.random() * 50),
        connectionName: 'riskgate',
      });
      this.#ownsClient = true;
    }
    client.defineCommand('riskgateObserve', { lua: OBSERVE_LUA });
    client.defineCommand('riskgateIncrement', { lua: INCREMENT_LUA, numberOfKeys: 1 });
    // Without an 'error' listener, an EventEmitter error would crash the process.
    client.on('error', (error: Error) => this.#markDown(error));
    client.on('close', () => {
      if (!this.#closed) this.#markDown(undefined);
    });
    client.on('ready', () => {
      if (this.#down) {
        this.#down = false;
        this.#logger?.info('redis: connection restored');
      }
    });
    this.#client = client as (Redis | Cluster) & RiskGateCommands;
  }

  /** Resolves once the client is connected; rejects after `timeoutMs`. */
  async ready(timeoutMs: number): Promise<void> {
    const client = this.#client;
    if (client.status === 'ready') return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`redis: not reachable within ${timeoutMs} ms`));
      }, timeoutMs);
      const onReady = () => {
        cleanup();
        resolve();
      };
      const cleanup = () => {
        clearTimeout(timer);
        client.off('ready', onReady);
      };
      client.on('ready', onReady);
      if (client.status === 'wait') client.connect().catch(() => {});
    });
  }

  #markDown(error: Error | undefined): void {
    if (this.#down || this.#closed) return;
    this.#down = true;
    this.#logger?.warn(`redis: unavailable${error ? ` (${error.message})` : ''}; reconnecting in the background, calls fail until then`);
  }

  /**
   * The stored name of a key of one kind: an app's key with its entity part as
   * the hash tag; a key of no app wrapped whole in one (unless its id brings a
   * tag of its own), so that the names are the ones callers wrote before
   * keys were structured (keys.ts).
   */
  #name(kind: Kind, key: StateKey): string {
    if (key.app !== undefined) return `${this.#prefix}${kind}:${keyName(key, '{', '}')}`;
    const name = keyName(key, '', '');
    return hashTag(name) === undefined ? `${this.#prefix}${kind}!{${name}}` : `${this.#prefix}${kind}:${name}`;
  }

  async observe(batch: ObservationBatch): Promise<ObservationResult> {
    const result: ObservationResult = {
      counters: batch.counters.map(() => []),
      distinct: batch.distinct.map(() => []),
      firstSeen: batch.firstSeen.map(() => false),
    };
    const groups = new Map<string, Group>();
    const at = String(batch.at);
    const groupOf = (name: string): Group => {
      const tag = hashTag(name)!;
      let group = groups.get(tag);
      if (!group) {
        group = { keys: [], args: [at, String(this.#maxMembers)], ops: [] };
        groups.set(tag, group);
      }
      return group;
    };
    batch.counters.forEach((c, index) => {
      const windows = c.windowsMs;
      if (windows.length === 0) return;
      const name = this.#name('c', c);
      const group = groupOf(name);
      group.keys.push(name);
      group.args.push('c', String(windows.length), ttl(Math.max(...windows)), c.record === false ? '0' : '1');
      // The same bucket arithmetic as MemoryHotState.
      for (const w of windows) group.args.push(String(w), String(Math.floor(batch.at / (w / BUCKETS_PER_WINDOW))));
      group.ops.push({ kind: 'counter', index, width: windows.length });
    });
    batch.distinct.forEach((d, index) => {
      const windows = d.windowsMs;
      if (windows.length === 0) return;
      const name = this.#name('z', d);
      const group = groupOf(name);
      const longest = Math.max(...windows);
      group.keys.push(name);
      // Counted: members last seen after `at - w` (exclusive bounds), as in MemoryHotState.
      group.args.push('d', d.member, String(windows.length), ttl(longest), String(batch.at - longest));
      for (const w of windows) group.args.push(`(${batch.at - w}`);
      group.ops.push({ kind: 'distinct', index, width: windows.length });
    });
    batch.firstSeen.forEach((f, index) => {
      const name = this.#name('f', f);
      const group = groupOf(name);
      group.keys.push(name);
      group.args.push('s', ttl(f.ttlMs));
      group.ops.push({ kind: 'seen', index, width: 1 });
    });
    if (groups.size === 0) return result;

    const list = [...groups.values()];
    const replies = await this.#runScripts(list);
    list.forEach((group, g) => {
      const reply = replies[g]!;
      let offset = 0;
      for (const op of group.ops) {
        const values = reply.slice(offset, offset + op.width).map(Number);
        offset += op.width;
        if (op.kind === 'counter') result.counters[op.index] = values;
        else if (op.kind === 'distinct') result.distinct[op.index] = values;
        else result.firstSeen[op.index] = values[0] === 1;
      }
    });
    return result;
  }

  /** One script per group, in one round trip. */
  async #runScripts(groups: Group[]): Promise<ScriptReply[]> {
    const client = this.#client;
    const call = (target: RiskGateCommands, group: Group) =>
      target.riskgateObserve(group.keys.length, ...group.keys, ...group.args);
    if (groups.length === 1) return [await call(client, groups[0]!)];
    if (client.isCluster) {
      // A Cluster pipeline must stay on one node; concurrent commands are routed per slot instead.
      return Promise.all(groups.map((group) => call(client, group)));
    }
    const pipeline = client.pipeline();
    for (const group of groups) void call(pipeline as unknown as RiskGateCommands, group);
    const replies = await pipeline.exec();
    if (!replies) throw new Error('redis: pipeline was discarded');
    return replies.map(([error, reply]) => {
      if (error) throw error;
      return reply as ScriptReply;
    });
  }

  /** SET NX PX: a claim lives until its TTL, whatever else is stored; `scope` needs no room of its own here. */
  async claimOnce(key: StateKey, ttlMs: number, _scope?: string): Promise<boolean> {
    return (await this.#client.set(this.#name('k', key), '1', 'PX', ttl(ttlMs), 'NX')) === 'OK';
  }

  /** Every key expires by its TTL; `evictable` matters to bounded stores only. */
  async put(key: StateKey, value: string, ttlMs: number, _options?: PutOptions): Promise<void> {
    await this.#client.set(this.#name('k', key), value, 'PX', ttl(ttlMs));
  }

  async get(key: StateKey): Promise<string | null> {
    return this.#client.get(this.#name('k', key));
  }

  async take(key: StateKey): Promise<string | null> {
    return this.#client.getdel(this.#name('k', key));
  }

  async increment(key: StateKey, ttlMs: number, _scope?: string): Promise<number> {
    return Number(await this.#client.riskgateIncrement(this.#name('k', key), ttl(ttlMs)));
  }

  async ping(): Promise<boolean> {
    if (this.#closed) return false;
    try {
      return (await this.#client.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#ownsClient) return;
    try {
      await this.#client.quit();
    } catch {
      // Not connected (an outage): nothing to say goodbye to.
      this.#client.disconnect();
    }
  }
}

/** PX wants a positive integer. */
function ttl(ms: number): string {
  return String(Math.max(1, Math.ceil(ms)));
}

/** The part of a key Redis Cluster hashes: `{tag}` when present and non-empty (Redis's own rule). */
export function hashTag(key: string): string | undefined {
  const start = key.indexOf('{');
  if (start < 0) return undefined;
  const end = key.indexOf('}', start + 1);
  return end > start + 1 ? key.slice(start + 1, end) : undefined;
}

/** What to say at start about a Redis `maxmemory-policy`; undefined when it is safe (`noeviction`). */
export function evictionPolicyWarning(policy: string | undefined): string | undefined {
  if (policy === 'noeviction') return undefined;
  return `redis: maxmemory-policy is ${policy ?? 'unknown'}: under memory pressure Redis may evict replay claims, rate limits and challenges (a replayed token would pass); set maxmemory-policy noeviction`;
}
