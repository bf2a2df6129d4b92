/**
 * `egress-gate receipts show [--follow] PATH…` (SPEC §2): each receipt line decoded as one
 * JSON object (`kid`, `typ`, then the payload) a line. Signatures are not checked here; that is
 * `receipts verify`. A line that does not decode is shown as `{file, line, error}`.
 */
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { decodeReceiptLine } from '../../receipts/receipt-codec.js';
import { tailReceiptLines, type TailedLine } from '../../receipts/tail-receipts.js';
import { UsageError, type Command } from './command.js';

const usage = `usage: egress-gate receipts show [--follow] PATH…
  Prints receipts decoded, one JSON object a line, in chain order. PATH: the receipts folder
  or its files.
  --follow  keep printing new receipts as they are written, into rotated files too (until
            interrupted)`;

/** One receipt line as printed by `receipts show`. */
export function showLine(t: TailedLine): string {
  try {
    const { header, payload } = decodeReceiptLine(t.line);
    return JSON.stringify({ kid: header.kid, typ: header.typ, ...payload });
  } catch (e) {
    return JSON.stringify({ file: t.file, line: t.lineNo, error: (e as Error).message });
  }
}

export const command: Command = {
  name: 'receipts show',
  summary: 'print receipts decoded, one JSON object a line',
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: { follow: { type: 'boolean', short: 'f' } },
    });
    if (positionals.length === 0) throw new UsageError('no PATH given');
    const ac = new AbortController();
    const stop = (): void => ac.abort();
    // A reader that went away (`| head`) ends the command quietly, as for other line tools.
    const gone = (): void => ac.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    process.stdout.on('error', gone);
    try {
      for await (const t of tailReceiptLines(positionals, { follow: values.follow === true, signal: ac.signal })) {
        if (ac.signal.aborted) break;
        if (!process.stdout.write(`${showLine(t)}\n`)) await once(process.stdout, 'drain', { signal: ac.signal }).catch(() => undefined);
      }
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
    return 0;
  },
};
