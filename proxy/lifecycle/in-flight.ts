/**
 * In flight = a handler run not yet finished, its outcome receipt included. The drain at stop
 * waits for these, so `stop` is written after every receipt of a drained request.
 */
export class InFlight {
  private count = 0;
  private waiters: (() => void)[] = [];

  /** Requests (and tunnels, upgrades) being handled right now. */
  get size(): number { return this.count; }

  /** Counts `run` until it settles. */
  track(run: Promise<void>): Promise<void> {
    this.count++;
    return run.finally(() => {
      this.count--;
      if (this.count === 0) for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Resolves when nothing is in flight, or after `ms`, whichever comes first. */
  async drained(ms: number): Promise<void> {
    if (this.count === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((r) => { this.waiters.push(r); }),
      new Promise<void>((r) => { timer = setTimeout(r, ms); }),
    ]);
    clearTimeout(timer);
  }
}
