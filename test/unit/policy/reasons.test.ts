/**
 * The reason registry (policy/reasons.ts) is SPEC §7's table: every reason of the SPEC with
 * its decision, and every reason documented in the README. A reason added to the SPEC but
 * not here, or here but not in the README, fails.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DENY_REASONS, PERMIT_REASONS, REASONS, SILENCE_REASONS, decisionOf, isReason, type Reason } from '../../../policy/reasons.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const spec = fs.readFileSync(path.join(root, '..', 'shared', 'SPEC.md'), 'utf8');
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');

/** SPEC §7's table: `| DECISION | `A`, `B`, … |`. */
function specTable(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const section = spec.slice(spec.indexOf('## 7.'), spec.indexOf('## 8.'));
  for (const m of section.matchAll(/^\| (PERMIT|DENY|SILENCE) \| (.+) \|$/gm)) out.set(m[1]!, [...m[2]!.matchAll(/`([A-Z_]+)`/g)].map((x) => x[1]!));
  return out;
}

describe('the reason registry', () => {
  it('holds exactly the reasons of SPEC §7, each under its decision', () => {
    const table = specTable();
    assert.deepEqual([...table.keys()].sort(), ['DENY', 'PERMIT', 'SILENCE']);
    assert.deepEqual([...PERMIT_REASONS].sort(), [...table.get('PERMIT')!].sort());
    assert.deepEqual([...DENY_REASONS].sort(), [...table.get('DENY')!].sort());
    assert.deepEqual([...SILENCE_REASONS].sort(), [...table.get('SILENCE')!].sort());
  });

  it('gives each reason the SPEC §7 status: DENY 403 but 409, 413, 400; SILENCE 503', () => {
    const special: Partial<Record<Reason, number>> = { PERMIT_IN_FLIGHT: 409, BODY_TOO_LARGE: 413, REQUEST_INVALID: 400 };
    for (const r of DENY_REASONS) assert.equal(REASONS[r].status, special[r] ?? 403, r);
    for (const r of SILENCE_REASONS) assert.equal(REASONS[r].status, 503, r);
  });

  it('has one title style: a sentence starting with a capital, no final period, none repeated', () => {
    const titles = Object.values(REASONS).map((i) => i.title);
    for (const t of titles) assert.match(t, /^[A-Z][^.]*[a-z0-9]$/, t);
    assert.equal(new Set(titles).size, titles.length);
  });

  it('every reason is documented in the README', () => {
    for (const r of Object.keys(REASONS)) assert.ok(readme.includes(`\`${r}\``), `README does not mention \`${r}\``);
  });

  it('decisionOf and isReason agree with the registry and refuse unknown codes', () => {
    for (const [r, info] of Object.entries(REASONS)) assert.equal(decisionOf(r as Reason), info.decision);
    assert.equal(isReason('PERMIT_VALID'), true);
    assert.equal(isReason('permit_valid'), false);
    assert.equal(isReason('toString'), false);
    assert.throws(() => decisionOf('NOPE' as Reason), TypeError);
  });
});

// Compile-time: each decision's reason type is the SPEC's set, not `never` or all reasons.
const _deny: import('../../../policy/reasons.js').DenyReason = 'ROUTE_DENY';
const _silence: import('../../../policy/reasons.js').SilenceReason = 'INTERNAL_ERROR';
const _permit: import('../../../policy/reasons.js').PermitReason = 'EXCEPTION';
// @ts-expect-error a DENY reason is not a PERMIT reason
const _wrong: import('../../../policy/reasons.js').PermitReason = 'ROUTE_DENY';
void [_deny, _silence, _permit, _wrong];
