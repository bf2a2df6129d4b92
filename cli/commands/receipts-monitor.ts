/**
 * `egress-gate receipts monitor --url ADMIN_URL --key KEY --state FILE` (SPEC §2, §10): one
 * round of watching a gate's log (receipts/monitor-log.ts). Exit 0 kept (one line on stdout),
 * 1 refused with FILE untouched (bad signature, smaller tree, a tree that does not extend the
 * kept one), 2 usage or a round that could not be made (gate unreachable, unreadable state).
 */
import { parseArgs } from 'node:util';
import { loadLogKey, LogKeyError } from '../../receipts/log-key.js';
import { monitorLog, MonitorError } from '../../receipts/monitor-log.js';
import { RuntimeError, UsageError, type Command } from './command.js';

const usage = `usage: egress-gate receipts monitor --url ADMIN_URL --key KEY --state FILE
  Fetches the gate's newest checkpoint (GET /receipts/checkpoint) and a consistency proof
  from the checkpoint kept in FILE (GET /receipts/consistency?from=SIZE), verifies both, then
  keeps the new checkpoint in FILE (atomically). With no FILE yet, verifies and keeps.
  --url ADMIN_URL  the gate's admin base URL, e.g. http://127.0.0.1:3129
  --key KEY        the log's verifier key or a JWKS holding its Ed25519 key: pinned, never
                   fetched from the gate being checked
  --state FILE     the kept checkpoint; keep it out of the gate's reach
Exit 0 kept, 1 refused (FILE untouched), 2 usage or the gate could not be asked.`;

export const command: Command = {
  name: 'receipts monitor',
  summary: "check that a gate's newest checkpoint extends the one kept, then keep it",
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: { url: { type: 'string' }, key: { type: 'string' }, state: { type: 'string' } },
    });
    void positionals;
    if (!values.url || !/^https?:\/\//.test(values.url)) throw new UsageError('--url ADMIN_URL (http:// or https://) is required');
    if (!values.key) throw new UsageError('--key KEY is required');
    if (!values.state) throw new UsageError('--state FILE is required');
    try {
      const key = await loadLogKey(values.key);
      const r = await monitorLog({ url: values.url, key, stateFile: values.state });
      if (!r.ok) {
        process.stdout.write(`${values.url}: ${r.reason}; ${values.state} unchanged\n`);
        return 1;
      }
      process.stdout.write(r.first
        ? `ok: first checkpoint kept: tree size ${r.size}, root ${r.root}\n`
        : `ok: tree size ${r.from} -> ${r.size} is consistent; kept tree size ${r.size}, root ${r.root}\n`);
      return 0;
    } catch (e) {
      if (e instanceof LogKeyError || e instanceof MonitorError) throw new RuntimeError(e.message);
      throw e;
    }
  },
};
