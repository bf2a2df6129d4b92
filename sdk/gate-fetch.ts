/**
 * `gateFetch()`: a fetch that goes through the gate, typed for `strict` projects. The global
 * fetch's RequestInit has no `dispatcher` in @types/node (TS2769 under strict), and Node 20's
 * built-in fetch ignores every proxy variable; this uses undici's own fetch with the gate
 * dispatcher, so the types and the routing are both right on Node 20 and 24.
 */
import { fetch, type Dispatcher, type RequestInit, type Response } from 'undici';
import { gateDispatcher, type GateDispatcherOptions } from './gate-dispatcher.js';

/** What gateFetch() returns: fetch without a dispatcher of its own (the gate's is set). */
export type GateFetch = (input: string | URL, init?: Omit<RequestInit, 'dispatcher'>) => Promise<Response>;

/**
 * A fetch through the gate: `gateFetch({ proxyUrl, caPem })` (trusting the gate CA besides the
 * system roots), or `gateFetch({ dispatcher })` with a dispatcher of your own.
 */
export function gateFetch(opts: GateDispatcherOptions | { dispatcher: Dispatcher }): GateFetch {
  const dispatcher = 'dispatcher' in opts ? opts.dispatcher : gateDispatcher(opts);
  return (input, init) => fetch(input, { ...init, dispatcher });
}
