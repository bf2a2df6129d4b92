/**
 * The in-process hub that feeds the admin console's live stream: record.ts publishes each
 * decision and outcome as it is recorded, and each watching console (an event stream) takes
 * them. Publishing never waits for a watcher: a listener only queues (bounded, see
 * event-stream.ts). Nobody watching costs one size check per decision (`watched`), so the
 * request path allocates nothing for the hub then.
 *
 * An event carries what the console may show, and nothing else: the normalized URL (scheme,
 * host, port and path: never the query), the JSON-RPC method and tool of an MCP call,
 * surface/action, decision, reason, enforced, the receipt id; for an outcome the status and byte counts. Never header values, bodies, tokens.
 */
import type { Decision, JsonRpcCall } from '../../../policy/types.js';

export interface DecisionEvent {
  type: 'decision';
  ts: string;
  receipt: string | null;
  /** The entry's seq in the log (null without an entry). */
  seq: number | null;
  method: string;
  /** The normalized URL, without the query; null for a request that could not be normalized. */
  url: string | null;
  /** The JSON-RPC call a `match.jsonrpc` route read from the body (SPEC §4), as the decision entry records it. */
  jsonrpc: { method: string; tool: string | null } | null;
  surface: string | null;
  action: string | null;
  decision: Decision['decision'];
  reason: string;
  enforced: boolean;
}

export interface OutcomeEvent {
  type: 'outcome';
  ts: string;
  of: string;
  receipt: string | null;
  status: number | null;
  bytes_up: number;
  bytes_down: number;
  ms: number | null;
  error: string | null;
}

export type ConsoleEvent = DecisionEvent | OutcomeEvent;

/** A watcher: takes an event without blocking (it queues or drops). */
export interface HubListener {
  offer(e: ConsoleEvent): void;
}

/** Where recorded decisions and outcomes go for the console. */
export class DecisionHub {
  readonly #listeners = new Set<HubListener>();

  /** True while some console watches: publishers build an event only then. */
  get watched(): boolean {
    return this.#listeners.size > 0;
  }

  get size(): number {
    return this.#listeners.size;
  }

  add(l: HubListener): void {
    this.#listeners.add(l);
  }

  delete(l: HubListener): void {
    this.#listeners.delete(l);
  }

  /** Hands `e` to every listener; a listener that throws is dropped, never the publisher's problem. */
  publish(e: ConsoleEvent): void {
    for (const l of this.#listeners) {
      try {
        l.offer(e);
      } catch {
        this.#listeners.delete(l);
      }
    }
  }
}

/** The event of one recorded decision (the caller checks `hub.watched` first). */
export function decisionEvent(
  d: Decision, enforced: boolean, entry: { receipt?: string; seq?: number }, method: string, url: string | null, jsonrpc?: JsonRpcCall,
): DecisionEvent {
  return {
    type: 'decision', ts: new Date().toISOString(), receipt: entry.receipt ?? null, seq: entry.seq ?? null, method, url,
    jsonrpc: jsonrpc ? { method: jsonrpc.method, tool: jsonrpc.tool ?? null } : null,
    surface: d.surface ?? null, action: d.action ?? null, decision: d.decision, reason: d.reason, enforced,
  };
}
