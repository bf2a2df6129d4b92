/**
 * The route maps in effect, and their reloads (SPEC §10): on file change and on SIGHUP the
 * maps are loaded and compiled again; an invalid version is refused, logged and counted, and
 * the last good one stays. Each version that takes effect is announced to `onApplied` (which
 * writes the `policy` lifecycle receipt).
 */
import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { compilePolicy } from '../policy/compile-policy.js';
import { ConfigError } from '../policy/config-error.js';
import { loadRouteMaps } from '../policy/load-route-maps.js';
import type { CompiledPolicy, GateConfig } from '../policy/types.js';

export interface PolicyStatus {
  loaded: boolean;
  version: string | null;
  digest: string | null;
  /** The last refused reload, while the last good version serves. */
  refused: { at: string; error: string } | null;
}

export interface PolicySourceOptions {
  config: GateConfig;
  clock?: () => number;
  onApplied?: (p: CompiledPolicy) => void | Promise<void>;
  onRefused?: (error: string) => void;
}

/** Loads and compiles the route maps of a config once (used by start, check and explain). */
export async function loadPolicy(config: GateConfig, nowMs: number): Promise<CompiledPolicy> {
  const maps = await loadRouteMaps(config.policy.routes, { secretsDir: config.secrets.dir });
  return compilePolicy(maps, { nowMs });
}

export class PolicySource {
  private current: CompiledPolicy | undefined;
  private refused: PolicyStatus['refused'] = null;
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> = Promise.resolve();

  constructor(private readonly o: PolicySourceOptions) {}

  get policy(): CompiledPolicy | undefined { return this.current; }

  status(): PolicyStatus {
    return { loaded: !!this.current, version: this.current?.version ?? null, digest: this.current?.digest ?? null, refused: this.refused };
  }

  /** First load: throws ConfigError when the route maps are invalid (start refuses to run). */
  async start(): Promise<CompiledPolicy> {
    const p = await loadPolicy(this.o.config, (this.o.clock ?? Date.now)());
    this.current = p;
    await this.o.onApplied?.(p);
    return p;
  }

  /** Reloads now; refusals keep the last good version. Serialized: one reload at a time. */
  reload(): Promise<void> {
    this.reloading = this.reloading.then(() => this.reloadOnce());
    return this.reloading;
  }

  private async reloadOnce(): Promise<void> {
    let p: CompiledPolicy;
    try {
      p = await loadPolicy(this.o.config, (this.o.clock ?? Date.now)());
    } catch (e) {
      const msg = e instanceof ConfigError ? e.message : `${(e as Error).message}`;
      this.refused = { at: new Date().toISOString(), error: msg.split('\n').slice(0, 5).join('; ') };
      this.o.onRefused?.(msg);
      return;
    }
    this.refused = null;
    if (p.digest === this.current?.digest) return;
    this.current = p;
    await this.o.onApplied?.(p);
  }

  /** Watches the route-map files and folders; changes are debounced into one reload. */
  async watch(): Promise<void> {
    const kick = () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => { void this.reload(); }, 100);
      this.timer.unref();
    };
    for (const src of this.o.config.policy.routes) {
      if (/^https:/i.test(src)) continue;
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
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }
}
