/**
 * A gate for the console tests: an origin, route maps with an open route, a deny route, a
 * report-mode permit route and a permit route, one expired and one active exception.
 */
import { startOrigin, workspace, type GateWorkspace, type Origin } from '../harness.js';

export interface ConsoleWorld { ws: GateWorkspace; origin: Origin; base: string }

export async function consoleWorkspace(config?: (c: Record<string, any>) => void): Promise<{ ws: GateWorkspace; origin: Origin }> {
  const origin = await startOrigin();
  const port = origin.port;
  const ws = await workspace({
    routes: {
      routes: [
        { surface: 'docs', action: 'read', match: { scheme: 'http', host: 'open.it', port, method: 'GET', path: '/docs/**' }, authorize: 'none' },
        { surface: 'docs', action: 'secrets.read', match: { scheme: 'http', host: 'open.it', port, method: 'GET', path: '/secrets/**' }, authorize: 'deny' },
        { surface: 'payments', action: 'charge.create', match: { scheme: 'http', host: 'api.it', port, method: 'POST', path: '/v1/charges' }, authorize: 'permit', mode: 'report' },
        { surface: 'notes', action: 'create', match: { scheme: 'http', host: 'api.it', port, method: 'POST', path: '/notes' }, authorize: 'permit', bind_body: true },
        { surface: 'payments', action: 'refund.create', match: { scheme: 'https', host: 'api.it', port: 8443, method: 'POST', path: '/v1/refunds' }, authorize: 'permit' },
      ],
      exceptions: [
        { id: 'EXC-OLD', surface: 'payments', action: 'refund.create', reason: 'migration window', approved_by: ['alice@sec', 'bob@sec'], expires: '2020-01-01T00:00:00Z' },
        { id: 'EXC-NOW', surface: 'notes', action: 'create', reason: 'incident 42', approved_by: ['carol@sec'], expires: '2099-01-01T00:00:00Z' },
      ],
    },
    config,
  });
  return { ws, origin };
}
