// proxy/observe/metrics.ts: the default process metrics carry our prefix once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMetrics } from '../../../../proxy/observe/metrics.js';

test('default metrics are egress_gate_process_… and egress_gate_nodejs_…, never egress_gate_process_process_…', async () => {
  const text = await createMetrics().registry.metrics();
  assert.match(text, /^egress_gate_process_cpu_user_seconds_total /m);
  assert.match(text, /^egress_gate_process_resident_memory_bytes /m);
  assert.match(text, /^egress_gate_nodejs_eventloop_lag_seconds /m);
  assert.doesNotMatch(text, /process_process|egress_gate_process_nodejs/);
  assert.match(text, /^# TYPE egress_gate_decisions_total counter/m);
});
