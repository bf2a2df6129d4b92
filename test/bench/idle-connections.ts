/**
 * Scenario: what idle keep-alive clients cost a proxy's memory. Opens `count` client
 * connections to the proxy, sends one small GET on each (so each is a kept-alive HTTP
 * connection with its parser, its upstream leg and its timers), waits for every answer and
 * lets the process settle, then reads the proxy's VmRSS: the difference from before is what
 * the connections added. Also reports the RSS of the process as started (idle, no request).
 */
import net from 'node:net';
import { rssMiB } from './lib/proc-stats.js';

export interface IdleResult {
  idleRssMiB: number; beforeMiB: number; afterMiB: number; addedMiB: number; connections: number;
  /** With an admin port (the gate): V8 heap total and used, and external memory, MiB added (prom-client's default metrics). */
  heap?: { totalMiB: number; usedMiB: number; externalMiB: number };
  /** With an admin port: the same three as started (idle), MiB. */
  idleHeap?: { totalMiB: number; usedMiB: number; externalMiB: number };
}

/** nodejs_heap_size_total/used_bytes and nodejs_external_memory_bytes from a gate's /metrics, MiB. */
async function heapOf(adminPort: number): Promise<{ total: number; used: number; external: number } | undefined> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
    const v = (name: string) => Number(new RegExp(`^egress_gate_nodejs_${name} (\\S+)$`, 'm').exec(text)?.[1]) / 2 ** 20;
    return { total: v('heap_size_total_bytes'), used: v('heap_size_used_bytes'), external: v('external_memory_bytes') };
  } catch { return undefined; }
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

function oneRequest(proxyPort: number, authority: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(proxyPort, '127.0.0.1');
    let head = '';
    const onData = (d: Buffer) => {
      head += d.toString('latin1');
      const i = head.indexOf('\r\n\r\n');
      const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      if (i < 0 || !cl || head.length < i + 4 + Number(cl[1])) return;
      sock.off('data', onData);
      if (!head.startsWith('HTTP/1.1 200')) { sock.destroy(); reject(new Error(`idle: unexpected answer ${head.slice(0, 200)}`)); return; }
      resolve(sock);
    };
    sock.on('data', onData);
    sock.once('error', reject);
    sock.once('connect', () => sock.write(`GET http://${authority}/none/idle HTTP/1.1\r\nHost: ${authority}\r\n\r\n`));
  });
}

/** `idleRssMiB` is read first (the process as started); then one request, then `count` connections. */
export async function idleConnections(o: { pid: number; proxyPort: number; originPort: number; count: number; settleMs?: number; adminPort?: number }): Promise<IdleResult> {
  const authority = `127.0.0.1:${o.originPort}`;
  const settleMs = o.settleMs ?? 1500;
  const idleRssMiB = rssMiB(o.pid)!;
  const hi = o.adminPort ? await heapOf(o.adminPort) : undefined;
  const idleHeap = hi ? { totalMiB: hi.total, usedMiB: hi.used, externalMiB: hi.external } : undefined;
  (await oneRequest(o.proxyPort, authority)).destroy();
  await settle(settleMs);
  const beforeMiB = rssMiB(o.pid)!;
  const h0 = o.adminPort ? await heapOf(o.adminPort) : undefined;
  const socks: net.Socket[] = [];
  try {
    // In waves of 100, as agents connecting over a few seconds would; all stay open.
    for (let i = 0; i < o.count; i += 100) socks.push(...await Promise.all(Array.from({ length: Math.min(100, o.count - i) }, () => oneRequest(o.proxyPort, authority))));
    await settle(settleMs);
    const afterMiB = rssMiB(o.pid)!;
    const h1 = o.adminPort ? await heapOf(o.adminPort) : undefined;
    const heap = h0 && h1 ? { totalMiB: h1.total - h0.total, usedMiB: h1.used - h0.used, externalMiB: h1.external - h0.external } : undefined;
    return { idleRssMiB, beforeMiB, afterMiB, addedMiB: afterMiB - beforeMiB, connections: socks.length, ...(heap ? { heap } : {}), ...(idleHeap ? { idleHeap } : {}) };
  } finally {
    for (const s of socks) s.destroy();
  }
}
