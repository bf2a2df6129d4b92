/**
 * One client connection's arrivals, one at a time and in order (RFC 9112 §9.3, §9.6). Node's
 * HTTP server parses pipelined requests eagerly and dispatches each ('request', 'upgrade',
 * 'connect', 'clientError') while the one before it is still being decided; here each waits
 * for the one before it to end, and when that one closed the connection (a REQUEST_INVALID
 * or other closing answer, a client `Connection: close`, an upgrade, a tunnel, a parser
 * refusal), nothing behind it is ever decided, recorded or forwarded: it is dropped.
 *
 * Every arrival handler of an agent-facing server (the proxy port and interception's inner
 * servers) takes its turn here — gate.ts wires them — so no path can decide a request that
 * arrived behind a closing one, and no answer can overtake an earlier one on the wire.
 */

/** How a turn left its connection: still usable for the next request, or closing. */
export type TurnEnd = 'open' | 'close';

interface ConnectionState { tail: Promise<void>; pending: number; closed: boolean }

export class ConnectionTurns {
  private readonly state = new WeakMap<object, ConnectionState>();
  private readonly lastMessage = new WeakMap<object, { complete: boolean }>();

  /** Remembers the latest request parsed on `conn` (an IncomingMessage: `complete` once its body has arrived). */
  noteMessage(conn: object, msg: { complete: boolean }): void {
    this.lastMessage.set(conn, msg);
  }

  /**
   * The latest request on `conn` is still receiving its body: a parser error now lies in that
   * body (a bad chunk, the client's end mid-body), and its refusal must not wait for the turn
   * that waits for the body.
   */
  bodyIncomplete(conn: object): boolean {
    const m = this.lastMessage.get(conn);
    return m !== undefined && !m.complete;
  }

  /**
   * Runs `turn` once every earlier turn on `conn` has ended — at once, synchronously up to its
   * first await, when none is pending (the handler must meet its request in the event that
   * dispatched it: a body read attached later misses a client that leaves). When an earlier
   * turn closed the connection, `turn` never runs and `dropped` does. A turn that throws
   * closes the connection. Never rejects.
   */
  run(conn: object, turn: () => Promise<TurnEnd>, dropped: () => void): Promise<void> {
    let s = this.state.get(conn);
    if (!s) { s = { tail: Promise.resolve(), pending: 0, closed: false }; this.state.set(conn, s); }
    const st = s;
    const go = async (): Promise<void> => {
      try {
        if (st.closed) { dropped(); return; }
        let end: TurnEnd = 'close';
        try { end = await turn(); } catch { /* handlers never throw; if one did, the connection ends */ }
        if (end === 'close') st.closed = true;
      } finally {
        st.pending--;
      }
    };
    st.pending++;
    const next = st.pending === 1 ? go() : st.tail.then(go);
    st.tail = next;
    return next;
  }
}
