/**
 * Renders every kustomization under deploy/ with `kubectl kustomize`, validates each
 * manifest against the Kubernetes schemas (kubernetes-models), and checks the deployment
 * invariants: the gate is a native sidecar on loopback, hardened, the agent's proxy and
 * trust env is set, the lockdown runs first, and the gate config in each ConfigMap is one
 * that `egress-gate check` accepts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { ConfigMap, PersistentVolumeClaim, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { CronJob } from 'kubernetes-models/batch/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { parseConfig } from '../../policy/load-config.js';
import { loadRouteMaps } from '../../policy/load-route-maps.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const k8s = path.join(root, 'deploy/kubernetes');
const KUBECTL = process.env.KUBECTL ?? 'kubectl';

type Manifest = { apiVersion: string; kind: string; metadata: { name: string }; [k: string]: any };
type Container = Record<string, any>;

const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap, 'v1/Secret': Secret, 'v1/Service': Service, 'v1/ServiceAccount': ServiceAccount,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim, 'apps/v1/Deployment': Deployment, 'apps/v1/StatefulSet': StatefulSet,
  'batch/v1/CronJob': CronJob, 'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler, 'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

function render(dir: string): Manifest[] {
  let out: string;
  try {
    out = execFileSync(KUBECTL, ['kustomize', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') assert.fail(`kubectl not found (set KUBECTL or install kubectl): needed to render ${dir}`);
    assert.fail(`kubectl kustomize ${dir} failed: ${err.stderr ?? err.message}`);
  }
  return parseAllDocuments(out).map((d) => d.toJS() as Manifest).filter(Boolean);
}

const find = (ms: Manifest[], kind: string, name: string): Manifest => {
  const m = ms.find((x) => x.kind === kind && (x.metadata.name === name || x.metadata.name.startsWith(`${name}-`)));
  assert.ok(m, `${kind}/${name} is rendered`);
  return m;
};
const envOf = (c: Container): Record<string, string> => Object.fromEntries((c.env ?? []).map((e: any) => [e.name, e.value]));

function assertHardened(c: Container, podSc: any): void {
  const sc = c.securityContext ?? {};
  assert.equal(sc.runAsNonRoot ?? podSc.runAsNonRoot, true, `${c.name}: runAsNonRoot`);
  assert.ok(Number.isInteger(sc.runAsUser) && sc.runAsUser > 0, `${c.name}: numeric non-root runAsUser`);
  assert.equal(sc.readOnlyRootFilesystem, true, `${c.name}: readOnlyRootFilesystem`);
  assert.equal(sc.allowPrivilegeEscalation, false, `${c.name}: allowPrivilegeEscalation false`);
  assert.deepEqual(sc.capabilities?.drop, ['ALL'], `${c.name}: drops ALL capabilities`);
  assert.equal(sc.capabilities?.add, undefined, `${c.name}: adds no capability`);
  assert.equal((sc.seccompProfile ?? podSc.seccompProfile)?.type, 'RuntimeDefault', `${c.name}: seccomp RuntimeDefault`);
}

/** Validates the gate config text the way `egress-gate check` does, with its route maps. */
async function assertGateConfigValid(ms: Manifest[], configText: string): Promise<ReturnType<typeof parseConfig>> {
  const cfg = parseConfig(configText, '/etc/egress-gate/egress-gate.yaml', { hostname: 'pod-0' });
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'eg-kustomize-'));
  try {
    const routes = find(ms, 'ConfigMap', 'egress-gate-routes');
    mkdirSync(path.join(tmp, 'routes'));
    for (const [k, v] of Object.entries<string>(routes.data)) writeFileSync(path.join(tmp, 'routes', k), v);
    const creds = find(ms, 'Secret', 'egress-gate-credentials');
    mkdirSync(path.join(tmp, 'secrets'));
    for (const [k, v] of Object.entries<string>(creds.stringData ?? {})) writeFileSync(path.join(tmp, 'secrets', k), v);
    assert.deepEqual(cfg.policy.routes, ['/etc/egress-gate-routes']);
    assert.equal(cfg.secrets.dir, '/var/run/secrets/egress-gate/credentials');
    const loaded = await loadRouteMaps([path.join(tmp, 'routes')], { secretsDir: path.join(tmp, 'secrets') });
    assert.ok(loaded.routes.length > 0, 'the route maps ConfigMap holds routes');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return cfg;
}

const OVERLAYS = ['overlays/sidecar', 'overlays/report-mode', 'overlays/gateway'];
const rendered = new Map<string, Manifest[]>(OVERLAYS.map((o) => [o, render(path.join(k8s, o))]));
rendered.set('base', render(path.join(k8s, 'base')));

describe('kustomize: every overlay renders to schema-valid manifests', () => {
  for (const [name, ms] of rendered) {
    it(`${name}: every manifest validates against its Kubernetes schema`, () => {
      assert.ok(ms.length > 0);
      for (const m of ms) {
        const Model = MODELS[`${m.apiVersion}/${m.kind}`];
        assert.ok(Model, `${name}: no schema model for ${m.apiVersion} ${m.kind} (add it to MODELS)`);
        assert.doesNotThrow(() => new Model(m).validate(), `${name}: ${m.kind}/${m.metadata.name} is schema-valid`);
      }
    });
  }

  it('the schema check catches a wrong type (it is not vacuous)', () => {
    const d = structuredClone(find(rendered.get('base')!, 'Deployment', 'agent-billing'));
    d.spec.replicas = 'one';
    assert.throws(() => new Deployment(d).validate(), /replicas/);
  });
});

describe('kustomize: sidecar invariants', () => {
  for (const name of ['overlays/sidecar', 'overlays/report-mode']) {
    const ms = rendered.get(name)!;
    const dep = find(ms, 'Deployment', 'agent-billing');
    const pod = dep.spec.template.spec;
    const inits: Container[] = pod.initContainers;

    it(`${name}: the lockdown runs first, then the gate as a native sidecar`, () => {
      assert.deepEqual(inits.map((c) => c.name), ['egress-lockdown', 'egress-gate']);
      assert.equal(inits[0]!.restartPolicy, undefined, 'the lockdown runs to completion');
      assert.equal(inits[1]!.restartPolicy, 'Always', 'the gate is a native sidecar');
      assert.ok(!pod.containers.some((c: Container) => c.name === 'egress-gate'), 'no ordinary gate container');
      const lock = inits[0]!;
      assert.deepEqual(lock.securityContext.capabilities, { drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW'] });
      const env = envOf(lock);
      assert.equal(env.GATE_UID, String(inits[1]!.securityContext.runAsUser));
      assert.equal(env.AGENT_UID, String(pod.containers.find((c: Container) => c.name === 'agent').securityContext.runAsUser));
      assert.notEqual(env.GATE_UID, env.AGENT_UID);
    });

    it(`${name}: the gate is hardened, probed on its admin port and mounts what it needs`, () => {
      const gate = inits[1]!;
      assertHardened(gate, pod.securityContext);
      assert.deepEqual(gate.args, ['start', '--config', '/etc/egress-gate/egress-gate.yaml']);
      for (const p of ['startupProbe', 'readinessProbe', 'livenessProbe']) assert.match(gate[p].exec.command.join(' '), /127\.0\.0\.1:3129\/(readyz|healthz)/);
      assert.ok(gate.resources.requests.cpu && gate.resources.requests.memory && gate.resources.limits.memory);
      const mounts = new Map(gate.volumeMounts.map((m: any) => [m.mountPath, m]));
      for (const p of ['/etc/egress-gate', '/etc/egress-gate-routes', '/var/lib/egress-gate/receipts', '/tmp']) assert.ok(mounts.has(p), `gate mounts ${p}`);
      assert.ok(gate.volumeMounts.every((m: any) => m.subPath === undefined), 'no subPath: ConfigMap/Secret updates must reach the pod');
      const vols = new Map(pod.volumes.map((v: any) => [v.name, v]));
      const routesVol: any = vols.get((mounts.get('/etc/egress-gate-routes') as any).name);
      assert.equal(routesVol.configMap.name, 'egress-gate-routes', 'route maps mounted under a stable name (hot reload)');
    });

    it(`${name}: the agent is hardened, has its proxy and trust env, and never sees gate secrets`, () => {
      const agent: Container = pod.containers.find((c: Container) => c.name === 'agent');
      assertHardened(agent, pod.securityContext);
      const env = envOf(agent);
      assert.equal(env.HTTP_PROXY, 'http://127.0.0.1:3128');
      assert.equal(env.HTTPS_PROXY, 'http://127.0.0.1:3128');
      assert.equal(env.NO_PROXY, 'localhost,127.0.0.1');
      assert.equal(env.NODE_USE_ENV_PROXY, '1');
      assert.equal(env.NODE_EXTRA_CA_CERTS, '/etc/egress-gate-trust/ca.pem');
      for (const k of ['SSL_CERT_FILE', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE']) assert.equal(env[k], '/etc/egress-gate-trust/bundle.pem', k);
      const vols = new Map(pod.volumes.map((v: any) => [v.name, v]));
      for (const m of agent.volumeMounts) assert.equal((vols.get(m.name) as any).secret, undefined, `agent mounts no Secret (${m.name})`);
    });

    it(`${name}: the gate config listens on loopback and passes check`, async () => {
      const cm = find(ms, 'ConfigMap', 'egress-gate-config');
      const cfg = await assertGateConfigValid(ms, cm.data['egress-gate.yaml']);
      assert.deepEqual(cfg.gate.listen, { host: '127.0.0.1', port: 3128 });
      assert.deepEqual(cfg.gate.admin, { host: '127.0.0.1', port: 3129 });
      assert.equal(cfg.gate.allowRemoteClients, false);
      assert.equal(cfg.gate.mode, name === 'overlays/report-mode' ? 'report' : 'enforce');
      assert.equal(cfg.receipts.dir, '/var/lib/egress-gate/receipts');
    });

    it(`${name}: a NetworkPolicy limits the pod's egress to 443/80 and DNS`, () => {
      const np = find(ms, 'NetworkPolicy', 'agent-billing-egress');
      assert.deepEqual(np.spec.policyTypes, ['Egress']);
      const ports = np.spec.egress.flatMap((r: any) => r.ports.map((p: any) => `${p.protocol}/${p.port}`)).sort();
      assert.deepEqual(ports, ['TCP/443', 'TCP/53', 'TCP/80', 'UDP/53']);
    });
  }

  it('report-mode differs from the sidecar config in gate.mode only', () => {
    const a = parseYaml(find(rendered.get('overlays/sidecar')!, 'ConfigMap', 'egress-gate-config').data['egress-gate.yaml']);
    const b = parseYaml(find(rendered.get('overlays/report-mode')!, 'ConfigMap', 'egress-gate-config').data['egress-gate.yaml']);
    assert.equal(b.gate.mode, 'report');
    b.gate.mode = a.gate.mode;
    assert.deepEqual(b, a);
  });
});

describe('kustomize: gateway invariants', () => {
  const ms = rendered.get('overlays/gateway')!;
  const sts = find(ms, 'StatefulSet', 'egress-gate');

  it('N hardened gate replicas with one receipt volume each, behind a Service, scaled by an HPA', () => {
    const pod = sts.spec.template.spec;
    const gate: Container = pod.containers.find((c: Container) => c.name === 'egress-gate');
    assertHardened(gate, pod.securityContext);
    assert.ok(sts.spec.replicas >= 2);
    assert.deepEqual(sts.spec.volumeClaimTemplates.map((t: any) => t.metadata.name), ['receipts']);
    assert.ok(gate.volumeMounts.some((m: any) => m.name === 'receipts' && m.mountPath === '/var/lib/egress-gate/receipts'));
    assert.equal(gate.readinessProbe.httpGet.path, '/readyz');
    const hpa = find(ms, 'HorizontalPodAutoscaler', 'egress-gate');
    assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'egress-gate' });
    const svc = find(ms, 'Service', 'egress-gate');
    assert.deepEqual(svc.spec.selector, sts.spec.template.metadata.labels);
    find(ms, 'Deployment', 'redis');
    find(ms, 'Service', 'redis');
  });

  it('the gateway config: remote clients, Redis replay, and it passes check', async () => {
    const cfg = await assertGateConfigValid(ms, find(ms, 'ConfigMap', 'egress-gate-config').data['egress-gate.yaml']);
    assert.deepEqual(cfg.gate.listen, { host: '0.0.0.0', port: 3128 });
    assert.equal(cfg.gate.allowRemoteClients, true);
    assert.equal(cfg.permits.replay, 'redis://redis:6379/0');
  });

  it('only labelled clients may reach the proxy port; agents may reach only the gate and DNS', () => {
    const ing = find(ms, 'NetworkPolicy', 'egress-gate-ingress');
    const proxyRule = ing.spec.ingress.find((r: any) => r.ports.some((p: any) => p.port === 3128));
    assert.deepEqual(proxyRule.from, [{ namespaceSelector: {}, podSelector: { matchLabels: { 'egress-gate/client': 'true' } } }]);
    const clients = find(ms, 'NetworkPolicy', 'egress-gate-clients-egress');
    assert.deepEqual(clients.spec.egress[0].to, [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'egress-gate' } } }]);
    const agent = find(ms, 'Deployment', 'agent-billing');
    assert.equal(agent.spec.template.metadata.labels['egress-gate/client'], 'true');
    assert.equal(envOf(agent.spec.template.spec.containers[0]).HTTPS_PROXY, 'http://egress-gate:3128');
  });

  it('ships receipts: a read-only Vector sidecar and the receipts monitor CronJob', () => {
    const vector: Container = sts.spec.template.spec.containers.find((c: Container) => c.name === 'vector');
    assert.ok(vector.volumeMounts.some((m: any) => m.name === 'receipts' && m.readOnly === true));
    const cfg = parseYaml(find(ms, 'ConfigMap', 'egress-gate-vector').data['vector.yaml']);
    assert.deepEqual(cfg.sources.receipts.include, ['/var/lib/egress-gate/receipts/*']);
    const cron = find(ms, 'CronJob', 'egress-gate-receipts-monitor');
    const pod = cron.spec.jobTemplate.spec.template.spec;
    const c = pod.containers[0];
    assert.equal(c.image, sts.spec.template.spec.containers.find((x: Container) => x.name === 'egress-gate').image, 'the monitor runs the gate image');
    assert.match(c.args.join(' '), /egress-gate-0\.egress-gate-replicas:3129/);
    assert.ok(find(ms, 'ConfigMap', 'egress-gate-receipts-monitor').data['monitor-checkpoints.sh'].includes('receipts monitor'));
    assert.ok(find(ms, 'ConfigMap', 'egress-gate-receipts-monitor-key').data['receipt-key.jwks.json']);
    const state = pod.volumes.find((v: any) => v.name === 'state');
    assert.equal(find(ms, 'PersistentVolumeClaim', 'egress-gate-receipts-monitor').metadata.name, state.persistentVolumeClaim.claimName, 'the kept checkpoints live on their own volume');
    const ing = find(ms, 'NetworkPolicy', 'egress-gate-ingress');
    const adminFrom = ing.spec.ingress.find((r: any) => r.ports.some((p: any) => p.port === 3129)).from;
    const label = cron.spec.jobTemplate.spec.template.metadata.labels['app.kubernetes.io/name'];
    assert.ok(adminFrom.some((f: any) => f.podSelector?.matchLabels?.['app.kubernetes.io/name'] === label), 'the monitor may reach the admin port');
  });
});
