/**
 * `GET /readyz` (SPEC §10): ready only when route maps are loaded and fresh, issuer keys are
 * available, and the receipt log is writable. A refused reload does not make the gate unready
 * while the last good version is fresh; the body names it, and lists report mode.
 */
import type { GateConfig } from '../../policy/types.js';
import type { Readiness } from '../../runtime/admin-server.js';
import type { PolicySource } from '../../runtime/policy-source.js';
import { reportRoutes } from '../pipeline/decide.js';

/** The `/readyz` answer, computed at each request from the live parts. */
export function readinessOf(parts: {
  config: GateConfig;
  policy: PolicySource;
  keysReady: () => boolean;
  receiptsWritable: () => boolean;
}): () => Readiness {
  const { config, policy } = parts;
  return () => {
    const ps = policy.status();
    const keysReady = parts.keysReady();
    const writable = parts.receiptsWritable();
    return {
      ready: ps.fresh && keysReady && writable,
      mode: config.gate.mode,
      report: { gate: config.gate.mode === 'report', routes: reportRoutes(policy.policy).map((r) => `${r.surface}/${r.action}`) },
      policy: { ...ps, ready: ps.fresh },
      keys: { ready: keysReady },
      receipts: { writable },
    };
  };
}
