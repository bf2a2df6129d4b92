/**
 * Builds the permit parts of a gate from its config: issuer keys (imported once, at load),
 * the checker, and the replay store — the memory store rebuilt from the receipt log, so spent
 * jtis survive a restart (SPEC §5).
 */
import { readFile } from 'node:fs/promises';
import { createPermitChecker, type PermitChecker } from '../../policy/permits/check-permit.js';
import { createIssuerKeys, type IssuerKeyResolver } from '../../policy/permits/issuer-keys.js';
import { MemoryReplayStore } from '../../policy/permits/memory-replay-store.js';
import type { ReplayStore, SpentEntry } from '../../policy/permits/replay-store.js';
import type { GateConfig } from '../../policy/types.js';
import type { Logger } from '../../runtime/logger.js';
import { readReceiptPayloads } from '../../receipts/receipt-files.js';

export interface PermitParts {
  checker: PermitChecker;
  keys: IssuerKeyResolver;
  replay?: ReplayStore;
  /** Issuer keys (and, for Redis, the store) are available. */
  ready(): boolean;
  close(): Promise<void>;
}

export interface PermitSetupOptions {
  clock: () => number;
  log: Logger;
  /** Rebuild the memory replay store from this receipt folder. */
  receiptsDir?: string;
  /** explain: no replay store, no network fetches beyond the first key load. */
  offline?: boolean;
}

/** Spent jtis recorded in a receipt log: PERMIT decisions whose permit was claimed (`permit.spent`). */
export async function spentFromReceipts(dir: string, nowS: number): Promise<SpentEntry[]> {
  const out: SpentEntry[] = [];
  for await (const p of readReceiptPayloads(dir)) {
    if (p.kind !== 'decision') continue;
    const permit = p.permit as { jti?: unknown; exp?: unknown; spent?: unknown } | null;
    if (!permit || permit.spent !== true || typeof permit.jti !== 'string' || typeof permit.exp !== 'number') continue;
    if (permit.exp < nowS) continue;
    out.push({ jti: permit.jti, exp: permit.exp, receiptId: String(p.id) });
  }
  return out;
}

/** Builds the permit checker, issuer keys and replay store the config asks for. */
export async function setUpPermits(config: GateConfig, o: PermitSetupOptions): Promise<PermitParts> {
  const upstreamCa = await Promise.all(config.tls.upstreamCa.map((p) => readFile(p, 'utf8')));
  const keys = createIssuerKeys(config.permits.issuers, {
    ca: upstreamCa, clock: o.clock,
    onFetchError: (iss, err) => o.log.warn({ iss, err: err.message }, 'issuer JWKS fetch failed'),
  });
  await keys.init();
  const checker = createPermitChecker({ config: { ...config.permits, gateId: config.gate.id, subject: config.gate.subject }, keys, clock: o.clock });
  let replay: ReplayStore | undefined;
  if (!o.offline) {
    const graceS = config.permits.clockSkewS;
    if (config.permits.replay === 'memory') {
      replay = new MemoryReplayStore({ clock: o.clock, graceS });
      if (o.receiptsDir) await replay.rebuild?.(await spentFromReceipts(o.receiptsDir, Math.floor(o.clock() / 1000)));
    } else {
      // ioredis is loaded only by gates that use it.
      const { RedisReplayStore } = await import('../../policy/permits/redis-replay-store.js');
      const redis = new RedisReplayStore(config.permits.replay, { clock: o.clock, graceS, onError: (e) => o.log.warn({ err: e.message }, 'replay store (redis) error') });
      if (!(await redis.init())) o.log.warn('replay store (redis) not reachable at start: single-use routes answer SILENCE REPLAY_STORE_UNAVAILABLE');
      replay = redis;
    }
  }
  return {
    checker, keys, replay,
    ready: () => keys.ready() && (replay ? replay.ready() : true),
    close: async () => { await keys.close(); await replay?.close(); },
  };
}
