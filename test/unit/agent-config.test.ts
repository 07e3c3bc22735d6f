import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ConfigError, loadConfig, matchRouteTarget, parseConfig, parseRouteTargetPattern, uplinkRdRt, type Config,
} from '../../src/agent/config.js';
import { tempDir } from '../lib/tmp.js';

const EXAMPLE = `
routerId: 192.168.1.65
vnis:
  - vni: 100
    bridge: br-vxlan
    vxlan: vxlan0
uplinks:
  - name: net1
    interface: eth1
    peer: 192.168.1.2
    localAs: 65001
    peerAs: 65001
    localPref: 200
    holdTime: 9
    keepalive: 3
  - name: net2
    interface: eth2
    peer: 192.168.2.2
    localAs: 65002
    localPref: 100
`;

function errorsOf(text: string): string[] {
  try {
    parseConfig(text, 'test.yaml');
  } catch (e) {
    if (e instanceof ConfigError) return e.lines();
    throw e;
  }
  throw new Error('expected a ConfigError');
}

t.test('the reference example parses, with defaults filled in', (t) => {
  const c: Config = parseConfig(EXAMPLE, 'x.yaml');
  t.equal(c.routerId, '192.168.1.65');
  t.same(c.vnis, [{ vni: 100, bridge: 'br-vxlan', vxlan: 'vxlan0', arpSuppress: false, advertiseEndpoints: false, flood: false }]);
  t.equal(c.uplinks.length, 2);
  const [n1, n2] = c.uplinks;
  t.match(n1, { name: 'net1', interface: 'eth1', address: null, peer: '192.168.1.2', localAs: 65001, peerAs: 65001, localPref: 200, holdTime: 9, keepalive: 3 });
  t.match(n2, { name: 'net2', localAs: 65002, peerAs: 65002, localPref: 100, holdTime: 9, keepalive: 3, peerPort: 179, passive: false, bfd: null });
  t.equal(n2!.rd, '{address}:{vni}');
  t.equal(n2!.routeTarget, '{localAs}:{vni}');
  t.same(n2!.importRouteTargets.map((p) => p.text), ['*:{vni}']);
  t.same(c.control, { socket: '/run/evpn-ha/evpn-ha.sock' });
  t.equal(c.stateDir, '/var/lib/evpn-ha');
  t.equal(c.metrics, null);
  t.same(c.vtepProbe, { interval: 100, multiplier: 3, holdDown: 3000, port: 4799 }, 'on by default, with the prober defaults');
  t.equal(parseConfig(`${EXAMPLE}vtepProbe: false\n`).vtepProbe, null);
  t.same(parseConfig(`${EXAMPLE}vtepProbe: true\n`).vtepProbe, c.vtepProbe);
  t.same(c.kernel, { protocol: 231, restoreDelay: 50, startupGrace: 30000, flushOnShutdown: true, withdrawDelay: 10000, nexthopGroups: 'auto' });
  t.same(uplinkRdRt(n2!, 100, '192.168.2.87', '192.168.1.87'), {
    rd: { type: 1, ip: '192.168.2.87', assigned: 100 },
    routeTarget: { kind: 'route-target', form: 'as2', asn: 65002, local: 100 },
  });
  t.end();
});

t.test('every optional section', (t) => {
  const c = parseConfig(`
vnis: [{vni: 100, bridge: br0, vxlan: vx0}, {vni: 200, bridge: br1, vxlan: vx1}]
uplinks:
  - name: a
    address: 10.0.0.1
    peer: 10.0.0.2
    localAs: 4200000001
    rd: "65000:{vni}"
    routeTarget: "10.0.0.1:{vni}"
    importRouteTargets: ["65001:*", "*:{vni}", "10.9.9.9:7"]
    bfd: {minTx: 100, minRx: "50ms", multiplier: 5}
    holdTime: 0
    passive: true
    gracefulRestart: false
  - name: b
    address: 10.1.0.1
    peer: 10.1.0.2
    localAs: 65002
    bfd: true
    holdTime: 30
vtepProbe: {interval: 200ms, multiplier: 4}
control: {socket: /run/ns1/evpn.sock}
stateDir: /var/lib/ns1
metrics: {listen: "[::1]:9477"}
kernel: {protocol: 200, restoreDelay: 80, startupGrace: 10, flushOnShutdown: false, withdrawDelay: 5s, nexthopGroups: false}
logLevel: debug
`);
  const [a, b] = c.uplinks;
  t.equal(a!.keepalive, 0);
  t.equal(a!.passive, true);
  t.equal(a!.gracefulRestart, null);
  t.equal(b!.gracefulRestart, 'end-of-rib', 'default: the End-of-RIB-only capability');
  const gr = (v: string): unknown => parseConfig(`uplinks: [{name: a, address: 10.0.0.1, peer: 10.0.0.2, localAs: 65001, gracefulRestart: ${v}}]\nvnis: [{vni: 100, bridge: br0, vxlan: vx0}]\n`).uplinks[0]!.gracefulRestart;
  t.equal(gr('120'), 120);
  t.equal(gr('end-of-rib'), 'end-of-rib');
  t.throws(() => gr('yes'), /must be false, end-of-rib or a restart time/);
  t.equal(a!.peerAs, 4200000001);
  t.same(a!.bfd, { minTx: 100, minRx: 50, multiplier: 5 });
  t.same(b!.bfd, { minTx: 300, minRx: 300, multiplier: 3 });
  t.equal(b!.keepalive, 10);
  t.same(uplinkRdRt(a!, 200, '10.0.0.1', '10.0.0.1'), {
    rd: { type: 0, asn: 65000, assigned: 200 },
    routeTarget: { kind: 'route-target', form: 'ip4', ip: '10.0.0.1', local: 200 },
  });
  t.same(c.vtepProbe, { interval: 200, multiplier: 4, holdDown: 3000, port: 4799 });
  t.same(c.kernel, { protocol: 200, restoreDelay: 80, startupGrace: 10000, flushOnShutdown: false, withdrawDelay: 5000, nexthopGroups: false });
  t.same(c.metrics, { listen: '[::1]:9477' });
  t.equal(c.control.socket, '/run/ns1/evpn.sock');
  t.equal(c.logLevel, 'debug');
  const [p1, p2, p3] = a!.importRouteTargets;
  const rt = (asn: number, local: number) => ({ kind: 'route-target' as const, form: 'as2' as const, asn, local });
  t.ok(matchRouteTarget(p1!, rt(65001, 5), 100));
  t.notOk(matchRouteTarget(p1!, rt(65002, 5), 100));
  t.ok(matchRouteTarget(p2!, rt(1, 100), 100));
  t.notOk(matchRouteTarget(p2!, rt(1, 100), 200));
  t.ok(matchRouteTarget(p3!, { kind: 'route-target', form: 'ip4', ip: '10.9.9.9', local: 7 }, 100));
  t.notOk(matchRouteTarget(p3!, rt(7, 7), 100));
  t.end();
});

t.test('every error is reported, with key path and line', (t) => {
  const lines = errorsOf(`
vnis:
  - vni: 0
    bridge: br-vxlan
    vxlan: vxlan0
  - vni: 100
    bridge: br-vxlan
    vxlan: "this-name-is-too-long"
uplinks:
  - name: net1
    interface: eth1
    address: 10.0.0.1
    peer: 192.168.1.999
    localAs: 65001
    localPerf: 200
  - name: net1
    peer: 192.168.2.2
    localAs: -1
    holdTime: 2
    bfd: {minTx: fast}
metrics: {listen: nowhere}
stateDir: relative/dir
kernl: {}
`);
  // The exact set, order-independent:
  const want = [
    'test.yaml:3: vnis[0].vni: must be an integer 1..16777215, not 0',
    'vnis[1].vxlan: must be a Linux interface name',
    'vnis[1].bridge: duplicate bridge "br-vxlan" (also in vnis[0])',
    'uplinks[0].localPerf: unknown key (did you mean localPref?)',
    'uplinks[0]: give either interface or address, not both',
    'uplinks[0].peer: must be an IP address, not "192.168.1.999"',
    'uplinks[1]: interface or address is required',
    'uplinks[1].localAs: must be an integer 1..4294967295, not -1',
    'uplinks[1].holdTime: must be 0 or at least 3 seconds',
    'uplinks[1].bfd.minTx: must be a duration',
    'uplinks[1].name: duplicate name "net1" (also in uplinks[0])',
    'metrics.listen: must be HOST:PORT',
    'stateDir: must be an absolute path',
    'kernl: unknown key (did you mean kernel?)',
  ];
  for (const w of want) t.ok(lines.some((l) => l.includes(w)), `reports: ${w}`);
  t.equal(lines.length, want.length, lines.join('\n'));
  t.ok(lines.find((l) => l.includes('localPerf'))!.startsWith('test.yaml:15: '), 'line of the unknown key');
  t.end();
});

t.test('RD/RT templates are checked per VNI', (t) => {
  const lines = errorsOf(`
vnis: [{vni: 100, bridge: b0, vxlan: v0}, {vni: 70000, bridge: b1, vxlan: v1}]
uplinks:
  - {name: a, address: 10.0.0.1, peer: 10.0.0.2, localAs: 4200000000, rd: "{address}:7", routeTarget: "{localAs}:{vni}"}
  - {name: b, address: 10.0.1.1, peer: 10.0.1.2, localAs: 65001, routeTarget: "{asn}:{vni}", importRouteTargets: ["x:y"], keepalive: 5}
`);
  t.ok(lines.some((l) => l.includes('uplinks[0].rd: must contain {vni} when several VNIs')), lines.join('\n'));
  t.ok(lines.some((l) => l.includes('uplinks[0].routeTarget: "{localAs}:{vni}" gives "4200000000:70000" for VNI 70000: 4-octet AS form allows a local value up to 65535')));
  t.ok(lines.some((l) => l.includes('uplinks[1].rd: "{address}:{vni}" gives "10.0.1.1:70000" for VNI 70000: IPv4 form allows an assigned number up to 65535')));
  t.ok(lines.some((l) => l.includes('uplinks[1].routeTarget: unknown placeholder {asn}')));
  t.ok(lines.some((l) => l.includes('uplinks[1].importRouteTargets[0]: must be a route target pattern')));
  t.ok(lines.some((l) => l.includes('uplinks[1].keepalive: must be 1..3')));
  t.equal(lines.length, 6, lines.join('\n'));
  t.end();
});

t.test('YAML syntax errors, empty documents, wrong shapes', (t) => {
  t.match(errorsOf('vnis: [\n'), [/^test\.yaml:\d+: YAML: /]);
  t.same(errorsOf(''), ['test.yaml: the configuration is empty (vnis and uplinks are required)']);
  t.match(errorsOf('- 1\n'), [/: must be a mapping$/]);
  const l = errorsOf('vnis: 5\nuplinks: []\n');
  t.same(l, ['test.yaml:1: vnis: must be a list', 'test.yaml:2: uplinks: must list at least one uplink']);
  const e = t.throws(() => parseConfig('vnis: []\n', 'f')) as ConfigError;
  t.equal(e.name, 'ConfigError');
  t.match(e.message, /^f: 2 errors\n  f:1: vnis: must list at least one VNI\n  f:1: uplinks: is required \(a list\)$/);
  t.end();
});

t.test('loadConfig reads a file; an unreadable file is a ConfigError', (t) => {
  const dir = tempDir('evpn-ha-cfg-');
  const f = join(dir, 'agent.yaml');
  writeFileSync(f, EXAMPLE);
  t.equal(loadConfig(f).source, f);
  const e = t.throws(() => loadConfig(join(dir, 'missing.yaml'))) as ConfigError;
  t.ok(e instanceof ConfigError);
  t.match(e.lines()[0], /missing\.yaml: cannot read: /);
  t.end();
});

t.test('route target patterns', (t) => {
  t.same(parseRouteTargetPattern(' 65001:* '), { text: '65001:*', global: { kind: 'asn', asn: 65001 }, local: { kind: 'any' } });
  t.same(parseRouteTargetPattern('*:{vni}'), { text: '*:{vni}', global: { kind: 'any' }, local: { kind: 'vni' } });
  t.equal(parseRouteTargetPattern('a:b'), null);
  t.equal(parseRouteTargetPattern('65001'), null);
  t.equal(parseRouteTargetPattern('1.2.3:4'), null);
  t.end();
});

t.test('the complete examples in docs/configuration.md are valid', (t) => {
  const md = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  const blocks = [...md.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => /^routerId:/m.test(b) && /^uplinks:/m.test(b));
  t.equal(blocks.length, 3);
  for (const b of blocks) t.doesNotThrow(() => parseConfig(b, 'docs'), b.split('\n')[0]);
  const v6 = parseConfig(blocks.find((b) => b.includes('2001:db8'))!);
  t.same(v6.uplinks.map((u) => [u.family, u.rd, u.inclusiveMulticastRoute]), [[6, '{routerId}:{vni}', false], [6, '{routerId}:{vni}', false]], 'the IPv6 example');
  const full = parseConfig(blocks.find((b) => b.includes('startupGrace'))!);
  t.equal(full.kernel.startupGrace, 60_000);
  t.equal(full.uplinks[0]!.keepalive, 3);
  t.end();
});
