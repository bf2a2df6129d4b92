/**
 * Resolves a destination once, checks it against block_private, and returns the address the
 * forwarder must connect to. Connecting to exactly the checked address (not resolving again)
 * is what keeps DNS rebinding from slipping between check and connect.
 *
 * The gate's own listeners (proxy and admin ports on this host) are refused whatever
 * block_private says: an agent must never reach /metrics, /receipts/proof or the proxy port
 * itself through the proxy. Only agent destinations come through here; the gate's decider,
 * JWKS and bundle URLs are fetched by their own clients and are not subject to block_private.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import type { BlockList } from 'node:net';
import { networkInterfaces } from 'node:os';
import { allowList, embeddedIPv4, isPrivateAddress } from '../../policy/private-address.js';
import type { GateConfig, NormalizedRequest } from '../../policy/types.js';

export type Resolution =
  | { ok: true; address: string; family: 4 | 6 }
  | { ok: false; private: boolean; detail: string };

/** One DNS answer for a name (the first address, as the system resolver orders them). */
export type LookupFn = (host: string) => Promise<{ address: string; family: number }>;

export interface ResolverOptions {
  /** The resolver; default: the system's (getaddrinfo, verbatim order). */
  lookup?: LookupFn;
  /** The ports the gate itself listens on (proxy, admin), read at check time. */
  ownPorts?: () => readonly number[];
}

/** True when a connection to `address` would land on this host (loopback, unspecified, an interface address). */
export function isThisHost(address: string): boolean {
  const a = address.replace(/%.*$/, '').toLowerCase();
  const inner = a.includes(':') ? embeddedIPv4(a) : undefined;
  if (inner !== undefined) return isThisHost(inner);
  if (/^127\./.test(a) || /^0\./.test(a) || a === '::1' || a === '::') return true;
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) if (i.address.toLowerCase() === a) return true;
  }
  return false;
}

/** Resolves a destination once and checks it against block_private and the gate's own listeners. */
export class DestinationResolver {
  private readonly allow: BlockList;
  private readonly hosts: Map<string, string>;
  private readonly lookup: LookupFn;
  private readonly ownPorts: () => readonly number[];
  constructor(private readonly network: GateConfig['network'], opts: ResolverOptions | LookupFn = {}) {
    const o = typeof opts === 'function' ? { lookup: opts } : opts;
    this.lookup = o.lookup ?? ((h) => dnsLookup(h, { verbatim: true }));
    this.ownPorts = o.ownPorts ?? (() => []);
    this.allow = allowList(network.allowCidrs);
    this.hosts = new Map(Object.entries(network.hosts).map(([k, v]) => [k.toLowerCase().replace(/\.$/, ''), v]));
  }

  /** Resolves `req.host` once (IP literals and `network.hosts` without DNS) and checks the answer. */
  async resolve(req: Pick<NormalizedRequest, 'host' | 'hostIsIp'> & Partial<Pick<NormalizedRequest, 'port'>>): Promise<Resolution> {
    let address: string;
    let family: 4 | 6;
    const override = this.hosts.get(req.host);
    if (req.hostIsIp) {
      address = req.host;
      family = req.host.includes(':') ? 6 : 4;
    } else if (override) {
      address = override;
      family = override.includes(':') ? 6 : 4;
    } else {
      try {
        const r = await this.lookup(req.host);
        address = r.address;
        family = r.family === 6 ? 6 : 4;
      } catch (e) {
        return { ok: false, private: false, detail: `cannot resolve ${req.host} (${(e as { code?: string }).code ?? 'error'})` };
      }
    }
    if (req.port !== undefined && this.ownPorts().includes(req.port) && isThisHost(address)) {
      return { ok: false, private: true, detail: `${req.host}:${req.port} is the gate's own listener` };
    }
    if (this.network.blockPrivate && isPrivateAddress(address, this.allow)) {
      return { ok: false, private: true, detail: `${req.host} resolves to a private address` };
    }
    return { ok: true, address, family };
  }
}

/**
 * The address a cleared attempt connects to: the one checked when it was decided, or — when
 * the name did not resolve then — a fresh resolution, checked the same way. Every path that
 * opens an upstream connection (forward, tunnel route, upgrade) takes its address from here.
 */
export async function connectAddress(resolver: Pick<DestinationResolver, 'resolve'>, request: NormalizedRequest, checked: string | undefined): Promise<Resolution> {
  if (checked !== undefined) return { ok: true, address: checked, family: checked.includes(':') ? 6 : 4 };
  return resolver.resolve(request);
}

/**
 * explain's resolver: no DNS query. IP literals and `network.hosts` entries are checked like
 * the gate checks them; any other name is "not resolved offline" (neither allowed nor
 * private, as for a name that does not resolve: authorization is still decided).
 */
export class OfflineResolver {
  private readonly checker: DestinationResolver;
  private readonly hosts: ReadonlySet<string>;
  constructor(network: GateConfig['network']) {
    this.checker = new DestinationResolver(network, { lookup: async () => { throw new Error('offline'); } });
    this.hosts = new Set(Object.keys(network.hosts).map((k) => k.toLowerCase().replace(/\.$/, '')));
  }

  async resolve(req: NormalizedRequest): Promise<Resolution> {
    if (!req.hostIsIp && !this.hosts.has(req.host)) return { ok: false, private: false, detail: 'not resolved offline' };
    return this.checker.resolve(req);
  }
}
