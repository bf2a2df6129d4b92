/**
 * The gate's HTTP servers: the options every server that parses agent
 * requests shares (the proxy port and interception's inner servers); listen() is runtime/listen.ts.
 */
import http from 'node:http';
import type { GateConfig } from '../../policy/types.js';

/** Largest header block accepted: a 100 KB permit must reach the permit check (PERMIT_MALFORMED), not die in the parser. */
const MAX_HEADER_BYTES = 256 * 1024;
/** A whole request (headers and body) must arrive within this; header_timeout cuts slow headers sooner. */
const REQUEST_TIMEOUT_MS = 5 * 60_000;

/** Server options for every server that parses agent requests. */
export function agentServerOptions(config: Pick<GateConfig, 'limits'>): http.ServerOptions {
  const headersTimeout = config.limits.headerTimeoutMs;
  return {
    maxHeaderSize: MAX_HEADER_BYTES, headersTimeout, requestTimeout: Math.max(REQUEST_TIMEOUT_MS, headersTimeout), keepAliveTimeout: 30_000,
    // A missing Host is refused by parseRequest (problem+json, receipt), not by Node's bare 400.
    requireHostHeader: false,
    // Node checks both timeouts on this tick (default 30 s): keep it well under header_timeout.
    connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(headersTimeout / 4))),
  };
}

/**
 * Sets what every agent-facing server needs besides its options: the parser-refusal handler,
 * and no header-count limit in Node's parser — Node 20 silently drops lines past it (a second
 * Host or permit could hide there) and Node 24 refuses with 431. The header block is bounded
 * by maxHeaderSize, and parse-request refuses more than MAX_HEADER_LINES with a receipt.
 */
export function guardAgentServer(server: http.Server, onClientError: (err: NodeJS.ErrnoException, socket: import('node:stream').Duplex) => void): void {
  server.on('clientError', onClientError);
  server.maxHeadersCount = 0;
}
