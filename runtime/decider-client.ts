/**
 * The online decider (SPEC §6): an OPA-compatible data API. Anything but a well-formed
 * answer within the timeout is SILENCE — the decider's silence never becomes a PERMIT.
 * After 5 failures in a row the client fails fast for 1 s, then lets one trial through.
 */
import { Pool, type Dispatcher } from 'undici';
import { upstreamSecureContext } from '../certs/upstream-trust.js';

/** What the decider is asked (SPEC §6 input), by the gate and by the arbiter. */
export interface DeciderInput {
  gate: string;
  subject: string | null;
  surface: string;
  action: string;
  request: {
    method: string; url: string; host: string; path: string;
    query_sha256: string | null; body_sha256: string | null; idempotency_key: string | null;
  };
  permit: Record<string, unknown> | null;
}

export type DeciderAnswer =
  | { decision: 'PERMIT'; reason: 'DECIDER_PERMIT'; detail: string }
  | { decision: 'DENY'; reason: 'DECIDER_DENY'; detail: string }
  | { decision: 'SILENCE'; reason: 'DECIDER_TIMEOUT' | 'DECIDER_ERROR'; detail: string };

export interface DeciderPort {
  ask(input: DeciderInput): Promise<DeciderAnswer>;
}

const FAILURES_TO_OPEN = 5;
const OPEN_MS = 1000;

export interface DeciderClientOptions {
  url: string;
  timeoutMs: number;
  /** Extra CAs for an https decider, trusted besides the system roots. */
  ca?: string[];
  clock?: () => number;
}

/** Asks the online decider (SPEC §6), with a timeout and fail-fast after repeated failures. */
export class DeciderClient implements DeciderPort {
  private readonly pool: Dispatcher;
  private readonly path: string;
  private readonly clock: () => number;
  private failures = 0;
  private openUntil = 0;
  private trialInFlight = false;

  constructor(private readonly opts: DeciderClientOptions) {
    const u = new URL(opts.url);
    this.path = `${u.pathname}${u.search}`;
    const secureContext = upstreamSecureContext(opts.ca);
    this.pool = new Pool(u.origin, {
      connections: 16,
      connect: { timeout: opts.timeoutMs, ...(secureContext ? { secureContext } : {}) },
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
    });
    this.clock = opts.clock ?? Date.now;
  }

  async ask(input: DeciderInput): Promise<DeciderAnswer> {
    const now = this.clock();
    if (now < this.openUntil || (this.failures >= FAILURES_TO_OPEN && this.trialInFlight)) {
      return { decision: 'SILENCE', reason: 'DECIDER_ERROR', detail: 'the decider failed repeatedly; failing fast' };
    }
    const trial = this.failures >= FAILURES_TO_OPEN;
    if (trial) this.trialInFlight = true;
    try {
      const answer = await this.call(input);
      if (answer.decision === 'SILENCE') this.failed();
      else this.failures = 0;
      return answer;
    } finally {
      if (trial) this.trialInFlight = false;
    }
  }

  private failed(): void {
    this.failures++;
    if (this.failures >= FAILURES_TO_OPEN) this.openUntil = this.clock() + OPEN_MS;
  }

  private async call(input: DeciderInput): Promise<DeciderAnswer> {
    const signal = AbortSignal.timeout(this.opts.timeoutMs);
    let status: number;
    let text: string;
    try {
      const res = await this.pool.request({
        path: this.path,
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ input }),
        signal,
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (e) {
      const code = (e as { code?: string; name?: string }).code ?? (e as Error).name;
      const timedOut = signal.aborted || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT';
      return timedOut
        ? { decision: 'SILENCE', reason: 'DECIDER_TIMEOUT', detail: `the decider did not answer within ${this.opts.timeoutMs} ms` }
        : { decision: 'SILENCE', reason: 'DECIDER_ERROR', detail: `the decider could not be reached (${code})` };
    }
    if (status !== 200) return { decision: 'SILENCE', reason: 'DECIDER_ERROR', detail: `the decider answered HTTP ${status}` };
    return interpretAnswer(text);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** OPA's answer shapes: {"result": {"decision", "reason"}} or {"result": true|false}. Anything else is DECIDER_ERROR. */
export function interpretAnswer(text: string): DeciderAnswer {
  let body: unknown;
  try { body = JSON.parse(text); } catch { return { decision: 'SILENCE', reason: 'DECIDER_ERROR', detail: 'the decider answered something that is not JSON' }; }
  if (!body || typeof body !== 'object' || !('result' in body)) {
    return { decision: 'SILENCE', reason: 'DECIDER_ERROR', detail: 'the decider answered without a result (undefined rule?)' };
  }
  const result = (body as { result: unknown }).result;
  if (result === true) return { decision: 'PERMIT', reason: 'DECIDER_PERMIT', detail: 'the decider permits' };
  if (result === false) return { decision: 'DENY', reason: 'DECIDER_DENY', detail: 'the decider denies' };
  if (result && typeof result === 'object') {
    const r = result as { decision?: unknown; reason?: unknown };
    const why = typeof r.reason === 'string' ? r.reason.slice(0, 200) : '';
    if (r.decision === 'PERMIT') return { decision: 'PERMIT', reason: 'DECIDER_PERMIT', detail: why || 'the decider permits' };
    if (r.decision === 'DENY') return { decision: 'DENY', reason: 'DECIDER_DENY', detail: why || 'the decider denies' };
  }
  return { decision: 'SILENCE', reason: 'DECIDER_ERROR', detail: 'the decider answered a result of an unknown shape' };
}
