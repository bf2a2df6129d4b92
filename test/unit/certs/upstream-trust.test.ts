/**
 * What the gate's own TLS clients trust: Node's roots plus `tls.upstream_ca`, never the extras
 * alone (passing `ca` replaces the roots — the decider and bundle clients once did that), and
 * the context really verifies a server whose certificate an extra CA signed.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import tls from 'node:tls';
import { upstreamCaList, upstreamSecureContext } from '../../../certs/upstream-trust.js';
import { tmpDir } from '../../kit/keys.js';
import { makeTlsFixture } from '../../kit/servers.js';

describe('upstream trust', () => {
  it('is the system roots then the extra CAs; nothing without extras (Node\'s default store applies)', () => {
    assert.equal(upstreamCaList([]), undefined);
    assert.equal(upstreamCaList(undefined), undefined);
    assert.equal(upstreamSecureContext([]), undefined);
    const list = upstreamCaList(['EXTRA PEM'])!;
    assert.deepEqual(list.slice(0, tls.rootCertificates.length), [...tls.rootCertificates]);
    assert.deepEqual(list.slice(tls.rootCertificates.length), ['EXTRA PEM']);
  });

  it('the secure context verifies a server signed by an extra CA, and refuses one it does not know', async () => {
    const fx = makeTlsFixture(path.join(tmpDir(), 'tls'));
    const other = makeTlsFixture(path.join(tmpDir(), 'tls-other'));
    const server = tls.createServer({ key: fx.key, cert: fx.cert }, (s) => s.end('ok'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    const connect = (secureContext: tls.SecureContext) => new Promise<string>((resolve) => {
      const c = tls.connect({ host: '127.0.0.1', port, secureContext }, () => { c.destroy(); resolve('verified'); });
      c.on('error', (e) => resolve((e as { code?: string }).code ?? e.message));
    });
    try {
      assert.equal(await connect(upstreamSecureContext([fx.caPem])!), 'verified');
      assert.match(await connect(upstreamSecureContext([other.caPem])!), /UNABLE_TO_VERIFY|SELF_SIGNED|CERT/);
    } finally {
      server.close();
    }
  });
});
