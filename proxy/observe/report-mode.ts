/**
 * Report mode is loud (SPEC §8): the `egress_gate_report_mode` gauge for the gate and each
 * route in it, and a warn line per route whenever a policy takes effect.
 */
import type { CompiledPolicy, GateMode } from '../../policy/types.js';
import { reportRoutes } from '../pipeline/decide.js';
import type { Logger } from '../../runtime/logger.js';
import type { GateMetrics } from './metrics.js';

/** Sets the report-mode gauge for the gate and policy `p`, warning once per route in report mode. */
export function showReportMode(deps: { metrics: GateMetrics; log: Logger }, gateMode: GateMode, p: CompiledPolicy | undefined): void {
  deps.metrics.reportMode.reset();
  if (gateMode === 'report') deps.metrics.reportMode.set({ scope: 'gate', surface: '', action: '' }, 1);
  for (const r of reportRoutes(p)) {
    deps.metrics.reportMode.set({ scope: 'route', surface: r.surface, action: r.action }, 1);
    deps.log.warn({ surface: r.surface, action: r.action }, 'route in report mode: its decisions are recorded but NOT enforced');
  }
}
