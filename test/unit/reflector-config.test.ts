// The reflector's YAML configuration (defaults, every error with its key path and
// line) and the `evpn-ha reflector` command (exit 2 on a bad file, --check, a
// clean run stopped by `until`).
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { ConfigError, inRange, parsePrefix, parseReflectorConfig } from '../../src/reflector/config.js';
import { main } from '../../src/cli/main.js';
import { runReflector } from '../../src/cli/reflector.js';
import { pino } from 'pino';
import { within } from '../lib/settle.js';
import { tempDir } from '../lib/tmp.js';

function errors(text: string): string[] {
  try {
    parseReflectorConfig(text, 'rr.yaml');
  } catch (e) {
    if (e instanceof ConfigError) return e.lines();
    throw e;
  }
  return [];
}

t.test('minimal configuration and its defaults', (t) => {
  const c = parseReflectorConfig('routerId: 192.168.1.2\nasn: 65001\nlistenRanges: [192.168.1.0/24]\n');
  t.same(c, {
    source: '<string>', routerId: '192.168.1.2', asn: 65001, clusterId: '192.168.1.2',
    listen: { address: '0.0.0.0', port: 179 },
    listenRanges: [{ network: '192.168.1.0', length: 24, family: 'ipv4', asn: 65001, password: null, tcpAo: null }],
    holdTime: 9, keepalive: 3, bfd: null, neighbors: [], logLevel: 'info',
  });
  t.end();
});

t.test('full configuration', (t) => {
  const c = parseReflectorConfig([
    'routerId: 192.168.1.2',
    'asn: 65001',
    'clusterId: 1',
    'listen: { address: 192.168.1.2, port: 1179 }',
    'listenRanges:',
    '  - 192.168.1.0/24',
    '  - { range: "2001:db8::/32", asn: 65002 }',
    'holdTime: 30',
    'keepalive: 5',
    'bfd: { minTx: 100, minRx: 200, multiplier: 5 }',
    'neighbors:',
    '  - address: 192.168.1.3',
    '  - { address: 10.0.0.1, asn: 65009, port: 1790 }',
    'logLevel: debug',
  ].join('\n'));
  t.equal(c.clusterId, '0.0.0.1', 'numeric cluster ID as a dotted quad');
  t.same(c.listen, { address: '192.168.1.2', port: 1179 });
  t.same(c.listenRanges[1], { network: '2001:db8::', length: 32, family: 'ipv6', asn: 65002, password: null, tcpAo: null });
  t.same([c.holdTime, c.keepalive], [30, 5]);
  t.same(c.bfd, { minTx: 100, minRx: 200, multiplier: 5 });
  t.same(c.neighbors, [{ address: '192.168.1.3', asn: 65001, port: 179, password: null, tcpAo: null },
    { address: '10.0.0.1', asn: 65009, port: 1790, password: null, tcpAo: null }]);
  t.equal(c.logLevel, 'debug');
  t.same(parseReflectorConfig('routerId: 1.1.1.1\nasn: 1\nneighbors: [{address: 1.1.1.2}]\nbfd: true\nholdTime: 0\n').bfd,
    { minTx: 300, minRx: 300, multiplier: 3 });
  t.end();
});

t.test('every error, by key path and line', (t) => {
  t.same(errors([
    'routerId: 0.0.0.0',
    'asn: 0',
    'clusterId: x',
    'listen: { address: nowhere, port: 70000 }',
    'listenRanges: [192.168.1.1/24, 10.0.0.0/33, { asn: 5 }, bogus]',
    'holdTime: 2',
    'bfd: { minTx: 0, mult: 3 }',
    'neighbors: [{ address: 1.2.3.4 }, { address: 1.2.3.4 }, { asn: 3 }]',
    'logLevel: loud',
    'extra: 1',
  ].join('\n')), [
    'rr.yaml:10: extra: unknown key (known: routerId, asn, clusterId, listen, listenRanges, holdTime, keepalive, bfd, neighbors, logLevel)',
    'rr.yaml:1: routerId: must be a non-zero IPv4 address, got "0.0.0.0"',
    'rr.yaml:2: asn: must be an integer 1..4294967295, got 0',
    'rr.yaml:3: clusterId: must be a non-zero IPv4 address, got "x"',
    'rr.yaml:4: listen.address: must be an IP address, got "nowhere"',
    'rr.yaml:4: listen.port: must be an integer 0..65535, got 70000',
    'rr.yaml:5: listenRanges[0]: host bits set (did you mean 192.168.1.0/24?)',
    'rr.yaml:5: listenRanges[1]: prefix length 33 is longer than 32',
    'rr.yaml:5: listenRanges[2].range: is required (a prefix such as 192.168.1.0/24)',
    'rr.yaml:5: listenRanges[3]: must be a prefix such as 192.168.1.0/24, got "bogus"',
    'rr.yaml:6: holdTime: must be 0 or 3..65535 seconds (RFC 4271 §4.2)',
    'rr.yaml:7: bfd.mult: unknown key (known: minTx, minRx, multiplier)',
    'rr.yaml:7: bfd.minTx: must be an integer 1..4294967, got 0',
    'rr.yaml:8: neighbors[1].address: neighbor 1.2.3.4 is listed twice',
    'rr.yaml:8: neighbors[2].address: is required (an IP address)',
    'rr.yaml:9: logLevel: must be one of fatal, error, warn, info, debug, trace, got "loud"',
  ]);
  t.same(errors(''), ['rr.yaml: empty configuration (routerId and asn are required)', 'rr.yaml: routerId: is required (a non-zero IPv4 address)',
    'rr.yaml: asn: is required (an integer 1..4294967295)', 'rr.yaml: neither listenRanges nor neighbors: no peer could ever connect']);
  t.same(errors('routerId: 1.1.1.1\nasn: 1\nlistenRanges: [1.0.0.0/8]\nholdTime: 9\nkeepalive: 4\n'),
    ['rr.yaml:5: keepalive: must be an integer 1..3, got 4']);
  t.match(errors('a: [\n')[0], /^rr\.yaml:\d+: YAML: /);
  t.end();
});

t.test('prefixes and membership', (t) => {
  const v4 = parsePrefix('192.168.1.0/24');
  if (typeof v4 === 'string') throw new Error(v4);
  t.ok(inRange(v4, '192.168.1.87'));
  t.notOk(inRange(v4, '192.168.2.87'));
  t.notOk(inRange(v4, '::1'));
  const all = parsePrefix('0.0.0.0/0');
  if (typeof all === 'string') throw new Error(all);
  t.ok(inRange(all, '255.255.255.255'));
  const v6 = parsePrefix('2001:db8:0:0::/64');
  if (typeof v6 === 'string') throw new Error(v6);
  t.equal(v6.network, '2001:db8::');
  t.ok(inRange(v6, '2001:db8::5'));
  t.notOk(inRange(v6, '2001:db8:0:1::5'));
  t.notOk(inRange(v6, '10.0.0.1'));
  t.match(parsePrefix('2001:db8::1/64'), /host bits set \(did you mean 2001:db8::\/64\?\)/);
  t.end();
});

function io(until?: Promise<string>): { stdout: PassThrough; stderr: PassThrough; out: () => string; err: () => string; run: Parameters<typeof main>[1] } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  stdout.on('data', (c: Buffer) => { o += c.toString(); });
  stderr.on('data', (c: Buffer) => { e += c.toString(); });
  const run: Parameters<typeof main>[1] = { stdout, stderr, stdin: null, logger: pino({ level: 'silent' }) };
  if (until) run.until = until;
  return { stdout, stderr, out: () => o, err: () => e, run };
}

t.test('evpn-ha reflector: exit 2 with every error, --check, a run', async (t) => {
  const dir = tempDir('evpn-ha-rr-');
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'routerId: 1.1.1.1\nasn: -1\nlistenRanges: [10.0.0.1/8]\n');
  let x = io();
  t.equal(await main(['reflector', '--config', bad], x.run), 2);
  t.equal(x.err(), `evpn-ha: ${bad}:2: asn: must be an integer 1..4294967295, got -1\n` +
    `evpn-ha: ${bad}:3: listenRanges[0]: host bits set (did you mean 10.0.0.0/8?)\n`);

  x = io();
  t.equal(await main(['reflector', '--config', join(dir, 'missing.yaml')], x.run), 2);
  t.match(x.err(), /missing\.yaml: cannot read/);

  const good = join(dir, 'rr.yaml');
  writeFileSync(good, 'routerId: 1.1.1.1\nasn: 65001\nlisten: { address: 127.0.0.1, port: 0 }\nlistenRanges: [127.0.0.0/8]\n');
  x = io();
  t.equal(await main(['reflector', '--config', good, '--check'], x.run), 0);
  t.match(x.out(), /rr\.yaml: ok \(router-id 1\.1\.1\.1, AS 65001, cluster-id 1\.1\.1\.1, 1 listen range\(s\), 0 neighbor\(s\)\)/);

  x = io(Promise.resolve('test'));
  t.equal(await main(['reflector', '--config', good], x.run), 0, 'runs and stops');

  x = io();
  t.equal(await main(['reflector'], x.run), 2, '--config is required');
  t.match(x.err(), /config/);
});

t.test('runReflector prints the status on request', async (t) => {
  const dir = tempDir('evpn-ha-rr-');
  const good = join(dir, 'rr.yaml');
  writeFileSync(good, 'routerId: 1.1.1.1\nasn: 65001\nclusterId: 2.2.2.2\nlisten: { address: 127.0.0.1, port: 0 }\nlistenRanges: [127.0.0.0/8]\n');
  let print: (() => void) | null = null;
  let installed!: (p: () => void) => void;
  const handlerInstalled = new Promise<() => void>((r) => { installed = r; });
  let stop: (why: string) => void = () => undefined;
  const x = io();
  const code = runReflector(good, { ...x.run, until: new Promise((r) => { stop = r; }),
    onStatusRequest: (p) => { print = p; installed(p); return () => { print = null; }; } });
  const printStatus = await within(handlerInstalled, { what: 'the status request handler' });
  printStatus();
  stop('test');
  t.equal(await within(code, { what: 'runReflector to return' }), 0);
  t.equal(print, null, 'handler removed on exit');
  t.same(JSON.parse(x.out()), { event: 'status', routerId: '1.1.1.1', clusterId: '2.2.2.2', peers: [], routes: [],
    looped: { 'originator-id': 0, 'cluster-list': 0, 'as-path': 0 } });
});
