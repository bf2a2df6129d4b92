/**
 * `egress-gate arbiter pending|approve ID|deny ID --url URL --token TOKEN [--note TEXT]`:
 * the approver's side of SPEC §12 over the arbiter's API. TOKEN may be `@FILE` (read from a file).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { RuntimeError, UsageError, type Command } from './command.js';

function tokenOf(t: string): string {
  return t.startsWith('@') ? readFileSync(t.slice(1), 'utf8').trim() : t;
}

async function call(url: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  let res: Response;
  try {
    res = await fetch(new URL(path, url), {
      method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}), signal: AbortSignal.timeout(10_000),
    });
  } catch (e) {
    throw new RuntimeError(`cannot reach the arbiter at ${url}: ${(e as Error).message}`);
  }
  const text = await res.text();
  let json: any;
  try { json = JSON.parse(text); } catch { json = { detail: text }; }
  return { status: res.status, json };
}

function make(name: 'pending' | 'approve' | 'deny'): Command {
  const usage = `usage: egress-gate arbiter ${name}${name === 'pending' ? '' : ' ID'} --url URL --token TOKEN${name === 'pending' ? ' [--json]' : ' [--note TEXT]'}
  URL: the arbiter (http://127.0.0.1:8181). TOKEN: an approver token, or @FILE.`;
  return {
    name: `arbiter ${name}`,
    summary: name === 'pending' ? 'list the permit requests waiting for a person' : `${name} a waiting permit request`,
    usage,
    async run(argv) {
      const { values, positionals } = parseArgs({ args: argv, strict: true, allowPositionals: true, options: { url: { type: 'string' }, token: { type: 'string' }, note: { type: 'string' }, json: { type: 'boolean' } } });
      if (!values.url || !values.token) throw new UsageError('--url and --token are required');
      const token = tokenOf(values.token);
      if (name === 'pending') {
        if (positionals.length > 0) throw new UsageError('pending takes no ID');
        const r = await call(values.url, token, 'GET', '/v1/approvals');
        if (r.status !== 200) throw new RuntimeError(`arbiter answered ${r.status}: ${r.json.reason ?? ''} ${r.json.detail ?? ''}`.trim());
        const waiting = r.json.waiting as Record<string, any>[];
        if (values.json) process.stdout.write(`${JSON.stringify(waiting)}\n`);
        else if (waiting.length === 0) process.stdout.write('nothing waits\n');
        else for (const w of waiting) process.stdout.write(`${w.request_id}  ${w.subject}  ${w.surface}/${w.action}  ${w.request.method} ${w.request.url}  ${w.approvals.length}/${w.approvals_needed}  ${w.reason ?? ''}\n`);
        return 0;
      }
      if (positionals.length !== 1) throw new UsageError(`${name} needs one request ID`);
      const r = await call(values.url, token, 'POST', `/v1/approvals/${encodeURIComponent(positionals[0] as string)}`, { approve: name === 'approve', ...(values.note ? { note: values.note } : {}) });
      if (r.status !== 200) {
        process.stderr.write(`egress-gate arbiter ${name}: ${r.status} ${r.json.reason ?? ''}: ${r.json.detail ?? ''}\n`);
        return 1;
      }
      process.stdout.write(`${r.json.request_id}: ${r.json.state} (${r.json.approvals.length} of ${r.json.approvals_needed} approvals)\n`);
      return 0;
    },
  };
}

export const pending = make('pending');
export const approve = make('approve');
export const deny = make('deny');
