// Session security keys in both configuration files and on the `peer` command
// line: uplinks[].password / tcpAo / ttlSecurity, password and tcpAo per reflector
// listen range and neighbor, --password / --tcp-ao-* / --ttl-security. Errors name
// the key and its line and never quote a secret; a kernel without TCP-AO or
// TCP-MD5 (a stand-in answer) is a config error on the key. Also `show neighbors`.
import t from 'tap';
import { ConfigError, parseConfig, uplinkAuth, type KernelTcpAuth } from '../../src/agent/config.js';
import { parseReflectorConfig } from '../../src/reflector/config.js';
import { peerConfig } from '../../src/cli/peer.js';
import { formatNeighbors } from '../../src/cli/control-format.js';
import { UsageError } from '../../src/cli/format.js';
import type { NeighborInfo } from '../../src/control/types.js';

const HEAD = `vnis: [{vni: 100, bridge: br0, vxlan: vx0}]
uplinks:
  - name: net1
    address: 192.168.1.65
    peer: 192.168.1.2
    localAs: 65001
`;
const FULL: KernelTcpAuth = { md5: true, ao: true };

function errorsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.lines();
    throw e;
  }
  throw new Error('expected a ConfigError');
}

t.test('uplinks[]: password, tcpAo, ttlSecurity parse', (t) => {
  const none = parseConfig(HEAD).uplinks[0]!;
  t.match(none, { password: null, tcpAo: null, ttlSecurity: null });
  t.equal(uplinkAuth(none), null);

  const md5 = parseConfig(`${HEAD}    password: "s3cret with spaces"\n    ttlSecurity: true\n`, 'a.yaml', { kernel: () => FULL }).uplinks[0]!;
  t.equal(md5.password, 's3cret with spaces');
  t.equal(md5.ttlSecurity, 1, 'true = 1 hop');
  t.same(uplinkAuth(md5), { kind: 'md5', password: 's3cret with spaces' });

  const ao = parseConfig(`${HEAD}    tcpAo: {keyId: 1, rnextKeyId: 2, algorithm: aes-128-cmac, secret: k3y}\n    ttlSecurity: 3\n`).uplinks[0]!;
  t.same(ao.tcpAo, { keyId: 1, rnextKeyId: 2, algorithm: 'aes-128-cmac', secret: 'k3y' });
  t.equal(ao.ttlSecurity, 3);
  t.same(uplinkAuth(ao), { kind: 'ao', keyId: 1, rnextKeyId: 2, algorithm: 'aes-128-cmac', secret: 'k3y' });
  t.equal(parseConfig(`${HEAD}    tcpAo: {keyId: 7, algorithm: hmac-sha-1, secret: k}\n`).uplinks[0]!.tcpAo?.rnextKeyId, 7, 'rnextKeyId defaults to keyId');
  t.equal(parseConfig(`${HEAD}    ttlSecurity: false\n`).uplinks[0]!.ttlSecurity, null);
  t.end();
});

t.test('uplinks[]: every mistake with its key path and line, no secret quoted', (t) => {
  const lines = errorsOf(() => parseConfig([
    HEAD.trimEnd(),
    '    password: 12345', // line 7: a number, not text
    '    tcpAo: {keyId: 300, algorithm: md5, secret: "x"}', // 8
    '    ttlSecurity: 0', // 9
    '  - name: net2',
    '    address: 192.168.2.65',
    '    peer: 192.168.2.2',
    '    localAs: 65002',
    `    password: "${'p'.repeat(81)}"`, // 14
    '    tcpAo: {keyId: 1}', // 15
    '    ttlSecurity: "yes"', // 16
  ].join('\n'), 'a.yaml'));
  t.same(lines, [
    'a.yaml:7: uplinks[0].password: must be a non-empty string (quote it if it looks like a number or true/false)',
    'a.yaml:8: uplinks[0].tcpAo.keyId: must be a KeyID 0..255 (RFC 5925 §3.1), not 300',
    'a.yaml:8: uplinks[0].tcpAo.algorithm: must be one of hmac-sha-256, aes-128-cmac, hmac-sha-1, not "md5"',
    'a.yaml:9: uplinks[0].ttlSecurity: must be true (1 hop), false or a number of hops 1..254 (RFC 5082), not 0',
    'a.yaml:14: uplinks[1].password: the password is 81 bytes; Linux takes at most 80',
    'a.yaml:15: uplinks[1].tcpAo.algorithm: is required (hmac-sha-256, aes-128-cmac, hmac-sha-1)',
    'a.yaml:15: uplinks[1].tcpAo.secret: is required (1..80 bytes of text)',
    'a.yaml:15: uplinks[1].tcpAo: give either password (TCP-MD5) or tcpAo, not both (a connection is signed by one of them)',
    'a.yaml:16: uplinks[1].ttlSecurity: must be true (1 hop), false or a number of hops 1..254 (RFC 5082), not "yes"',
  ]);
  t.notMatch(lines.join('\n'), /12345|ppppp/, 'secrets are never quoted');
  t.same(errorsOf(() => parseConfig(`${HEAD}    tcpAo: {keyId: 1, algorithm: hmac-sha-256, secret: k, rnextKeyID: 2}\n`, 'a.yaml')),
    ['a.yaml:7: uplinks[0].tcpAo.rnextKeyID: unknown key (did you mean rnextKeyId?)']);
  t.end();
});

t.test('a kernel without TCP-AO / TCP-MD5: a config error naming the key; asked only when needed', (t) => {
  let asked = 0;
  const noAo = (): KernelTcpAuth => { asked++; return { md5: true, ao: false }; };
  parseConfig(HEAD, 'a.yaml', { kernel: noAo });
  t.equal(asked, 0, 'no key, no question');
  t.same(errorsOf(() => parseConfig(`${HEAD}    tcpAo: {keyId: 1, algorithm: hmac-sha-256, secret: k}\n`, 'a.yaml', { kernel: noAo })),
    ['a.yaml:7: uplinks[0].tcpAo: this kernel has no TCP-AO (Linux 6.7 or later built with CONFIG_TCP_AO is needed)']);
  t.doesNotThrow(() => parseConfig(`${HEAD}    password: k\n`, 'a.yaml', { kernel: noAo }));
  t.same(errorsOf(() => parseConfig(`${HEAD}    password: k\n`, 'a.yaml', { kernel: () => ({ md5: false, ao: false }) })),
    ['a.yaml:7: uplinks[0].password: this kernel has no TCP-MD5 (CONFIG_TCP_MD5SIG is needed)']);
  t.end();
});

t.test('reflector: password / tcpAo per listen range and neighbor', (t) => {
  const c = parseReflectorConfig([
    'routerId: 192.168.1.2',
    'asn: 65001',
    'listenRanges:',
    '  - { range: 192.168.1.0/24, password: s3cret }',
    '  - { range: 192.168.2.0/24, tcpAo: { keyId: 3, algorithm: hmac-sha-256, secret: k } }',
    '  - 192.168.3.0/24',
    'neighbors:',
    '  - { address: 192.168.9.9, password: n }',
  ].join('\n'), 'rr.yaml', { kernel: () => FULL });
  t.match(c.listenRanges, [
    { network: '192.168.1.0', length: 24, password: 's3cret', tcpAo: null },
    { network: '192.168.2.0', length: 24, password: null, tcpAo: { keyId: 3, rnextKeyId: 3, algorithm: 'hmac-sha-256', secret: 'k' } },
    { network: '192.168.3.0', password: null, tcpAo: null },
  ]);
  t.match(c.neighbors, [{ address: '192.168.9.9', password: 'n', tcpAo: null }]);

  t.same(errorsOf(() => parseReflectorConfig([
    'routerId: 192.168.1.2',
    'asn: 65001',
    'listenRanges:',
    '  - { range: 192.168.1.0/24, password: s, tcpAo: { keyId: 1, algorithm: hmac-sha-256, secret: k } }',
    '  - { range: 192.168.2.0/24, tcpAo: { keyId: 1, algorithm: hmac-sha-256, secret: k } }',
  ].join('\n'), 'rr.yaml', { kernel: () => ({ md5: true, ao: false }) })), [
    'rr.yaml:4: listenRanges[0].tcpAo: give either password (TCP-MD5) or tcpAo, not both (a connection is signed by one of them)',
    'rr.yaml:4: listenRanges[0].tcpAo: this kernel has no TCP-AO (Linux 6.7 or later built with CONFIG_TCP_AO is needed)',
    'rr.yaml:5: listenRanges[1].tcpAo: this kernel has no TCP-AO (Linux 6.7 or later built with CONFIG_TCP_AO is needed)',
  ]);
  t.end();
});

t.test('peer: --password, --tcp-ao-*, --ttl-security', (t) => {
  const base = { address: '192.168.1.2', localAs: 65001 };
  const host = (): string | null => null;
  t.match(peerConfig(base, host, () => FULL), { auth: null, ttlSecurity: null });
  t.match(peerConfig({ ...base, password: 'p', ttlSecurity: 2 }, host, () => FULL), { auth: { kind: 'md5', password: 'p' }, ttlSecurity: 2 });
  t.same(peerConfig({ ...base, tcpAo: { keyId: 1, secret: 's' } }, host, () => FULL).auth,
    { kind: 'ao', keyId: 1, rnextKeyId: 1, algorithm: 'hmac-sha-256', secret: 's' });
  const usage = (a: Parameters<typeof peerConfig>[0], k: KernelTcpAuth = FULL): string => {
    try {
      peerConfig(a, host, () => k);
    } catch (e) {
      if (e instanceof UsageError) return e.message;
      throw e;
    }
    return 'no error';
  };
  t.equal(usage({ ...base, password: 'p', tcpAo: { keyId: 1, secret: 's' } }), 'give either --password (TCP-MD5) or --tcp-ao-*, not both');
  t.equal(usage({ ...base, tcpAo: { keyId: 1 } }), '--tcp-ao-secret is required with the other --tcp-ao-* options');
  t.equal(usage({ ...base, tcpAo: { secret: 's' } }), '--tcp-ao-key-id is required with --tcp-ao-secret');
  t.equal(usage({ ...base, tcpAo: { keyId: 256, secret: 's' } }), '--tcp-ao-key-id must be a KeyID 0..255, got 256');
  t.match(usage({ ...base, tcpAo: { keyId: 1, secret: 's', algorithm: 'md5' } }), /^--tcp-ao-algorithm must be one of/);
  t.equal(usage({ ...base, ttlSecurity: 255 }), '--ttl-security must be a number of hops 1..254, got 255');
  t.equal(usage({ ...base, tcpAo: { keyId: 1, secret: 's' } }, { md5: true, ao: false }),
    '--tcp-ao-secret: this kernel has no TCP-AO (Linux 6.7 or later built with CONFIG_TCP_AO is needed)');
  t.end();
});

t.test('show neighbors: auth and ttl-security, never a secret', (t) => {
  const n: NeighborInfo = {
    uplink: 'net1', peer: '192.168.1.2', localAddress: '192.168.1.65', localAs: 65001, peerAs: 65001, state: 'Connect',
    established: false, uptimeMs: null, flaps: 0, peerRouterId: null, families: [], capabilities: [], holdTime: 9, keepalive: 3,
    bfd: null, routes: { received: 0, accepted: 0, rejected: {}, withdrawn: 0, paths: 0, best: 0, advertised: 0 },
    lastError: { code: null, subcode: null, notification: null, text: 'no answer from 192.168.1.2 within 30 s; check authentication (...)' },
    auth: 'md5', ttlSecurity: 1,
  };
  const out = formatNeighbors([n]);
  t.match(out, /net1: auth: md5; ttl-security: 1 hop; last error: no answer from 192\.168\.1\.2 within 30 s; check authentication/);
  t.end();
});
