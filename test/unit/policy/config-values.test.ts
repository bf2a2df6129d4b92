import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isLoopbackHost, parseDuration, parseHostPort, parseSize } from '../../../policy/config-values.js';
import { canonicalIp } from '../../../policy/ip-literal.js';

describe('parseDuration', () => {
  const table: [string, number | undefined][] = [
    ['250ms', 250], ['5s', 5_000], ['10m', 600_000], ['1h', 3_600_000], ['0s', 0],
    ['5', undefined], ['5 s', undefined], ['1.5s', undefined], ['1h30m', undefined], ['-1s', undefined], ['5d', undefined], ['', undefined],
  ];
  for (const [text, ms] of table) it(`${JSON.stringify(text)} → ${ms}`, () => assert.equal(parseDuration(text), ms));
});

describe('parseSize', () => {
  const table: [string | number, number | undefined][] = [
    [2048, 2048], ['2048', 2048], ['8KiB', 8192], ['64MiB', 64 * 1024 ** 2], ['1GiB', 1024 ** 3], ['10B', 10],
    [-1, undefined], [1.5, undefined], ['1MB', undefined], ['1 mib', undefined], ['KiB', undefined], ['', undefined],
  ];
  for (const [v, n] of table) it(`${JSON.stringify(v)} → ${n}`, () => assert.equal(parseSize(v), n));
});

describe('parseHostPort', () => {
  it('reads IPv4, bracketed IPv6 and names', () => {
    assert.deepEqual(parseHostPort('127.0.0.1:3128'), { host: '127.0.0.1', port: 3128 });
    assert.deepEqual(parseHostPort('[::1]:3128'), { host: '::1', port: 3128 });
    assert.deepEqual(parseHostPort('LocalHost:0'), { host: 'localhost', port: 0 });
  });
  for (const bad of ['127.0.0.1', '::1:3128', '[::1]', '[zz::1]:80', 'a b:80', '127.0.0.1:65536', ':80', 'host:-1']) {
    it(`rejects ${JSON.stringify(bad)}`, () => assert.equal(parseHostPort(bad), undefined));
  }
  it('knows loopback from the rest', () => {
    for (const h of ['127.0.0.1', '127.3.4.5', '::1', 'localhost']) assert.equal(isLoopbackHost(h), true, h);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', 'example.com', '128.0.0.1']) assert.equal(isLoopbackHost(h), false, h);
  });
});

describe('canonicalIp', () => {
  const table: [string, string | undefined][] = [
    ['10.0.0.1', '10.0.0.1'], ['[2001:DB8:0:0::1]', '2001:db8::1'], ['2001:db8:0:0:0:0:0:1', '2001:db8::1'],
    ['::ffff:127.0.0.1', '::ffff:7f00:1'], ['[::]', '::'],
    ['0x7f.1', undefined], ['2130706433', undefined], ['[10.0.0.1]', undefined], ['fe80::1%eth0', undefined], ['example.com', undefined],
  ];
  for (const [text, want] of table) it(`${text} → ${want}`, () => assert.equal(canonicalIp(text), want));
});
