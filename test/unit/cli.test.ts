import t from 'tap';
import { formatRouteRecord, parseRouteSpec, routeRecord, updateRecords, UsageError } from '../../src/cli/format.js';
import type { UpdateMessage } from '../../src/bgp/types.js';
import { PassThrough } from 'node:stream';
import { once, within } from '../lib/settle.js'; // events.once with a deadline
import { pino } from 'pino';
import { main, packageVersion } from '../../src/cli/main.js';
import { peerConfig } from '../../src/cli/peer.js';
import { BgpSession } from '../../src/bgp/session.js';
import type { TransportAddress } from '../../src/bgp/transport.js';
import { FakeNetwork } from '../lib/bgp-transport.js';
import '../../src/evpn/nlri.js'; // registers the L2VPN/EVPN NLRI codec with bgp/ (RFC 7432 §7)

// A deadline for the whole file, behind the deadline of each wait: awaits such
// as stop() fail the run in time instead of at tap's 600 s.
t.setTimeout(120_000);

t.test('macadv: type 2 with RT, VXLAN encapsulation, VNI as raw label', (t) => {
  const a = parseRouteSpec('macadv AA:BB:CC:00:00:01 192.168.0.87 vni 100 rd 192.168.1.87:100 rt 65001:100 nexthop 192.168.1.87');
  t.same(a.route, {
    type: 'mac-ip', rd: { type: 1, ip: '192.168.1.87', assigned: 100 }, esi: '00:00:00:00:00:00:00:00:00:00',
    ethernetTag: 0, mac: 'aa:bb:cc:00:00:01', ip: '192.168.0.87', label1: 100, label2: null,
  });
  t.equal(a.nextHop, '192.168.1.87');
  t.same(a.attributes, {
    origin: 0,
    extCommunities: [
      { kind: 'route-target', form: 'as2', asn: 65001, local: 100 },
      { kind: 'encapsulation', tunnelType: 8 },
    ],
  });
  const b = parseRouteSpec('macadv aa:bb:cc:00:00:01 - rd 65001:7 vni 16777215 nexthop 10.0.0.1 rt 65001:1 rt 4200000000:2 local-pref 200 mobility-seq 3');
  t.equal(b.route.type === 'mac-ip' && b.route.ip, null);
  t.equal(b.route.type === 'mac-ip' && b.route.label1, 16777215, 'VNI fills 24 bits, no shift');
  t.equal(b.attributes.localPref, 200);
  t.same(b.attributes.extCommunities, [
    { kind: 'route-target', form: 'as2', asn: 65001, local: 1 },
    { kind: 'route-target', form: 'as4', asn: 4200000000, local: 2 },
    { kind: 'encapsulation', tunnelType: 8 },
    { kind: 'mac-mobility', sequence: 3, sticky: false },
  ]);
  t.end();
});

t.test('multicast: type 3 with PMSI tunnel (ingress replication, label = VNI, id = next hop)', (t) => {
  const a = parseRouteSpec('multicast 192.168.1.87 vni 100 rd 192.168.1.87:100 rt 65001:100 nexthop 192.168.1.87');
  t.same(a.route, { type: 'inclusive-multicast', rd: { type: 1, ip: '192.168.1.87', assigned: 100 }, ethernetTag: 0, originatorIp: '192.168.1.87' });
  t.same(a.attributes.pmsiTunnel, { flags: 0, tunnelType: 6, label: 100, tunnelId: new Uint8Array([192, 168, 1, 87]) });
  t.same(a.attributes.extCommunities?.map((c) => c.kind), ['route-target', 'encapsulation']);
  t.end();
});

t.test('bad route syntax: UsageError with one line naming the problem', (t) => {
  const bad: Array<[string, RegExp]> = [
    ['', /must start with macadv or multicast/],
    ['type5 1.2.3.4', /must start with/],
    ['macadv aa:bb:cc:00:00:01', /macadv <mac>/],
    ['macadv aa:bb:cc:00:00:01 - vni 1 rd 1:1 rt 1:1', /missing "nexthop/],
    ['macadv aa:bb:cc:00:00:01 - vni 1 rd 1:1 rt 1:1 nexthop', /"nexthop" needs a value/],
    ['macadv aa:bb:cc:00:00:01 - vni 1 rd 1:1 rt 1:1 nexthop 1.2.3', /nexthop needs an IPv4 or IPv6 address/],
    ['macadv aa:bb:cc:00:00:01 - vni 16777216 rd 1:1 rt 1:1 nexthop 1.2.3.4', /vni 16777216 out of range/],
    ['macadv aa:bb:cc:00:00:01 - vni x rd 1:1 rt 1:1 nexthop 1.2.3.4', /vni needs a decimal number/],
    ['macadv aa:bb:cc:00:00:01 - vni 1 rd 1:1 rt 1:1 nexthop 1.2.3.4 color 5', /unknown keyword "color"/],
    ['macadv aa:bb:cc:00:00:01 - vni 1 vni 2 rd 1:1 rt 1:1 nexthop 1.2.3.4', /"vni" given twice/],
    ['macadv zz:bb:cc:00:00:01 - vni 1 rd 1:1 rt 1:1 nexthop 1.2.3.4', /bad route/],
    ['macadv aa:bb:cc:00:00:01 10.0.0.300 vni 1 rd 1:1 rt 1:1 nexthop 1.2.3.4', /IP of macadv/],
    ['macadv aa:bb:cc:00:00:01 - vni 1 rd nope rt 1:1 nexthop 1.2.3.4', /route distinguisher/],
    ['macadv aa:bb:cc:00:00:01 - vni 1 rd 1:1 rt x:1 nexthop 1.2.3.4', /route target/],
    ['multicast 1.2.3.4 vni 1 rd 1:1 rt 1:1 nexthop 1.2.3.4 local-pref 5', /unknown keyword "local-pref"/],
  ];
  for (const [text, re] of bad) {
    t.throws(() => parseRouteSpec(text), UsageError, text);
    try { parseRouteSpec(text); } catch (e) {
      t.match((e as Error).message, re, text);
      t.notMatch((e as Error).message, /\n/, 'one line');
    }
  }
  t.end();
});

t.test('records: fixed JSON fields, null where not applicable', (t) => {
  const a = parseRouteSpec('macadv aa:bb:cc:00:00:01 192.168.0.87 vni 100 rd 192.168.1.87:100 rt 65001:100 nexthop 192.168.1.87 mobility-seq 4');
  const m = parseRouteSpec('multicast 192.168.1.87 vni 100 rd 192.168.1.87:100 rt 65001:100 nexthop 192.168.1.87');
  const u: UpdateMessage = {
    type: 'update', withdrawn: [], nlri: [],
    attributes: {
      ...a.attributes, localPref: 100, originatorId: '192.168.1.65', clusterList: ['192.168.1.2'],
      asPath: [],
      mpReach: { afi: 25, safi: 70, nextHop: ['192.168.1.87'], nlri: { kind: 'evpn', routes: [a.route] } },
      mpUnreach: { afi: 25, safi: 70, nlri: { kind: 'evpn', routes: [m.route] } },
    },
  };
  const recs = updateRecords('192.168.1.2', u);
  t.same(recs[0], {
    event: 'update', peer: '192.168.1.2', routeType: 2, rd: '192.168.1.87:100', esi: '00:00:00:00:00:00:00:00:00:00',
    ethernetTag: 0, mac: 'aa:bb:cc:00:00:01', ip: '192.168.0.87', originatorIp: null, vni: 100, nextHop: '192.168.1.87',
    localPref: 100, originatorId: '192.168.1.65', clusterList: ['192.168.1.2'], routeTargets: ['65001:100'],
    encapsulation: 8, macMobilitySeq: 4, asPath: [],
    route: '[2]:[0]:[48]:[aa:bb:cc:00:00:01]:[32]:[192.168.0.87] rd 192.168.1.87:100 vni 100',
  });
  t.match(recs[1], { event: 'withdraw', routeType: 3, rd: '192.168.1.87:100', originatorIp: '192.168.1.87', mac: null, ip: null,
    vni: null, nextHop: null, localPref: null, routeTargets: null, encapsulation: null, macMobilitySeq: null });
  for (const key of ['event', 'peer', 'routeType', 'rd', 'esi', 'ethernetTag', 'mac', 'ip', 'vni', 'nextHop', 'localPref',
    'originatorId', 'clusterList', 'routeTargets', 'encapsulation', 'macMobilitySeq']) {
    t.ok(key in recs[1]!, `withdraw record has ${key}`);
  }
  // Type 3: VNI from the PMSI tunnel label.
  const r3 = routeRecord('update', 'p', m.route, m.attributes, '192.168.1.87');
  t.equal(r3.vni, 100);
  // RFC 7606 treat-as-withdraw turns announcements into withdrawals.
  const tw = updateRecords('p', { ...u, attrErrors: [{ typeCode: 16, action: 'withdraw', reason: 'x' }] });
  t.same(tw.map((r) => r.event), ['withdraw', 'withdraw']);
  t.end();
});

t.test('human rows', (t) => {
  const a = parseRouteSpec('macadv aa:bb:cc:00:00:01 192.168.0.87 vni 100 rd 192.168.1.87:100 rt 65001:100 nexthop 192.168.1.87');
  const rec = routeRecord('update', 'p', a.route, { ...a.attributes, localPref: 100, originatorId: '1.1.1.1', clusterList: ['2.2.2.2'] }, '192.168.1.87');
  t.equal(formatRouteRecord(rec),
    'update   [2]:[0]:[48]:[aa:bb:cc:00:00:01]:[32]:[192.168.0.87] rd 192.168.1.87:100 vni 100  nh 192.168.1.87  ' +
    'rt 65001:100  encap vxlan  lp 100  originator 1.1.1.1  cluster-list 2.2.2.2');
  const m = parseRouteSpec('multicast 192.168.1.87 vni 100 rd 192.168.1.87:100 rt 65001:100 nexthop 192.168.1.87');
  t.equal(formatRouteRecord(routeRecord('withdraw', 'p', m.route, null, null)), 'withdraw [3]:[0]:[32]:[192.168.1.87] rd 192.168.1.87:100');
  t.match(formatRouteRecord(routeRecord('update', 'p', m.route, m.attributes, '192.168.1.87')), /rd 192.168.1.87:100  vni 100  nh 192.168.1.87/);
  t.end();
});

// --- main(): exit codes and output, in-process --------------------------------

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let buf = '';
  stream.on('data', (c: Buffer) => { buf += c.toString(); });
  return { stream, text: () => buf };
}

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = capture();
  const err = capture();
  const code = await main(args, { stdout: out.stream, stderr: err.stream, stdin: null, until: new Promise(() => {}) });
  return { code, out: out.text(), err: err.text() };
}

t.test('main: bad arguments exit 2 with one line on stderr', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [[], /a command is required/],
    [['peer', '1.2.3.4'], /Missing required argument: local-as/],
    [['peer', '1.2.3.4', '--local-as'], /Not enough arguments following: local-as/],
    [['peer', '1.2.3.4', '--local-as', 'x'], /--local-as needs a decimal integer, got "x"/],
    [['peer', '1.2.3.4', '--local-as', '0'], /--local-as must be an AS number 1..4294967295/],
    [['peer', '1.2.3.4', '--local-as', '4294967296'], /--local-as must be an AS number/],
    [['peer', '1.2.3.4', '--local-as', '1', '--peer-as', '-5'], /--peer-as needs a decimal integer/],
    [['peer', '1.2.3.400', '--local-as', '1'], /peer address is not an IP address/],
    [['peer', '1.2.3.4', '--local-as', '1', '--local-address', 'eth0'], /--local-address is not an IP address/],
    [['peer', '1.2.3.4', '--local-as', '1', '--router-id', '::1'], /--router-id must be a non-zero IPv4 address/],
    [['peer', '1.2.3.4', '--local-as', '1', '--hold-time', '1'], /--hold-time must be 0 or 3..65535/],
    [['peer', '1.2.3.4', '--local-as', '1', '--port', '0'], /--port must be 1..65535/],
    [['peer', '1.2.3.4', '--local-as', '1', '--nope'], /Unknown argument: nope/],
    [['peer', '1.2.3.4', '--local-as', '1', '--announce', 'macadv aa:bb:cc:dd:ee:ff - vni 1'], /bad route/],
    [['frobnicate'], /Unknown argument: frobnicate/],
  ];
  for (const [args, re] of cases) {
    const r = await run(args);
    t.equal(r.code, 2, args.join(' '));
    t.match(r.err, re, args.join(' '));
    t.equal(r.err.trim().split('\n').length, 1, 'one line');
    t.equal(r.out, '');
  }
});

t.test('main: --version and --help exit 0', async (t) => {
  const v = await run(['--version']);
  t.equal(v.code, 0);
  t.equal(v.out.trim(), packageVersion());
  t.match(packageVersion(), /^\d+\.\d+\.\d+/);
  const h = await run(['peer', '--help']);
  t.equal(h.code, 0);
  t.match(h.out, /--announce/);
  t.match(h.out, /withdraw <n>/);
});

t.test('peerConfig defaults: peer AS = local AS, router ID source', (t) => {
  const base = { address: '192.168.1.2', localAs: 65001 };
  t.match(peerConfig(base, () => null), { peerAs: 65001, routerId: '1.1.1.1', routerIdSource: 'default', port: 179, holdTime: 90, passive: false });
  t.match(peerConfig(base, () => '192.168.1.65'), { routerId: '192.168.1.65' });
  t.match(peerConfig({ ...base, localAddress: '192.168.1.87' }, () => '10.9.9.9'), { routerId: '192.168.1.87', routerIdSource: '--local-address' });
  t.match(peerConfig({ ...base, localAddress: 'fe80::1', routerId: '2.2.2.2', peerAs: 65002 }), { routerId: '2.2.2.2', peerAs: 65002 });
  t.end();
});

t.test('peer command against a BgpSession (in-memory transport): JSON lines, stdin withdraw, Cease on exit', async (t) => {
  const net = new FakeNetwork();
  const rr = new BgpSession({ transport: net.transport(), peerAddress: '127.0.0.1', localAddress: '127.0.0.1', localAs: 65001, peerAs: 65001,
    routerId: '10.0.0.1', passive: true, listen: { port: 0 } });
  rr.start();
  const [addr] = (await once(rr, 'listening')) as [TransportAddress];
  rr.advertise([parseRouteSpec('macadv aa:bb:cc:00:00:09 10.0.0.9 vni 100 rd 65001:100 rt 65001:100 nexthop 10.1.1.1')]);
  const out = capture();
  const err = capture();
  const stdin = new PassThrough();
  let stop!: (why: string) => void;
  const until = new Promise<string>((r) => { stop = r; });
  const got: UpdateMessage[] = [];
  rr.on('update', (u) => got.push(u));
  const eor = once(rr, 'eor');
  const done = main(['peer', '127.0.0.1', '--local-as', '65001', '--port', String(addr.port), '--router-id', '10.0.0.2', '--json',
    '--announce', 'macadv aa:bb:cc:00:00:01 192.168.0.87 vni 100 rd 192.168.1.87:100 rt 65001:100 nexthop 192.168.1.87'],
  { stdout: out.stream, stderr: err.stream, stdin, until, logger: pino({ level: 'silent' }), bgpTransport: net.transport() });
  await eor;
  t.equal(got.length, 1);
  const withdrawn = once(rr, 'update');
  stdin.write('withdraw 1\n');
  const [w] = (await withdrawn) as [UpdateMessage];
  t.equal(w.attributes.mpUnreach?.nlri.kind === 'evpn' && w.attributes.mpUnreach.nlri.routes.length, 1);
  const down = once(rr, 'down');
  stop('test');
  t.equal(await within(done, { what: 'the peer command to return' }), 0);
  const [d] = await down;
  t.match(d, { notification: { code: 6, subcode: 2 } });
  const lines = out.text().trim().split('\n').map((l) => JSON.parse(l) as { event: string; mac?: string });
  t.same(lines.map((l) => l.event), ['established', 'update', 'eor', 'down']);
  t.equal(lines[1]!.mac, 'aa:bb:cc:00:00:09');
  await rr.stop();
});
