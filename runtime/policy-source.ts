/**
 * The route maps in effect, and their reloads (SPEC §3, §10, §12), for both composition roots:
 * the gate (proxy/gate.ts) and the arbiter (arbiter/arbiter.ts). It sees no socket of theirs.
 *
 * Files and folders: loaded at start (an invalid set refuses the start), reloaded on file
 * change (watch) and on SIGHUP. A remote bundle (one https URL): polled with If-None-Match
 * every `bundlePollMs(max_stale)` and on SIGHUP; the service starts even when it is unreachable.
 *
 * Invariants:
 * - an invalid new version is refused, logged (`onRefused`) and counted by the caller; the
 *   last good version stays, and `status().refused` names the refusal until a good version
 *   is confirmed;
 * - `policy` is undefined — every request `SILENCE POLICY_UNAVAILABLE`, no permit issued — while
 *   no version is loaded, or while a remote bundle has gone `max_stale` without a good fetch;
 * - each version that takes effect is announced once to `onApplied` (the `policy` receipt).
 */
import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { BundleError } from '../policy/bundle/verify-bundle.js';
import { readBundleKeys } from '../policy/bundle/read-bundle-keys.js';
import { compilePolicy } from '../policy/compile-policy.js';
import { ConfigError } from '../policy/config-error.js';
import { loadRouteMaps } from '../policy/load-route-maps.js';
import { parseRouteMap } from '../policy/parse-route-map.js';
import type { RouteMapOptions } from '../policy/parse-route-map.js';
import type { CompiledPolicy, RouteMapSettings } from '../policy/types.js';
import { BundleFetcher } from './bundle-fetcher.js';

export interface PolicyStatus {
  /** `files` or `bundle` (a remote signed bundle). */
  source: 'files' | 'bundle';
  loaded: boolean;
  /** Loaded and, for a bundle, confirmed within `max_stale`. */
  fresh: boolean;
  version: string | null;
  digest: string | null;
  /** Seconds since the source was last confirmed (0 for files). */
  stale_seconds: number;
  /** The last refused reload, while the last good version serves (or while none does). */
  refused: { at: string; error: string } | null;
  /** A bundle that cannot be fetched right now. */
  unreachable: { since: string; error: string } | null;
}

export interface PolicySourceOptions {
  /** The `policy` section: route-map files and folders, or one bundle URL. */
  settings: RouteMapSettings;
  /** Where brokered credentials of the route maps resolve from (the gate's `secrets.dir`). */
  secretsDir?: string;
  /** false: credentials references are checked, not read (the arbiter never forwards). */
  readSecrets?: boolean;
  /** The config file, named when `bundle_keys` is missing. */
  configFile: string;
  clock?: () => number;
  /** Extra CAs for the bundle server (`tls.upstream_ca` contents). */
  upstreamCa?: string[];
  onApplied?: (p: CompiledPolicy) => void | Promise<void>;
  onRefused?: (error: string) => void;
  /** A bundle fetch failed without an answer (logged by the caller once per outage). */
  onUnreachable?: (error: string) => void;
}

/** The bundle poll interval: a fifth of `max_stale`, between 250 ms and 10 s. */
export function bundlePollMs(maxStaleMs: number): number {
  return Math.min(10_000, Math.max(250, Math.floor(maxStaleMs / 5)));
}

/** Whether `policy.routes` names a remote bundle. */
export function isRemote(settings: RouteMapSettings): boolean {
  return settings.routes.length === 1 && /^https:\/\//i.test(settings.routes[0] ?? '');
}

/** Loads and compiles route-map files and folders once (used by start, check and explain). */
export async function loadPolicy(routes: readonly string[], o: RouteMapOptions & { nowMs: number }): Promise<CompiledPolicy> {
  const maps = await loadRouteMaps([...routes], { secretsDir: o.secretsDir, readSecrets: o.readSecrets });
  return compilePolicy(maps, { nowMs: o.nowMs });
}

/** Compiles a bundle's YAML text; its routes are located at `url:line:col`. */
export function compileBundle(url: string, text: string, o: RouteMapOptions & { nowMs: number }): CompiledPolicy {
  const map = parseRouteMap(text, url, { secretsDir: o.secretsDir, readSecrets: o.readSecrets });
  return compilePolicy({ routes: map.routes, exceptions: map.exceptions, sources: [{ path: url, text }] }, { nowMs: o.nowMs });
}

const firstLines = (msg: string) => msg.split('\n').slice(0, 5).join('; ');

/** The route maps in effect: loaded, watched or polled, reloaded, and refused when invalid. */
export class PolicySource {
  private current: CompiledPolicy | undefined;
  private refused: PolicyStatus['refused'] = null;
  private unreachable: PolicyStatus['unreachable'] = null;
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private poller: NodeJS.Timeout | undefined;
  private reloading: Promise<void> = Promise.resolve();
  private readonly clock: () => number;
  private readonly remote: boolean;
  private fetcher: BundleFetcher | undefined;
  /** When the bundle was last confirmed good (fetched and valid, or 304 for the good ETag). */
  private confirmedAt: number;
  private etag: string | undefined;
  private bundleSha: string | undefined;
  private refusedSha: string | undefined;

  constructor(private readonly o: PolicySourceOptions) {
    this.clock = o.clock ?? Date.now;
    this.remote = isRemote(o.settings);
    this.confirmedAt = this.clock();
  }

  /** The policy to decide with, or undefined when none is loaded and fresh. */
  get policy(): CompiledPolicy | undefined {
    if (!this.current) return undefined;
    if (this.remote && this.clock() - this.confirmedAt > this.o.settings.maxStaleMs) return undefined;
    return this.current;
  }

  /** Seconds since the source was last confirmed (0 for files). */
  staleSeconds(): number {
    return this.remote ? Math.max(0, (this.clock() - this.confirmedAt) / 1000) : 0;
  }

  status(): PolicyStatus {
    return {
      source: this.remote ? 'bundle' : 'files',
      loaded: !!this.current, fresh: !!this.policy,
      version: this.current?.version ?? null, digest: this.current?.digest ?? null,
      stale_seconds: Math.round(this.staleSeconds() * 10) / 10,
      refused: this.refused, unreachable: this.unreachable,
    };
  }

  /**
   * First load. Files: throws ConfigError when the route maps are invalid (start refuses to
   * run). Bundle: throws only for unusable `bundle_keys`; an unreachable or invalid bundle
   * leaves the service running, not ready, answering POLICY_UNAVAILABLE until a good fetch.
   */
  async start(): Promise<CompiledPolicy | undefined> {
    if (!this.remote) {
      const p = await loadPolicy(this.o.settings.routes, { nowMs: this.clock(), secretsDir: this.o.secretsDir, readSecrets: this.o.readSecrets });
      this.current = p;
      await this.o.onApplied?.(p);
      return p;
    }
    const keysFile = this.o.settings.bundleKeys;
    if (!keysFile) throw new ConfigError([{ file: this.o.configFile, line: 0, col: 0, message: 'policy: a remote bundle needs "bundle_keys"' }]);
    this.fetcher = new BundleFetcher({ url: this.o.settings.routes[0] as string, jwks: await readBundleKeys(keysFile), ca: this.o.upstreamCa });
    await this.reload();
    return this.current;
  }

  /** Reloads now (SIGHUP, file change, bundle poll); refusals keep the last good version. Serialized. */
  reload(): Promise<void> {
    this.reloading = this.reloading.then(() => (this.remote ? this.pollOnce() : this.reloadOnce()));
    return this.reloading;
  }

  private refuse(msg: string): void {
    this.refused = { at: new Date(this.clock()).toISOString(), error: firstLines(msg) };
    this.o.onRefused?.(msg);
  }

  private async reloadOnce(): Promise<void> {
    let p: CompiledPolicy;
    try {
      p = await loadPolicy(this.o.settings.routes, { nowMs: this.clock(), secretsDir: this.o.secretsDir, readSecrets: this.o.readSecrets });
    } catch (e) {
      this.refuse((e as Error).message);
      return;
    }
    this.refused = null;
    if (p.digest === this.current?.digest) {
      // Same route maps, but a brokered secret may have been rotated: the digest covers
      // route-map text only (never secret values), so the credentials are compared apart.
      if (this.current && !sameCredentials(this.current, p)) this.current = p;
      return;
    }
    this.current = p;
    await this.o.onApplied?.(p);
  }

  private async pollOnce(): Promise<void> {
    const fetcher = this.fetcher;
    if (!fetcher) return;
    const url = this.o.settings.routes[0] as string;
    let got;
    try {
      got = await fetcher.fetch(this.current ? this.etag : undefined);
    } catch (e) {
      if (e instanceof BundleError && e.code === 'ERR_BUNDLE_INVALID') {
        this.unreachable = null;
        // The same refused bundle served again is not refused (nor counted) again.
        if (e.sha256 !== undefined && e.sha256 === this.refusedSha) return;
        this.refusedSha = e.sha256;
        this.refuse(e.message);
        return;
      }
      if (!this.unreachable) this.o.onUnreachable?.((e as Error).message);
      this.unreachable ??= { since: new Date(this.clock()).toISOString(), error: (e as Error).message };
      return;
    }
    this.unreachable = null;
    if (got.kind === 'unchanged' || got.sha256 === this.bundleSha) {
      this.confirmedAt = this.clock();
      this.refused = null;
      this.refusedSha = undefined;
      return;
    }
    // The same refused bundle served again is not refused (nor counted) again.
    if (got.sha256 === this.refusedSha) return;
    let p: CompiledPolicy;
    try {
      p = compileBundle(url, got.text, { nowMs: this.clock(), secretsDir: this.o.secretsDir, readSecrets: this.o.readSecrets });
    } catch (e) {
      this.refusedSha = got.sha256;
      this.refuse((e as Error).message);
      return;
    }
    this.refused = null;
    this.refusedSha = undefined;
    this.bundleSha = got.sha256;
    this.etag = got.etag;
    this.confirmedAt = this.clock();
    if (p.digest === this.current?.digest) return;
    this.current = p;
    await this.o.onApplied?.(p);
  }

  /**
   * Files: watches the route-map files and folders; changes are debounced into one reload.
   * Bundle: polls every `bundlePollMs(max_stale)`.
   */
  async watch(): Promise<void> {
    if (this.remote) {
      const every = bundlePollMs(this.o.settings.maxStaleMs);
      let busy = false;
      // A slow fetch is never queued behind itself: a tick while one runs is skipped.
      this.poller = setInterval(() => {
        if (busy) return;
        busy = true;
        void this.reload().finally(() => { busy = false; });
      }, every);
      this.poller.unref();
      return;
    }
    const kick = () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => { void this.reload(); }, 100);
      this.timer.unref();
    };
    // secrets.dir is watched too, so a rotated secret (a Kubernetes Secret update) takes effect.
    const secrets = this.o.secretsDir ? [this.o.secretsDir] : [];
    for (const src of [...this.o.settings.routes, ...secrets]) {
      try {
        const st = await stat(src);
        // A file is watched through its folder: editors and kubelet replace files by rename.
        const dir = st.isDirectory() ? src : path.dirname(src);
        const w = watch(dir, { persistent: false }, kick);
        w.on('error', () => undefined);
        this.watchers.push(w);
      } catch { /* missing now; the next SIGHUP reload reports it */ }
    }
  }

  close(): void {
    clearTimeout(this.timer);
    clearInterval(this.poller);
    for (const w of this.watchers) w.close();
    this.watchers = [];
    void this.fetcher?.close().catch(() => undefined);
  }
}

/** True when both policies set the same credential values, route by route. */
function sameCredentials(a: CompiledPolicy, b: CompiledPolicy): boolean {
  if (a.routes.length !== b.routes.length) return false;
  return a.routes.every((r, i) => r.credentials?.value === b.routes[i]?.credentials?.value);
}
