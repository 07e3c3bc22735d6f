// ReflectorRib with fake sessions (RouteSinks that record every call): RFC 4456
// reflection rules, attributes, loop prevention, best path and withdraw on down.
import t from 'tap';
import { ReflectorRib, type RouteSink } from '../../src/reflector/rib.js';
import { bestPath, type Path } from '../../src/reflector/bestpath.js';
import type { OutRoute } from '../../src/bgp/session.js';
import { AFI, SAFI, type PathAttributes, type UpdateMessage } from '../../src/bgp/types.js';
import { inclusiveMulticastRoute, macIpRoute, routeKey } from '../../src/evpn/route.js';
import type { EvpnRoute } from '../../src/evpn/types.js';

const AS = 65001;
const RR_ID = '10.0.0.100';
const CLUSTER = '10.0.0.200';

class FakeSink implements RouteSink {
  calls: Array<{ op: 'advertise'; routes: OutRoute[] } | { op: 'withdraw'; routes: EvpnRoute[] }> = [];
  /** The Adj-RIB-Out as the session would hold it. */
  out = new Map<string, OutRoute>();
  advertise(routes: OutRoute[]): void {
    this.calls.push({ op: 'advertise', routes });
    for (const r of routes) this.out.set(routeKey(r.route), r);
  }
  withdraw(routes: EvpnRoute[]): void {
    this.calls.push({ op: 'withdraw', routes });
    for (const r of routes) this.out.delete(routeKey(r));
  }
  clear(): void { this.calls = []; }
}

const rt = { kind: 'route-target', form: 'as2', asn: AS, local: 100 } as const;
const base: PathAttributes = { origin: 0, asPath: [], localPref: 100, extCommunities: [rt] };
const mac1 = macIpRoute({ rd: '192.168.1.65:100', mac: 'aa:bb:cc:00:00:01', ip: '192.168.0.65', vni: 100 });
const mac2 = macIpRoute({ rd: '192.168.1.65:100', mac: 'aa:bb:cc:00:00:02', ip: null, vni: 100 });
const imet = inclusiveMulticastRoute({ rd: '192.168.1.65:100', originatorIp: '192.168.1.65' });

function announce(routes: EvpnRoute[], nextHop: string, attributes: PathAttributes = base): UpdateMessage {
  return { type: 'update', withdrawn: [], nlri: [],
    attributes: { ...attributes, mpReach: { afi: AFI.L2VPN, safi: SAFI.Evpn, nextHop: [nextHop], nlri: { kind: 'evpn', routes } } } };
}

function withdrawal(routes: EvpnRoute[]): UpdateMessage {
  return { type: 'update', withdrawn: [], nlri: [],
    attributes: { mpUnreach: { afi: AFI.L2VPN, safi: SAFI.Evpn, nlri: { kind: 'evpn', routes } } } };
}

interface World { rib: ReflectorRib; a: FakeSink; b: FakeSink; c: FakeSink }

/** Three iBGP clients A (.65), B (.87), C (.99), all up. */
function world(opts: { clusterId?: string } = { clusterId: CLUSTER }): World {
  const rib = new ReflectorRib({ localAs: AS, routerId: RR_ID, ...opts });
  const a = new FakeSink();
  const b = new FakeSink();
  const c = new FakeSink();
  rib.addPeer({ address: '192.168.1.65', asn: AS, sink: a });
  rib.addPeer({ address: '192.168.1.87', asn: AS, sink: b });
  rib.addPeer({ address: '192.168.1.99', asn: AS, sink: c });
  rib.peerUp('192.168.1.65', '1.1.1.65');
  rib.peerUp('192.168.1.87', '1.1.1.87');
  rib.peerUp('192.168.1.99', '1.1.1.99');
  return { rib, a, b, c };
}

t.test('a client route is reflected to every other client, not back (RFC 4456 §6, §8)', (t) => {
  const { rib, a, b, c } = world();
  const res = rib.receive('192.168.1.65', announce([mac1, imet], '192.168.1.65'));
  t.same(res, { announced: 2, withdrawn: 0, looped: 0 });
  t.equal(a.calls.length, 0, 'nothing back to the originator');
  for (const s of [b, c]) {
    t.equal(s.calls.length, 1, 'one advertise call for both routes');
    const call = s.calls[0]!;
    t.equal(call.op, 'advertise');
    t.equal(call.routes.length, 2);
    const r = s.out.get(routeKey(mac1))!;
    t.equal(r.nextHop, '192.168.1.65', 'next hop unchanged');
    t.equal(r.attributes.originatorId, '1.1.1.65', 'ORIGINATOR_ID = the client\'s BGP Identifier');
    t.same(r.attributes.clusterList, [CLUSTER], 'CLUSTER_LIST = our cluster ID');
    t.equal(r.attributes.localPref, 100, 'LOCAL_PREF kept');
    t.same(r.attributes.extCommunities, [rt], 'other attributes kept');
    t.equal(r.attributes.mpReach, undefined);
  }
  t.same(rib.peerViews().map((p) => [p.address, p.received, p.sent]), [
    ['192.168.1.65', 2, 0], ['192.168.1.87', 0, 2], ['192.168.1.99', 0, 2]]);
  t.end();
});

t.test('existing ORIGINATOR_ID is kept, our cluster ID is prepended; LOCAL_PREF as received', (t) => {
  const { rib, b } = world();
  rib.receive('192.168.1.65', announce([mac1], '192.168.1.65',
    { ...base, localPref: 250, originatorId: '9.9.9.9', clusterList: ['7.7.7.7'] }));
  const r = b.out.get(routeKey(mac1))!;
  t.equal(r.attributes.originatorId, '9.9.9.9');
  t.same(r.attributes.clusterList, [CLUSTER, '7.7.7.7']);
  t.equal(r.attributes.localPref, 250);
  t.end();
});

t.test('cluster ID defaults to the router ID', (t) => {
  const { rib, b } = world({});
  t.equal(rib.clusterId, RR_ID);
  rib.receive('192.168.1.65', announce([mac1], '192.168.1.65'));
  t.same(b.out.get(routeKey(mac1))!.attributes.clusterList, [RR_ID]);
  t.end();
});

t.test('loop prevention on receive (RFC 4456 §8)', (t) => {
  const { rib, b } = world();
  let res = rib.receive('192.168.1.65', announce([mac1], '192.168.1.65', { ...base, originatorId: RR_ID }));
  t.same(res, { announced: 0, withdrawn: 0, looped: 1 }, 'ORIGINATOR_ID = our router ID');
  res = rib.receive('192.168.1.65', announce([mac2], '192.168.1.65', { ...base, clusterList: ['1.2.3.4', CLUSTER] }));
  t.same(res, { announced: 0, withdrawn: 0, looped: 1 }, 'our cluster ID in CLUSTER_LIST');
  t.equal(b.calls.length, 0);
  t.equal(rib.size, 0);
  t.same(rib.counters.looped, { 'originator-id': 1, 'cluster-list': 1, 'as-path': 0 });

  // A looped replacement withdraws the path it replaces (implicit withdraw).
  rib.receive('192.168.1.65', announce([mac1], '192.168.1.65'));
  t.ok(b.out.has(routeKey(mac1)));
  b.clear();
  rib.receive('192.168.1.65', announce([mac1], '192.168.1.65', { ...base, clusterList: [CLUSTER] }));
  t.same(b.calls.map((c) => c.op), ['withdraw']);
  t.notOk(b.out.has(routeKey(mac1)));
  t.end();
});

t.test('withdraw reaches every other client; unknown withdrawals are harmless', (t) => {
  const { rib, a, b, c } = world();
  rib.receive('192.168.1.65', announce([mac1, mac2], '192.168.1.65'));
  b.clear(); c.clear();
  const res = rib.receive('192.168.1.65', withdrawal([mac1, imet]));
  t.equal(res.withdrawn, 2);
  for (const s of [b, c]) {
    t.same(s.calls.map((x) => [x.op, x.routes.length]), [['withdraw', 1]]);
    t.notOk(s.out.has(routeKey(mac1)));
    t.ok(s.out.has(routeKey(mac2)));
  }
  t.equal(a.calls.length, 0);
  t.end();
});

t.test('RFC 7606 treat-as-withdraw removes the previous path', (t) => {
  const { rib, b } = world();
  rib.receive('192.168.1.65', announce([mac1], '192.168.1.65'));
  const u = announce([mac1], '192.168.1.65');
  u.attrErrors = [{ typeCode: 16, action: 'withdraw', reason: 'bad' }];
  rib.receive('192.168.1.65', u);
  t.notOk(b.out.has(routeKey(mac1)));
  t.end();
});

t.test('session down: every route of the peer withdrawn from everyone in one call each', (t) => {
  const { rib, a, b, c } = world();
  rib.receive('192.168.1.65', announce([mac1, mac2, imet], '192.168.1.65'));
  rib.receive('192.168.1.87', announce([inclusiveMulticastRoute({ rd: '192.168.1.87:100', originatorIp: '192.168.1.87' })], '192.168.1.87'));
  a.clear(); b.clear(); c.clear();
  t.equal(rib.peerDown('192.168.1.65'), 3);
  for (const s of [b, c]) {
    t.same(s.calls.map((x) => [x.op, x.routes.length]), [['withdraw', 3]], 'one packed withdrawal');
  }
  t.equal(a.calls.length, 0, 'the downed peer keeps its Adj-RIB-Out');
  t.equal(a.out.size, 1, 'B\'s route stays queued for A');
  t.equal(rib.size, 1);
  // A comes back: it sends its routes again.
  rib.peerUp('192.168.1.65', '1.1.1.65');
  rib.receive('192.168.1.65', announce([mac1], '192.168.1.65'));
  t.ok(b.out.has(routeKey(mac1)));
  t.end();
});

t.test('removePeer forgets a dynamic client; a new client gets the whole table at once', (t) => {
  const { rib, b, c } = world();
  rib.receive('192.168.1.65', announce([mac1, mac2], '192.168.1.65'));
  rib.receive('192.168.1.87', announce([imet], '192.168.1.87'));
  b.clear(); c.clear();
  rib.removePeer('192.168.1.65');
  t.same(b.calls.map((x) => [x.op, x.routes.length]), [['withdraw', 2]]);
  t.equal(rib.peerViews().length, 2);

  const d = new FakeSink();
  rib.addPeer({ address: '192.168.1.120', asn: AS, sink: d });
  t.same(d.calls.map((x) => [x.op, x.routes.length]), [['advertise', 1]], 'table pushed before the session is up');
  t.equal(d.out.get(routeKey(imet))!.attributes.originatorId, '1.1.1.87');
  t.throws(() => rib.addPeer({ address: '192.168.1.120', asn: AS, sink: d }));
  t.end();
});

t.test('best path: higher LOCAL_PREF wins; the loser\'s owner receives the winner', (t) => {
  const { rib, a, b, c } = world();
  rib.receive('192.168.1.65', announce([mac1], '192.168.1.65', { ...base, localPref: 100 }));
  rib.receive('192.168.1.87', announce([mac1], '192.168.1.87', { ...base, localPref: 200 }));
  t.equal(c.out.get(routeKey(mac1))!.nextHop, '192.168.1.87');
  t.equal(a.out.get(routeKey(mac1))!.nextHop, '192.168.1.87', 'A gets B\'s better path');
  t.notOk(b.out.has(routeKey(mac1)), 'B gets nothing back');
  const view = rib.routes().find((r) => r.key === routeKey(mac1))!;
  t.equal(view.reason, 'local-pref');
  t.equal(view.paths.length, 2);
  // B withdraws: A's path becomes best; B now receives it, A's entry is withdrawn.
  a.clear(); b.clear(); c.clear();
  rib.receive('192.168.1.87', withdrawal([mac1]));
  t.same(a.calls.map((x) => x.op), ['withdraw']);
  t.equal(b.out.get(routeKey(mac1))!.nextHop, '192.168.1.65');
  t.equal(c.out.get(routeKey(mac1))!.nextHop, '192.168.1.65');
  t.end();
});

t.test('an eBGP peer: AS_PATH loop check, LOCAL_PREF ignored, no reflection attributes either way', (t) => {
  const { rib, b } = world();
  const e = new FakeSink();
  rib.addPeer({ address: '192.168.2.2', asn: 65002, sink: e });
  rib.peerUp('192.168.2.2', '2.2.2.2');
  let res = rib.receive('192.168.2.2', announce([mac2], '192.168.2.9', { ...base, asPath: [{ type: 'sequence', asns: [65002, AS] }] }));
  t.equal(res.looped, 1, 'our AS in AS_PATH');
  res = rib.receive('192.168.2.2', announce([mac2], '192.168.2.9',
    { ...base, asPath: [{ type: 'sequence', asns: [65002] }], localPref: 999, med: 5, originatorId: '3.3.3.3' }));
  t.equal(res.announced, 1);
  const toB = b.out.get(routeKey(mac2))!;
  t.equal(toB.attributes.localPref, undefined, 'received LOCAL_PREF dropped (session adds the default 100)');
  t.equal(toB.attributes.originatorId, undefined, 'not a reflected route');
  t.equal(toB.attributes.clusterList, undefined);
  t.equal(toB.attributes.med, 5);
  t.equal(toB.nextHop, '192.168.2.9');

  rib.receive('192.168.1.65', announce([mac1], '192.168.1.65'));
  const toE = e.out.get(routeKey(mac1))!;
  t.equal(toE.nextHop, '192.168.1.65', 'EVPN next hop unchanged towards eBGP');
  t.end();
});

t.test('unknown attributes: transitive ones passed with Partial, non-transitive dropped (RFC 4271 §5)', (t) => {
  const { rib, b } = world();
  rib.receive('192.168.1.65', announce([mac1], '192.168.1.65', { ...base, unknown: [
    { flags: 0xc0, typeCode: 200, value: Uint8Array.of(1) },
    { flags: 0x80, typeCode: 201, value: Uint8Array.of(2) },
  ] }));
  t.same(b.out.get(routeKey(mac1))!.attributes.unknown, [{ flags: 0xe0, typeCode: 200, value: Uint8Array.of(1) }]);
  t.end();
});

t.test('UPDATE from a peer that is not up is ignored', (t) => {
  const rib = new ReflectorRib({ localAs: AS, routerId: RR_ID });
  const a = new FakeSink();
  rib.addPeer({ address: '192.168.1.65', asn: AS, sink: a });
  t.same(rib.receive('192.168.1.65', announce([mac1], '192.168.1.65')), { announced: 0, withdrawn: 0, looped: 0 });
  t.same(rib.receive('192.168.1.66', announce([mac1], '192.168.1.65')), { announced: 0, withdrawn: 0, looped: 0 });
  t.end();
});

function path(peer: string, a: PathAttributes, o: Partial<Path> = {}): Path {
  return { peer, peerAs: AS, peerBgpId: peer, ebgp: false, route: mac1, nextHop: peer, attributes: a, ...o };
}

t.test('bestPath: each step of RFC 4271 §9.1.2.2 with RFC 4456 §9', (t) => {
  t.equal(bestPath([]), null);
  t.same(bestPath([path('10.0.0.1', {})])?.reason, 'only-path');
  const cases: Array<[string, Path[], string, string]> = [
    ['local-pref', [path('10.0.0.1', { localPref: 100 }), path('10.0.0.2', { localPref: 200 })], '10.0.0.2', 'local-pref'],
    ['absent LOCAL_PREF is 100', [path('10.0.0.1', {}), path('10.0.0.2', { localPref: 99 })], '10.0.0.1', 'local-pref'],
    ['as-path', [path('10.0.0.1', { asPath: [{ type: 'sequence', asns: [1, 2] }] }),
      path('10.0.0.2', { asPath: [{ type: 'set', asns: [1, 2, 3] }] })], '10.0.0.2', 'as-path-length'],
    ['origin', [path('10.0.0.1', { origin: 2 }), path('10.0.0.2', { origin: 0 })], '10.0.0.2', 'origin'],
    ['med same AS', [path('10.0.0.1', { med: 10, asPath: [{ type: 'sequence', asns: [7] }] }),
      path('10.0.0.2', { med: 20, asPath: [{ type: 'sequence', asns: [7] }] })], '10.0.0.1', 'med'],
    ['med ignored across ASes', [path('10.0.0.9', { med: 10, asPath: [{ type: 'sequence', asns: [7] }] }),
      path('10.0.0.2', { med: 20, asPath: [{ type: 'sequence', asns: [8] }] })], '10.0.0.2', 'router-id'],
    ['ebgp', [path('10.0.0.1', {}), path('10.0.0.2', {}, { ebgp: true })], '10.0.0.2', 'ebgp-over-ibgp'],
    ['originator id stands for the router id', [path('10.0.0.1', { originatorId: '10.0.0.50' }), path('10.0.0.2', {})], '10.0.0.2', 'router-id'],
    ['cluster list', [path('10.0.0.1', { originatorId: '1.1.1.1', clusterList: ['a', 'b'].map(() => '9.9.9.9') }),
      path('10.0.0.2', { originatorId: '1.1.1.1', clusterList: ['9.9.9.9'] })], '10.0.0.2', 'cluster-list-length'],
    ['peer address', [path('10.0.0.10', {}, { peerBgpId: '5.5.5.5' }), path('10.0.0.9', {}, { peerBgpId: '5.5.5.5' })], '10.0.0.9', 'peer-address'],
  ];
  for (const [name, paths, winner, reason] of cases) {
    const b = bestPath(paths);
    t.equal(b?.best.peer, winner, name);
    t.equal(b?.reason, reason, `${name}: reason`);
    const rev = bestPath([...paths].reverse());
    t.equal(rev?.best.peer, winner, `${name}: order does not matter`);
  }
  t.end();
});
