/**
 * block_private's address table (SPEC §3): every refused range, the IPv6 forms that embed an
 * IPv4 address judged by what they embed, allow_cidrs exceptions, and public addresses that
 * must pass.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { allowList, embeddedIPv4, isPrivateAddress } from '../../../policy/private-address.js';

const PRIVATE = [
  '127.0.0.1', '127.255.255.254', '10.0.0.1', '10.255.255.255', '172.16.0.1', '172.31.255.255', '192.168.1.1',
  '169.254.169.254', '169.254.0.1', '100.64.0.1', '100.127.255.255', '0.0.0.0', '0.1.2.3', '224.0.0.1', '239.255.255.250',
  '240.0.0.1', '255.255.255.255', '192.0.0.8', '192.0.2.1', '198.18.0.1', '198.51.100.7', '203.0.113.9',
  '::', '::1', 'fe80::1', 'febf::1', 'fc00::1', 'fd12:3456::1', 'ff02::1', 'ff05::2',
  '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:a9fe:a9fe', '::ffff:10.0.0.1', // mapped
  '::127.0.0.1', '::0.0.1.2', '::8.8.8.8', // IPv4-compatible (deprecated; never routes to the IPv4 address)
  '::ffff:0:7f00:1', '::ffff:0:808:808', // IPv4-translated
  '64:ff9b::7f00:1', '64:ff9b::a9fe:a9fe', '64:ff9b:1::a00:1', // NAT64
  '2002:7f00:1::1', '2002:a9fe:a9fe::', '2002:c0a8:101::1', // 6to4
  '2001:0:4136:e378:8000:63bf:80ff:fffe', // Teredo client 127.0.0.1 (bits inverted)
  'fe80::1%eth0', '2606:4700::1111%1', // zone ids
  'not-an-address', '', '127.1', '2130706433',
];
const PUBLIC = [
  '8.8.8.8', '1.1.1.1', '93.184.216.34', '172.15.255.255', '172.32.0.1', '100.63.255.255', '100.128.0.1', '169.253.255.255', '223.255.255.255',
  '2606:4700:4700::1111', '2a00:1450:4001::200e', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1', '2001:0:4136:e378:8000:63bf:f7f7:f7f7',
];

describe('isPrivateAddress', () => {
  for (const a of PRIVATE) it(`refuses ${JSON.stringify(a)}`, () => assert.equal(isPrivateAddress(a), true));
  for (const a of PUBLIC) it(`passes ${a}`, () => assert.equal(isPrivateAddress(a), false));

  it('allow_cidrs are exceptions, also through the IPv6 forms that embed the allowed IPv4', () => {
    const allow = allowList(['10.1.0.0/16', '127.0.0.2', 'fd00:1::/32']);
    assert.equal(isPrivateAddress('10.1.2.3', allow), false);
    assert.equal(isPrivateAddress('10.2.0.1', allow), true);
    assert.equal(isPrivateAddress('127.0.0.2', allow), false);
    assert.equal(isPrivateAddress('127.0.0.1', allow), true);
    assert.equal(isPrivateAddress('::ffff:127.0.0.2', allow), false);
    assert.equal(isPrivateAddress('fd00:1::5', allow), false);
    assert.equal(isPrivateAddress('fd00:2::5', allow), true);
  });
});

describe('embeddedIPv4', () => {
  const cases: [string, string | undefined][] = [
    ['::ffff:7f00:1', '127.0.0.1'], ['::ffff:1.2.3.4', '1.2.3.4'], ['64:ff9b::102:304', '1.2.3.4'], ['64:ff9b:1::102:304', '1.2.3.4'],
    ['2002:102:304::', '1.2.3.4'], ['2001:0:4136:e378:8000:63bf:fefd:fcfb', '1.2.3.4'], ['2606:4700::1', undefined], ['::1', undefined],
  ];
  for (const [ip, v4] of cases) it(`${ip} → ${v4 ?? 'none'}`, () => assert.equal(embeddedIPv4(ip), v4));
});
