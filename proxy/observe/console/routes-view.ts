/**
 * The console's routes view: the route maps in effect, grouped by surface, each route with
 * its match, authorize mode, effective mode (report or enforce) and must_enforce; the
 * exceptions with expiry and approvers (an expired one marked); the policy version, digest
 * and the last refused reload. A route's brokered credential is never included (only whether
 * it has one).
 */
import type { CompiledPolicy, GateMode } from '../../../policy/types.js';
import type { PolicyStatus } from '../../../runtime/policy-source.js';
import { modeFor } from '../../pipeline/decide.js';

const at = (w: { file: string; line: number; col: number }) => `${w.file}:${w.line}:${w.col}`;

export function routesView(policy: CompiledPolicy | undefined, status: PolicyStatus, gateMode: GateMode, nowMs: number): Record<string, unknown> {
  const surfaces = new Map<string, Record<string, unknown>[]>();
  for (const r of policy?.routes ?? []) {
    const mode = modeFor(r, gateMode);
    const row = {
      surface: r.surface, action: r.action, match: r.match, authorize: r.authorize, mode, report: mode === 'report',
      must_enforce: r.mustEnforce, single_use: r.singleUse, bind_body: r.bindBody, bind_query: r.bindQuery,
      tunnel: r.tunnel, on_silence: r.onSilence, credential: r.credentials ? { header: r.credentials.header, secret: r.credentials.secret ?? null } : null,
      where: at(r.where),
    };
    surfaces.set(r.surface, [...(surfaces.get(r.surface) ?? []), row]);
  }
  return {
    gate_mode: gateMode,
    policy: status,
    surfaces: [...surfaces].map(([surface, routes]) => ({ surface, routes })),
    exceptions: (policy?.exceptions ?? []).map((e) => ({
      id: e.id, surface: e.surface, action: e.action, reason: e.reason, approved_by: e.approvedBy,
      expires: new Date(e.expires).toISOString(), expired: e.expires <= nowMs, where: at(e.where),
    })),
  };
}
