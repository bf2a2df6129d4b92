/**
 * `egress-gate receipts proof (--id ID | --seq N) PATH…` (SPEC §2, §9): the tlog-proof of one
 * entry against the newest checkpoint of the log files, computed offline by one pass over them
 * (receipts/proof-from-files.ts). Exit 0 with the proof on stdout; 1 when the files cannot prove
 * that entry (unknown, not yet sealed, a broken log); 2 usage or unreadable input.
 */
import { parseArgs } from 'node:util';
import { inclusionFromFiles, ProofError } from '../../receipts/proof-from-files.js';
import { listReceiptFiles } from '../../receipts/receipt-files.js';
import { formatTlogProof } from '../../receipts/tlog/tlog-proof.js';
import { RuntimeError, UsageError, type Command } from './command.js';

const usage = `usage: egress-gate receipts proof (--id ID | --seq N) PATH…
  Prints the inclusion proof of one entry (a c2sp.org/tlog-proof@v1 text: the entry bytes,
  its index, the RFC 9162 path, the checkpoint) against the newest checkpoint of the log
  files, offline. PATH: the receipts folder or its files, in any order.
  --id ID   the entry's id (the Egress-Receipt header of a response)
  --seq N   the entry's seq
Exit 0 printed, 1 the files cannot prove that entry, 2 usage or unreadable input.`;

export const command: Command = {
  name: 'receipts proof',
  summary: 'print the inclusion proof of one entry, from the log files',
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: { id: { type: 'string' }, seq: { type: 'string' } },
    });
    if ((values.id === undefined) === (values.seq === undefined)) throw new UsageError('give one of --id ID or --seq N');
    if (values.seq !== undefined && !/^(0|[1-9][0-9]*)$/.test(values.seq)) throw new UsageError(`--seq ${values.seq} is not a non-negative integer`);
    if (positionals.length === 0) throw new UsageError('no PATH given');
    let files: string[];
    try {
      files = await listReceiptFiles(positionals);
    } catch (e) {
      throw new RuntimeError(`cannot read ${positionals.join(' ')}: ${(e as Error).message}`);
    }
    if (files.length === 0) throw new RuntimeError(`no receipt log file in ${positionals.join(' ')}`);
    try {
      const p = await inclusionFromFiles(files, values.seq !== undefined ? { seq: Number(values.seq) } : { id: values.id! });
      process.stdout.write(formatTlogProof({ extra: p.entryBytes, index: p.index, path: p.path, checkpoint: p.checkpoint }));
      return 0;
    } catch (e) {
      if (!(e instanceof ProofError)) throw e;
      process.stderr.write(`egress-gate receipts proof: ${e.message}\n`);
      return 1;
    }
  },
};
