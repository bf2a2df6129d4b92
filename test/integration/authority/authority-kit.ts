/**
 * Test kit for the authority integration tests: what they assert on (decisions in receipts,
 * blocked answers, metric values), plus the shared servers and fixtures of test/kit/.
 */
import type http from 'node:http';
export { bundleHandler, eventually, makeTlsFixture, signBundle, sleep, switchable, type Handler, type Switchable, type TlsFixture } from '../../kit/servers.js';

export function decisionsFor(receipts: { payload: any }[], url: string): any[] {
  return receipts.map((r) => r.payload).filter((p) => p.kind === 'decision' && p.request?.url === url);
}

/** A blocked answer: status, problem+json, Egress-* headers, Retry-After on SILENCE. Returns the receipt id. */
export function assertBlocked(
  assert: typeof import('node:assert/strict'),
  ans: { status: number; headers: http.IncomingHttpHeaders; json?: any; text: string },
  decision: 'DENY' | 'SILENCE', reason: string,
): string {
  const status = decision === 'SILENCE' ? 503 : 403;
  assert.equal(ans.status, status, `status (${ans.text.slice(0, 300)})`);
  assert.equal(ans.headers['egress-decision'], decision);
  assert.equal(ans.headers['egress-reason'], reason);
  assert.match(String(ans.headers['content-type']), /application\/problem\+json/);
  assert.equal(ans.json?.reason, reason);
  if (decision === 'SILENCE') assert.match(String(ans.headers['retry-after']), /^\d+$/, 'Retry-After');
  else assert.equal(ans.headers['retry-after'], undefined);
  const id = ans.headers['egress-receipt'];
  assert.equal(typeof id, 'string');
  return id as string;
}

/** Scrapes one Prometheus sample value (0 when absent). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{[^}]*\})?\s+([^\s]+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const ls = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => ls.includes(`${k}="${v}"`))) return Number(m[3]);
  }
  return 0;
}
