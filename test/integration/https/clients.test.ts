/**
 * HTTPS through the gate process with real clients (curl, Python urllib, undici ProxyAgent,
 * Node 24 fetch, openssl s_client) against a real local HTTPS origin whose own test CA
 * (made with openssl) is in `tls.upstream_ca`. Each case checks the decision, the receipts
 * and what the origin received; the leaf the gate presents chains to the gate CA and names
 * the CONNECT host.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fetch, ProxyAgent } from 'undici';
import {
  adminGet, cli, cleanEnv, permitClaims, rawExchange, readReceipts, receiptById, signPermit, startGate, startOrigin, tmpDir, workspace,
  type GateProcess, type GateWorkspace, type Origin,
} from '../harness.js';
import { connectThrough, leafNames, makeCa, makeLeaf, node24Path, readAnswer, run, tlsOver } from './kit.js';

const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('https: real clients through CONNECT interception', () => {
  let ws: GateWorkspace;
  let gate: GateProcess;
  let secure: Origin;
  let bad: Origin;
  let plain: Origin;
  let S: number;
  let B: number;
  let H: number;
  let gateCaPem: string;
  let bundle: string;
  const proxy = () => `http://127.0.0.1:${ws.listenPort}`;
  /** The outcome receipt of `id`: written after the answer's last byte, so it is waited for. */
  async function outcomeOf(id: string) {
    for (let i = 0; i < 50; i++) {
      const out = readReceipts(ws.receiptsDir).find((r) => r.payload.kind === 'outcome' && r.payload.of === id);
      if (out) return out;
      await new Promise((r) => setTimeout(r, 50));
    }
    return undefined;
  }

  before(async () => {
    const dir = tmpDir('eg-https-');
    const pki = path.join(dir, 'origin-pki');
    const originCa = await makeCa(pki, 'origin-ca');
    const leaf = await makeLeaf(pki, originCa, 'secure', ['open.it', 'api.it']);
    const otherCa = await makeCa(pki, 'untrusted-ca');
    const badLeaf = await makeLeaf(pki, otherCa, 'bad', ['bad.it']);
    secure = await startOrigin({ key: leaf.keyPem, cert: leaf.certPem });
    bad = await startOrigin({ key: badLeaf.keyPem, cert: badLeaf.certPem });
    plain = await startOrigin();
    S = secure.port; B = bad.port; H = plain.port;
    ws = await workspace({
      dir,
      routes: {
        routes: [
          { surface: 'docs', action: 'read', match: { scheme: 'https', host: 'open.it', port: S, method: 'GET', path: '/docs/**' }, authorize: 'none' },
          { surface: 'payments', action: 'charge.create', match: { scheme: 'https', host: 'api.it', port: S, method: 'POST', path: '/v1/charges' }, authorize: 'permit' },
          { surface: 'bad', action: 'read', match: { scheme: 'https', host: 'bad.it', port: B, method: 'GET', path: '/**' }, authorize: 'none' },
          { surface: 'plain', action: 'read', match: { scheme: 'http', host: 'open.it', port: H, method: 'GET', path: '/plain/**' }, authorize: 'none' },
        ],
      },
      config: (c) => {
        c.tls.upstream_ca = [originCa.certPath];
        c.network.hosts['bad.it'] = '127.0.0.1';
      },
    });
    gateCaPem = fs.readFileSync(ws.caCert, 'utf8');
    bundle = path.join(dir, 'bundle.pem');
    const r = cli(['ca', 'bundle', '--ca', ws.caCert, '--out', bundle]);
    assert.equal(r.code, 0, r.stderr);
    gate = await startGate(ws);
  });
  after(async () => { await gate?.stop(); await Promise.all([secure?.close(), bad?.close(), plain?.close()]); });

  /** Checks the PERMIT decision receipt `id` and its outcome for a GET of `url`. */
  async function assertForwarded(id: string | undefined, url: string, reason = 'NO_PERMIT_REQUIRED') {
    assert.match(id ?? '', UUIDV7);
    const rec = receiptById(ws.receiptsDir, id);
    assert.ok(rec, 'decision receipt on disk');
    assert.equal(rec.payload.kind, 'decision');
    assert.equal(rec.payload.decision, 'PERMIT');
    assert.equal(rec.payload.reason, reason);
    assert.equal(rec.payload.request.url, url);
    assert.equal(rec.payload.enforced, true);
    const out = await outcomeOf(id!);
    assert.ok(out, 'outcome receipt');
    assert.equal(out.payload.status, 200);
    assert.equal(out.payload.error, null);
  }

  it('the leaf for a CONNECT host chains to the gate CA and names the host', async () => {
    const { socket, status } = await connectThrough(ws.listenPort, `open.it:${S}`);
    assert.equal(status, 200);
    const t = await tlsOver(socket, { servername: 'open.it', ca: gateCaPem });
    assert.equal(t.alpnProtocol, 'http/1.1');
    const names = leafNames(t.getPeerX509Certificate()!.toString(), gateCaPem, 'open.it');
    assert.deepEqual([names.chains, names.names], [true, true], names.san);
    t.destroy();
  });

  it('curl -x with --cacert (gate CA): PERMIT, receipts, the origin saw the request, the leaf names the host', async () => {
    const p = `/docs/curl-${Date.now()}`;
    const { stdout, stderr } = await run('curl', ['--suppress-connect-headers', '-sS', '-v', '-i', '-x', proxy(), '--cacert', ws.caCert, '-H', 'X-Test: curl', `https://open.it:${S}${p}?q=1`], { env: cleanEnv() });
    assert.match(stdout, /^HTTP\/(1\.1|2) 200/);
    assert.match(stdout, /egress-decision: PERMIT/i);
    assert.match(stdout, /x-origin: test-origin/i);
    await assertForwarded(/egress-receipt: (\S+)/i.exec(stdout)?.[1], `https://open.it:${S}${p}`);
    assert.match(stderr, /subject: .*CN=open\.it\b/);
    assert.match(stderr, /issuer: .*egress-gate/i);
    const seen = secure.byPath(p);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.url, `${p}?q=1`);
    assert.equal(seen[0]!.headers['x-test'], 'curl');
    assert.equal(seen[0]!.headers.host, `open.it:${S}`);
  });

  it('curl with HTTPS_PROXY and CURL_CA_BUNDLE from `ca bundle`', async () => {
    const p = `/docs/curl-env-${Date.now()}`;
    const { stdout } = await run('curl', ['--suppress-connect-headers', '-sS', '-i', `https://open.it:${S}${p}`], { env: cleanEnv({ HTTPS_PROXY: proxy(), CURL_CA_BUNDLE: bundle }) });
    assert.match(stdout, /^HTTP\/(1\.1|2) 200/);
    await assertForwarded(/egress-receipt: (\S+)/i.exec(stdout)?.[1], `https://open.it:${S}${p}`);
    assert.equal(secure.byPath(p).length, 1);
  });

  it("Python's urllib with HTTPS_PROXY and SSL_CERT_FILE (the bundle)", async () => {
    const p = `/docs/python-${Date.now()}`;
    const script = 'import json,sys,urllib.request\nr=urllib.request.urlopen(sys.argv[1],timeout=10)\nprint(json.dumps({"status":r.status,"decision":r.headers["Egress-Decision"],"receipt":r.headers["Egress-Receipt"],"body":r.read().decode()}))';
    const { stdout } = await run('python3', ['-c', script, `https://open.it:${S}${p}`], { env: cleanEnv({ HTTPS_PROXY: proxy(), SSL_CERT_FILE: bundle }) });
    const out = JSON.parse(stdout);
    assert.equal(out.status, 200);
    assert.equal(out.decision, 'PERMIT');
    assert.deepEqual(JSON.parse(out.body), { ok: true, url: p });
    await assertForwarded(out.receipt, `https://open.it:${S}${p}`);
    assert.equal(secure.byPath(p).length, 1);
  });

  it("undici's ProxyAgent for https:// and for http:// (plain HTTP inside CONNECT)", async () => {
    const agent = new ProxyAgent({ uri: proxy(), requestTls: { ca: gateCaPem } });
    try {
      const p = `/docs/undici-${Date.now()}`;
      const r = await fetch(`https://open.it:${S}${p}`, { dispatcher: agent });
      assert.equal(r.status, 200);
      assert.deepEqual(await r.json(), { ok: true, url: p });
      await assertForwarded(r.headers.get('egress-receipt') ?? undefined, `https://open.it:${S}${p}`);
      assert.equal(secure.byPath(p).length, 1);

      const q = `/plain/undici-${Date.now()}`;
      const r2 = await fetch(`http://open.it:${H}${q}`, { dispatcher: agent });
      assert.equal(r2.status, 200);
      assert.deepEqual(await r2.json(), { ok: true, url: q });
      await assertForwarded(r2.headers.get('egress-receipt') ?? undefined, `http://open.it:${H}${q}`);
      assert.equal(plain.byPath(q).length, 1);
    } finally {
      await agent.close();
    }
  });

  it('Node 24 fetch with NODE_USE_ENV_PROXY=1 and NODE_EXTRA_CA_CERTS', async () => {
    const node = await node24Path();
    const p = `/docs/node24-${Date.now()}`;
    const script = 'fetch(process.argv[1]).then(async (r) => console.log(JSON.stringify({ status: r.status, receipt: r.headers.get("egress-receipt"), body: await r.text() })))';
    const { stdout } = await run(node, ['-e', script, `https://open.it:${S}${p}`], { env: cleanEnv({ NODE_USE_ENV_PROXY: '1', HTTPS_PROXY: proxy(), NODE_EXTRA_CA_CERTS: ws.caCert }) });
    const out = JSON.parse(stdout);
    assert.equal(out.status, 200);
    assert.deepEqual(JSON.parse(out.body), { ok: true, url: p });
    await assertForwarded(out.receipt, `https://open.it:${S}${p}`);
    assert.equal(secure.byPath(p).length, 1);
  });

  it('openssl s_client with another SNI than the CONNECT host: handshake refused, DENY TLS_SNI_MISMATCH receipt', async () => {
    const before = readReceipts(ws.receiptsDir).length;
    const r = await run('openssl', ['s_client', '-proxy', `127.0.0.1:${ws.listenPort}`, '-connect', `open.it:${S}`, '-servername', 'evil.it', '-CAfile', ws.caCert], { input: '', timeout: 10_000 } as object)
      .catch((e: { code: number; stdout: string; stderr: string }) => e);
    assert.match(`${r.stdout}`, /no peer certificate available/);
    assert.match(`${r.stdout}${r.stderr}`, /alert|error|handshake failure/i);
    let rec;
    for (let i = 0; i < 50 && !rec; i++) {
      rec = readReceipts(ws.receiptsDir).slice(before).find((x) => x.payload.reason === 'TLS_SNI_MISMATCH');
      if (!rec) await new Promise((res) => setTimeout(res, 100));
    }
    assert.ok(rec, 'TLS_SNI_MISMATCH receipt');
    assert.equal(rec.payload.decision, 'DENY');
    assert.equal(rec.payload.request.method, 'CONNECT');
    assert.equal(rec.payload.request.url, `open.it:${S}`);
  });

  /** Checks a ROUTE_UNMATCHED problem body read by a client, and its receipt for `method url`. */
  function assertUnmatched(body: any, receiptHeader: string | null | undefined, method: string, url: string) {
    assert.equal(body.type, 'urn:egress-gate:reason:ROUTE_UNMATCHED');
    assert.equal(body.decision, 'DENY');
    assert.equal(body.reason, 'ROUTE_UNMATCHED');
    assert.equal(body.status, 403);
    assert.equal(body.detail, `no route matches ${method} ${url}`);
    assert.match(body.receipt, UUIDV7);
    if (receiptHeader !== undefined) assert.equal(receiptHeader, body.receipt);
    const rec = receiptById(ws.receiptsDir, body.receipt);
    assert.equal(rec?.payload.reason, 'ROUTE_UNMATCHED');
    assert.equal(rec?.payload.request.method, method);
    assert.equal(rec?.payload.request.url, url);
  }

  it('a CONNECT to a host:port no route can match is intercepted: each request inside is 403 ROUTE_UNMATCHED problem+json with a receipt, nothing upstream', async () => {
    // A listening loopback port that no route names: the gate must never connect to it.
    let upstreamConnections = 0;
    const trap = net.createServer((c) => { upstreamConnections++; c.destroy(); });
    const T = await new Promise<number>((r) => trap.listen(0, '127.0.0.1', () => r((trap.address() as net.AddressInfo).port)));
    try {
      const observed = async () => Number(/^egress_gate_decision_duration_seconds_count (\S+)$/m.exec((await adminGet(ws.adminPort, '/metrics')).text)?.[1] ?? NaN);
      const before = await observed();
      for (const [i, p] of ['/a', '/b/c'].entries()) {
        const { socket, status, head } = await connectThrough(ws.listenPort, `127.0.0.1:${T}`);
        assert.equal(status, 200, head);
        const t = await tlsOver(socket, { ca: gateCaPem, host: '127.0.0.1' });
        const leaf = leafNames(t.getPeerX509Certificate()!.toString(), gateCaPem, '127.0.0.1');
        assert.ok(leaf.chains && leaf.names, `the leaf is minted as for any host: ${leaf.san}`);
        t.write(`GET ${p} HTTP/1.1\r\nHost: 127.0.0.1:${T}\r\nConnection: close\r\n\r\n`);
        const ans = await readAnswer(t);
        assert.equal(ans.status, 403, ans.raw);
        assert.equal(ans.headers['content-type'], 'application/problem+json');
        assert.equal(ans.headers['egress-reason'], 'ROUTE_UNMATCHED');
        assertUnmatched(JSON.parse(ans.body), ans.headers['egress-receipt'], 'GET', `https://127.0.0.1:${T}${p}`);
        // The intercepted CONNECT is not itself a decision; each request inside is one.
        assert.equal(await observed(), before + i + 1, 'egress_gate_decision_duration_seconds observes each inner decision');
      }
      assert.equal(upstreamConnections, 0, 'no upstream connection was opened');
    } finally {
      await new Promise((r) => trap.close(r));
    }
  });

  it('curl, Python urllib, Python requests and Node fetch read ROUTE_UNMATCHED in the body for an unrouted https host', async () => {
    const url = (c: string) => `https://nowhere.it/${c}`;
    // curl
    const c = await run('curl', ['--suppress-connect-headers', '-sS', '-i', '-x', proxy(), '--cacert', ws.caCert, url('curl')], { env: cleanEnv() });
    assert.match(c.stdout, /^HTTP\/(1\.1|2) 403/);
    assertUnmatched(JSON.parse(c.stdout.slice(c.stdout.indexOf('\r\n\r\n') + 4)), /egress-receipt: (\S+)/i.exec(c.stdout)?.[1], 'GET', url('curl'));
    // Python urllib (standard library): an HTTPError whose body is the problem
    const urllibScript = 'import sys,urllib.request,urllib.error\ntry:\n  urllib.request.urlopen(sys.argv[1],timeout=10)\nexcept urllib.error.HTTPError as e:\n  print(e.code); print(e.headers["Egress-Receipt"]); print(e.read().decode())';
    const u = (await run('python3', ['-c', urllibScript, url('urllib')], { env: cleanEnv({ HTTPS_PROXY: proxy(), SSL_CERT_FILE: bundle }) })).stdout.split('\n');
    assert.equal(u[0], '403');
    assertUnmatched(JSON.parse(u.slice(2).join('\n')), u[1], 'GET', url('urllib'));
    // Python requests, when installed (the machine has it; otherwise urllib above is the Python client)
    const hasRequests = (await run('python3', ['-c', 'import importlib.util,sys; print(importlib.util.find_spec("requests") is not None)'])).stdout.trim() === 'True';
    if (hasRequests) {
      const reqScript = 'import sys,requests\nr=requests.get(sys.argv[1],timeout=10)\nprint(r.status_code); print(r.headers["Egress-Receipt"]); print(r.text)';
      const q = (await run('python3', ['-c', reqScript, url('requests')], { env: cleanEnv({ HTTPS_PROXY: proxy(), REQUESTS_CA_BUNDLE: bundle }) })).stdout.split('\n');
      assert.equal(q[0], '403');
      assertUnmatched(JSON.parse(q.slice(2).join('\n')), q[1], 'GET', url('requests'));
    }
    // Node fetch (undici ProxyAgent)
    const agent = new ProxyAgent({ uri: proxy(), requestTls: { ca: gateCaPem } });
    try {
      const r = await fetch(url('fetch'), { dispatcher: agent });
      assert.equal(r.status, 403);
      assert.equal(r.headers.get('content-type'), 'application/problem+json');
      assertUnmatched(await r.json(), r.headers.get('egress-receipt'), 'GET', url('fetch'));
    } finally { await agent.close(); }
  });

  it('a permit route inside interception: PERMIT_VALID, the Egress-Permit header never reaches the origin; no permit is 403', async () => {
    const agent = new ProxyAgent({ uri: proxy(), requestTls: { ca: gateCaPem } });
    try {
      const url = `https://api.it:${S}/v1/charges`;
      const token = signPermit(ws.issuer, permitClaims({ surface: 'payments', action: 'charge.create', htm: 'POST', htu: url }));
      const tag = `t-${Date.now()}`;
      const r = await fetch(url, { method: 'POST', dispatcher: agent, headers: { 'egress-permit': token, 'x-tag': tag }, body: '{"amount":1}' });
      assert.equal(r.status, 200);
      await r.arrayBuffer();
      const id = r.headers.get('egress-receipt') ?? undefined;
      await assertForwarded(id, url, 'PERMIT_VALID');
      const seen = secure.requests.filter((q) => q.headers['x-tag'] === tag);
      assert.equal(seen.length, 1);
      assert.equal(seen[0]!.headers['egress-permit'], undefined);
      assert.equal(seen[0]!.body.toString(), '{"amount":1}');

      const tag2 = `t2-${Date.now()}`;
      const denied = await fetch(url, { method: 'POST', dispatcher: agent, headers: { 'x-tag': tag2 }, body: '{}' });
      assert.equal(denied.status, 403);
      const problem = await denied.json() as Record<string, unknown>;
      assert.equal(problem.reason, 'PERMIT_MISSING');
      assert.equal(receiptById(ws.receiptsDir, denied.headers.get('egress-receipt') ?? undefined)?.payload.reason, 'PERMIT_MISSING');
      assert.equal(secure.requests.filter((q) => q.headers['x-tag'] === tag2).length, 0);
    } finally {
      await agent.close();
    }
  });

  it('an inner Host that differs from the CONNECT authority is 400 REQUEST_INVALID and reaches no origin', async () => {
    const { socket } = await connectThrough(ws.listenPort, `open.it:${S}`);
    const t = await tlsOver(socket, { servername: 'open.it', ca: gateCaPem });
    const p = `/docs/host-${Date.now()}`;
    t.write(`GET ${p} HTTP/1.1\r\nHost: api.it:${S}\r\nConnection: close\r\n\r\n`);
    const a = await readAnswer(t);
    assert.equal(a.status, 400);
    assert.equal(a.headers['egress-reason'], 'REQUEST_INVALID');
    const rec = receiptById(ws.receiptsDir, a.headers['egress-receipt']);
    assert.equal(rec?.payload.decision, 'DENY');
    assert.equal(rec?.payload.reason, 'REQUEST_INVALID');
    assert.equal(JSON.parse(a.body).detail, 'Host header names another host or port than the CONNECT');
    assert.equal(secure.byPath(p).length, 0);
  });

  it('an upstream certificate the gate does not trust is 502 with an outcome receipt naming the error', async () => {
    const p = `/bad-${Date.now()}`;
    const { stdout } = await run('curl', ['--suppress-connect-headers', '-sS', '-i', '-x', proxy(), '--cacert', ws.caCert, `https://bad.it:${B}${p}`], { env: cleanEnv() });
    assert.match(stdout, /^HTTP\/(1\.1|2) 502/);
    const id = /egress-receipt: (\S+)/i.exec(stdout)?.[1];
    const problem = JSON.parse(stdout.slice(stdout.indexOf('\r\n\r\n') + 4));
    assert.equal(problem.type, 'urn:egress-gate:upstream:UPSTREAM_ERROR');
    assert.equal(problem.receipt, id);
    assert.equal(receiptById(ws.receiptsDir, id)?.payload.decision, 'PERMIT');
    const out = await outcomeOf(id!);
    assert.ok(out, 'outcome receipt');
    assert.equal(out.payload.status, null);
    assert.match(out.payload.error, /UNABLE_TO_VERIFY_LEAF_SIGNATURE|certificate/i);
    assert.equal(bad.byPath(p).length, 0);
  });
  // Last in this file: it spends the mint budget (refilled within two seconds).
  it('a flood of CONNECTs to new hosts is refused past the mint rate limit: 503 SILENCE INTERNAL_ERROR with a receipt, before any 200', async () => {
    const n = 90;
    // The tests before this one minted leaves for new hosts moments ago: wait until the bucket
    // (40 tokens, 20 a second) is full again, so that at least the whole burst is admitted.
    await new Promise((r) => setTimeout(r, 2_100));
    const answers = await Promise.all(Array.from({ length: n }, (_, i) => rawExchange(ws.listenPort, `CONNECT flood-${i}-${Date.now()}.it:443 HTTP/1.1\r\nHost: x\r\n\r\n`, 800)));
    const ok = answers.filter((a) => a.startsWith('HTTP/1.1 200 '));
    const refused = answers.filter((a) => a.startsWith('HTTP/1.1 503 '));
    assert.equal(ok.length + refused.length, n);
    assert.ok(ok.length >= 40 && ok.length < n, `admitted ${ok.length} of ${n}`);
    const one = refused[0]!;
    assert.match(one, /egress-reason: INTERNAL_ERROR/i);
    assert.match(one, /retry-after: 1/i);
    const body = JSON.parse(one.slice(one.indexOf('\r\n\r\n') + 4));
    assert.equal(body.decision, 'SILENCE');
    assert.match(body.detail, /certificates for new hosts are minted at a limited rate/);
    const rec = receiptById(ws.receiptsDir, body.receipt);
    assert.equal(rec?.payload.reason, 'INTERNAL_ERROR');
    assert.equal(rec?.payload.request.method, 'CONNECT');
    // A host whose leaf is cached is still admitted during the flood.
    const again = await connectThrough(ws.listenPort, `open.it:${S}`);
    assert.equal(again.status, 200);
    again.socket.destroy();
  });
});
