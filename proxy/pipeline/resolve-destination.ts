/**
 * Resolves a destination once, checks it against block_private, and returns the address the
 * forwarder must connect to. Connecting to exactly the checked address (not resolving again)
 * is what keeps DNS rebinding from slipping between check and connect.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import type { BlockList } from 'node:net';
import { allowList, isPrivateAddress } from '../../policy/private-address.js';
import type { GateConfig, NormalizedRequest } from '../../policy/types.js';

export type Resolution =
  | { ok: true; address: string; family: 4 | 6 }
  | { ok: false; private: boolean; detail: string };

export type LookupFn = (host: string) => Promise<{ address: string; family: number }>;

export class DestinationResolver {
  private readonly allow: BlockList;
  private readonly hosts: Map<string, string>;
  constructor(private readonly network: GateConfig['network'], private readonly lookup: LookupFn = (h) => dnsLookup(h, { verbatim: true })) {
    this.allow = allowList(network.allowCidrs);
    this.hosts = new Map(Object.entries(network.hosts).map(([k, v]) => [k.toLowerCase().replace(/\.$/, ''), v]));
  }

  async resolve(req: Pick<NormalizedRequest, 'host' | 'hostIsIp'>): Promise<Resolution> {
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
    if (this.network.blockPrivate && isPrivateAddress(address, this.allow)) {
      return { ok: false, private: true, detail: `${req.host} resolves to a private address` };
    }
    return { ok: true, address, family };
  }
}
