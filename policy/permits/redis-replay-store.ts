/**
 * The shared replay store (`replay: redis://…`): spent and in-flight jtis shared by gate
 * replicas. Each claim is one Lua script, which Redis runs atomically, so two replicas can
 * never both spend one jti. Keys expire with the permit (exp + grace, on the gate's clock).
 * An unreachable Redis fails fast: no offline queue, no retries, short timeouts; every
 * failure rejects with ReplayStoreUnavailableError, never "not spent".
 */
import { Redis, type RedisOptions } from 'ioredis';
import { MAX_ATTEMPTS, mayRetry, ReplayStoreUnavailableError, type ClaimOptions, type ReplayClaim, type ReplayStore, type SpentEntry } from './replay-store.js';

/** KEYS[1] the jti key; ARGV: ttl seconds, "1" when this attempt may retry, max attempts. Hash fields: a attempts, f in flight, r last receipt. */
const CLAIM_LUA = `
local k = KEYS[1]
if redis.call('EXISTS', k) == 0 then
  redis.call('HSET', k, 'a', 1, 'f', 1)
  redis.call('EXPIRE', k, tonumber(ARGV[1]))
  return {1, 1, ''}
end
if ARGV[2] ~= '1' then return {0, 'PERMIT_REPLAYED'} end
if redis.call('HGET', k, 'f') == '1' then return {0, 'PERMIT_IN_FLIGHT'} end
local a = tonumber(redis.call('HGET', k, 'a')) or 0
if a >= tonumber(ARGV[3]) then return {0, 'PERMIT_REPLAYED'} end
redis.call('HSET', k, 'a', a + 1, 'f', 1)
return {1, a + 1, redis.call('HGET', k, 'r') or ''}
`;

/** KEYS[1] the jti key; ARGV[1] the receipt id ("" keeps the previous one). */
const FINISH_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'f', 0)
  if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], 'r', ARGV[1]) end
end
return 1
`;

/** KEYS[1] the jti key; ARGV: ttl seconds, receipt id. One finished attempt restored from the log. */
const REBUILD_LUA = `
redis.call('HINCRBY', KEYS[1], 'a', 1)
redis.call('HSETNX', KEYS[1], 'f', 0)
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'r', ARGV[2]) end
if redis.call('TTL', KEYS[1]) < tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1])) end
return 1
`;

interface ScriptedRedis extends Redis {
  egClaim(key: string, ttl: number, retry: string, max: number): Promise<[number, number | string, string?]>;
  egFinish(key: string, receiptId: string): Promise<number>;
  egRebuild(key: string, ttl: number, receiptId: string): Promise<number>;
}

export interface RedisReplayStoreOptions {
  /** Kept past exp by this many seconds: the checker accepts a permit until exp + clock_skew. */
  graceS?: number;
  clock?: () => number;
  keyPrefix?: string;
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
  onError?: (err: Error) => void;
}

/** Spent and in-flight jtis in Redis, shared by the replicas of a gateway. */
export class RedisReplayStore implements ReplayStore {
  private readonly redis: ScriptedRedis;
  private readonly graceS: number;
  private readonly clock: () => number;
  private readonly prefix: string;
  /** Last known reachability: ioredis reports "ready" until it notices the socket closed. */
  private reachable = false;

  /** `url`: redis://host:port/db. Connects in the background; see init(). */
  constructor(url: string, opts: RedisReplayStoreOptions = {}) {
    this.graceS = opts.graceS ?? 0;
    this.clock = opts.clock ?? Date.now;
    this.prefix = opts.keyPrefix ?? 'egress-gate:jti:';
    const options: RedisOptions = {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: opts.connectTimeoutMs ?? 500,
      commandTimeout: opts.commandTimeoutMs ?? 500,
      retryStrategy: (times) => Math.min(times * 100, 1000),
      lazyConnect: false,
    };
    this.redis = new Redis(url, options) as ScriptedRedis;
    // Without a listener an 'error' event would crash the process; the store answers
    // "unavailable" instead, and the caller logs.
    const onError = opts.onError ?? (() => undefined);
    this.redis.on('error', (e: Error) => onError(e));
    this.redis.on('ready', () => (this.reachable = true));
    this.redis.on('close', () => (this.reachable = false));
    this.redis.defineCommand('egClaim', { numberOfKeys: 1, lua: CLAIM_LUA });
    this.redis.defineCommand('egFinish', { numberOfKeys: 1, lua: FINISH_LUA });
    this.redis.defineCommand('egRebuild', { numberOfKeys: 1, lua: REBUILD_LUA });
  }

  /** Waits until connected, up to `timeoutMs`; resolves false when not (claims then reject until it is). */
  async init(timeoutMs = 2000): Promise<boolean> {
    if (this.redis.status === 'ready') return true;
    return new Promise<boolean>((resolve) => {
      const done = (v: boolean) => {
        clearTimeout(timer);
        this.redis.off('ready', onReady);
        resolve(v);
      };
      const onReady = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.redis.once('ready', onReady);
    });
  }

  private ttl(expS: number): number {
    return Math.max(1, Math.ceil(expS + this.graceS - this.clock() / 1000));
  }

  private async run<T>(what: string, f: () => Promise<T>): Promise<T> {
    try {
      const out = await f();
      this.reachable = true;
      return out;
    } catch (e) {
      this.reachable = false;
      throw new ReplayStoreUnavailableError(`replay store ${what} failed: ${(e as Error).message}`, { cause: e });
    }
  }

  async claim(jti: string, expS: number, opts: ClaimOptions): Promise<ReplayClaim> {
    const r = await this.run('claim', () => this.redis.egClaim(this.prefix + jti, this.ttl(expS), mayRetry(opts) ? '1' : '0', MAX_ATTEMPTS));
    if (r[0] === 1 && typeof r[1] === 'number') return r[2] ? { ok: true, attempt: r[1], retryOf: r[2] } : { ok: true, attempt: r[1] };
    if (r[0] === 0 && (r[1] === 'PERMIT_REPLAYED' || r[1] === 'PERMIT_IN_FLIGHT')) return { ok: false, reason: r[1] };
    throw new ReplayStoreUnavailableError(`replay store answered ${JSON.stringify(r)}`);
  }

  async finish(jti: string, receiptId: string): Promise<void> {
    await this.run('finish', () => this.redis.egFinish(this.prefix + jti, receiptId));
  }

  /** Restores attempts from a receipt log. With replicas sharing Redis this is rarely needed; it is idempotent per start only. */
  async rebuild(entries: Iterable<SpentEntry>): Promise<void> {
    const nowS = Math.floor(this.clock() / 1000);
    for (const { jti, exp, receiptId } of entries) {
      if (exp + this.graceS <= nowS) continue;
      await this.run('rebuild', () => this.redis.egRebuild(this.prefix + jti, this.ttl(exp), receiptId));
    }
  }

  ready(): boolean {
    return this.reachable && this.redis.status === 'ready';
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
