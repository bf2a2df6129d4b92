/**
 * Requests Node's HTTP parser refuses before the pipeline sees them (CL with TE, bad header
 * syntax, an oversized header block, a slow-drip client past header_timeout): each still gets
 * a decision receipt (DENY REQUEST_INVALID, nothing of the request but that it was refused),
 * a count in egress_gate_parse_errors_total and egress_gate_decisions_total, a warn line, and
 * the problem+json answer of respond.ts — so Egress-Receipt is absent only when the receipt
 * itself could not be written. The connection is closed after the answer.
 *
 * A client that simply goes away (a reset, a close in the middle of a request: the end of a
 * `git clone`, a killed curl) is not an attack and not a parse error: logged at debug, not
 * counted, no receipt (nothing was decided), the socket destroyed.
 */
import type { Duplex } from 'node:stream';
import type { Decision } from '../../policy/types.js';
import type { ConnectionTurns } from '../lifecycle/connection-turns.js';
import type { Logger } from '../../runtime/logger.js';
import type { GateMetrics } from '../observe/metrics.js';
import type { Recorder } from '../pipeline/record.js';
import { blockedResponse } from '../wire/respond.js';
import { writeRaw } from '../wire/write-raw.js';

/** Parser errors that mean the client left, not that it sent something malformed. */
const CLIENT_GONE = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'HPE_INVALID_EOF_STATE']);

export function isClientGone(err: NodeJS.ErrnoException): boolean {
  return err.code !== undefined && CLIENT_GONE.has(err.code);
}

export interface MalformedDeps {
  recorder: Recorder;
  metrics: GateMetrics;
  log: Logger;
  /** The refusal waits its turn on the connection: after the answers to the requests before it, never instead of them. */
  turns: ConnectionTurns;
}

/** The 'clientError' handler of the gate's HTTP servers: one refusal (with its receipt) per connection. */
export function refuseMalformed(deps: MalformedDeps): (err: NodeJS.ErrnoException, socket: Duplex) => void {
  // A socket is answered once. While its answer waits for the receipt, the parser may report
  // the same bad input again as more of it arrives: ignored. After the answer, another error
  // (the client's own close) ends the socket.
  const answering = new WeakMap<Duplex, 'pending' | 'answered'>();
  return (err, socket) => {
    const state = answering.get(socket);
    if (state === 'pending') return;
    if (state === 'answered') { socket.destroy(); return; }
    if (isClientGone(err)) {
      deps.log.debug({ code: err.code }, 'client went away');
      socket.destroy();
      return;
    }
    answering.set(socket, 'pending');
    if (!socket.writable) { socket.destroy(); return; }
    // Read and discard what the client still sends while the receipt is written: closing a
    // socket with unread input resets it, and the client would never see the answer.
    socket.on('data', () => undefined);
    socket.resume();
    // Bytes after a request that closed the connection (HPE_CLOSED_CONNECTION) are no request:
    // the closing turn before them drops this one, unanswered and unrecorded (RFC 9112 §9.6).
    const refuse = async (): Promise<'close'> => {
      deps.metrics.parseErrors.inc();
      deps.log.warn({ code: err.code }, 'malformed request refused by the HTTP parser');
      setTimeout(() => socket.destroy(), 5000).unref();
      const timedOut = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'ERR_HTTP_HEADERS_TIMEOUT';
      const d: Decision = {
        decision: 'DENY', reason: 'REQUEST_INVALID',
        detail: timedOut ? 'the request was not received in time' : `the HTTP parser refused the request (${err.code ?? 'error'})`,
      };
      try {
        const r = await deps.recorder.refusal(d);
        // A client that never finished its header block is told so (408), as HTTP servers do.
        answering.set(socket, 'answered');
        writeRaw(socket, blockedResponse(r.decision, r.receiptId, timedOut && r.receiptId ? 408 : undefined));
      } catch {
        socket.destroy();
      }
      return 'close';
    };
    // The error lies in the body of the request being handled (its turn waits for that body):
    // answered at once, and the closed socket ends that request's turn as a client abort.
    if (deps.turns.bodyIncomplete(socket)) { void refuse(); return; }
    void deps.turns.run(socket, refuse, () => { setTimeout(() => socket.destroy(), 5000).unref(); });
  };
}
