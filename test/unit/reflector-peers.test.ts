// The Reflector with real BgpSessions as clients from 127.0.0.2/.3/.4, all on the
// in-memory transport (test/lib/bgp-transport.ts) and a ManualClock: dynamic
// neighbours from a listen range, reflection with ORIGINATOR_ID and CLUSTER_LIST,
// withdrawals, a client going away, a late client getting the table before
// End-of-RIB, and a refused address. Every wait is on an event, with a deadline
// (test/lib/settle.ts).
import t from 'tap';
import { BfdManager } from '../../src/bfd/manager.js';
import type { BfdTransport } from '../../src/bfd/udp.js';
import { BgpSession, type DownEvent } from '../../src/bgp/session.js';
import type { TransportAddress } from '../../src/bgp/transport.js';
import { ManualClock } from '../../src/util/clock.js';
import type { Family, PathAttributes, UpdateMessage } from '../../src/bgp/types.js';
import { inclusiveMulticastRoute, macIpRoute, routeKey } from '../../src/evpn/route.js';
import type { EvpnRoute } from '../../src/evpn/types.js';
import { parseReflectorConfig } from '../../src/reflector/config.js';
import { Reflector } from '../../src/reflector/reflector.js';
import { statusRecord } from '../../src/cli/reflector.js';
import { once, waitFor } from '../lib/settle.js';
import { FakeNetwork } from '../lib/bgp-transport.js';
import { message } from '../lib/bytes.js';

// A deadline for the whole file, behind the deadline of each wait: awaits such
// as stop() fail the run in time instead of at tap's 600 s.
t.setTimeout(120_000);

const AS = 65001;
const config = parseReflectorConfig([
  'routerId: 10.0.0.100',
  `asn: ${AS}`,
  'clusterId: 10.0.0.200',
  'listen: { address: 127.0.0.1, port: 0 }',
  'listenRanges: [127.0.0.2/32, 127.0.0.3/32, { range: 127.0.0.4/30, asn: 65001 }]',
  'holdTime: 90',
  'bfd: false',
].join('\n'), 'tcp-test');

const rt = { kind: 'route-target', form: 'as2', asn: AS, local: 100 } as const;
const attrs: PathAttributes = { localPref: 150, extCommunities: [rt, { kind: 'encapsulation', tunnelType: 8 }] };
const macA = macIpRoute({ rd: '192.168.1.65:100', mac: 'aa:bb:cc:00:00:65', ip: '192.168.0.65', vni: 100 });
const imetA = inclusiveMulticastRoute({ rd: '192.168.1.65:100', originatorIp: '192.168.1.65' });
const imetB = inclusiveMulticastRoute({ rd: '192.168.1.87:100', originatorIp: '192.168.1.87' });

let net = new FakeNetwork();
let clock = new ManualClock();
t.beforeEach(() => {
  net = new FakeNetwork();
  clock = new ManualClock();
});

function reflector(opts: Omit<ConstructorParameters<typeof Reflector>[0], 'transport' | 'clock'>): Reflector {
  return new Reflector({ transport: net.transport(), clock, ...opts });
}

function client(local: string, routerId: string, port: number): BgpSession {
  return new BgpSession({ transport: net.transport(), clock, peerAddress: '127.0.0.1', peerPort: port, localAddress: local, localAs: AS, peerAs: AS, routerId,
    holdTime: 90, connectRetry: { min: 10, max: 50 } });
}

/** Every UPDATE a session receives, with End-of-RIB markers, in order. */
function recorder(s: BgpSession): Array<UpdateMessage | 'eor'> {
  const got: Array<UpdateMessage | 'eor'> = [];
  s.on('update', (u) => got.push(u));
  s.on('eor', (_f: Family) => got.push('eor'));
  return got;
}

function reached(got: Array<UpdateMessage | 'eor'>, route: EvpnRoute): UpdateMessage | undefined {
  const key = routeKey(route);
  return got.find((u): u is UpdateMessage => u !== 'eor' && u.attributes.mpReach?.nlri.kind === 'evpn' &&
    u.attributes.mpReach.nlri.routes.some((r) => routeKey(r) === key));
}

function unreached(got: Array<UpdateMessage | 'eor'>, route: EvpnRoute): boolean {
  const key = routeKey(route);
  return got.some((u) => u !== 'eor' && u.attributes.mpUnreach?.nlri.kind === 'evpn' &&
    u.attributes.mpUnreach.nlri.routes.some((r) => routeKey(r) === key));
}

t.test('reflection between real sessions', async (t) => {
  const rr = reflector({ config });
  const addr = await rr.start();
  t.teardown(() => rr.stop());
  t.equal(addr.address, '127.0.0.1');

  const A = client('127.0.0.2', '1.1.1.2', addr.port);
  const B = client('127.0.0.3', '1.1.1.3', addr.port);
  t.teardown(async () => { await A.stop(); await B.stop(); });
  const gotA = recorder(A);
  const gotB = recorder(B);
  A.start();
  B.start();
  await Promise.all([once(A, 'established'), once(B, 'established')]);
  await waitFor(() => rr.peers().filter((p) => p.up).length === 2, { what: 'both clients up at the reflector' });
  t.same(rr.peers().map((p) => [p.address, p.state, p.dynamic, p.ebgp]).sort(),
    [['127.0.0.2', 'Established', true, false], ['127.0.0.3', 'Established', true, false]]);

  // A announces; B receives it reflected.
  A.advertise([{ route: macA, nextHop: '192.168.1.65', attributes: attrs }, { route: imetA, nextHop: '192.168.1.65', attributes: attrs }]);
  await waitFor(() => reached(gotB, macA) !== undefined && reached(gotB, imetA) !== undefined, { what: "A's routes at B" });
  const u = reached(gotB, macA)!;
  t.equal(u.attributes.originatorId, '1.1.1.2', 'ORIGINATOR_ID = A\'s BGP Identifier');
  t.same(u.attributes.clusterList, ['10.0.0.200'], 'CLUSTER_LIST = our cluster ID');
  t.same(u.attributes.mpReach?.nextHop, ['192.168.1.65'], 'next hop unchanged');
  t.equal(u.attributes.localPref, 150, 'LOCAL_PREF as received');
  t.same(u.attributes.asPath, [], 'AS_PATH unchanged (empty, iBGP)');
  t.same(u.attributes.extCommunities, attrs.extCommunities);
  t.notOk(reached(gotA, macA), 'not reflected back to A');

  // A withdraws one route: B gets the withdrawal.
  A.withdraw([macA]);
  await waitFor(() => unreached(gotB, macA), { what: 'the withdrawal at B' });
  t.pass('withdrawal reached B');
  t.equal(rr.rib.size, 1);
  t.match(statusRecord(rr), {
    event: 'status',
    routes: [{ route: /^\[3\]/, best: { peer: '127.0.0.2', nextHop: '192.168.1.65' }, reason: 'only-path', paths: ['127.0.0.2'] }],
  });
  t.match(rr.peers().find((p) => p.address === '127.0.0.2'), { received: 1, sent: 0, bgpId: '1.1.1.2', bfd: null });
  t.match(rr.peers().find((p) => p.address === '127.0.0.3'), { received: 0, sent: 1, bgpId: '1.1.1.3' });

  // A late client C gets the table before its End-of-RIB.
  B.advertise([{ route: imetB, nextHop: '192.168.1.87', attributes: attrs }]);
  await waitFor(() => reached(gotA, imetB) !== undefined, { what: "B's route at A" });
  const C = client('127.0.0.4', '1.1.1.4', addr.port);
  t.teardown(() => C.stop());
  const gotC = recorder(C);
  C.start();
  await waitFor(() => gotC.includes('eor'), { what: 'End-of-RIB at C' });
  const eorAt = gotC.indexOf('eor');
  t.ok(reached(gotC.slice(0, eorAt), imetA) && reached(gotC.slice(0, eorAt), imetB), 'whole table before End-of-RIB');
  t.equal(reached(gotC, imetB)!.attributes.originatorId, '1.1.1.3');

  // A goes away: its remaining route is withdrawn from B and C; the dynamic peer is forgotten.
  await A.stop('test');
  await waitFor(() => unreached(gotB, imetA) && unreached(gotC, imetA), { what: "A's route withdrawn from B and C" });
  await waitFor(() => !rr.peers().some((p) => p.address === '127.0.0.2'), { what: 'the dynamic peer forgotten' });
  t.same(rr.peers().map((p) => p.address).sort(), ['127.0.0.3', '127.0.0.4']);
  t.equal(rr.rib.size, 1);

  // A comes back as a new dynamic client and gets B's route again.
  const A2 = client('127.0.0.2', '1.1.1.2', addr.port);
  t.teardown(() => A2.stop());
  const gotA2 = recorder(A2);
  A2.start();
  await waitFor(() => reached(gotA2, imetB) !== undefined, { what: "B's route at the reconnected A" });
  t.pass('reconnected client receives the table');
});

t.test('connections from outside the listen ranges are closed', async (t) => {
  const rr = reflector({ config });
  const addr = await rr.start();
  t.teardown(() => rr.stop());
  const refused = once(rr, 'refused');
  const s = net.dial('127.0.0.9', '127.0.0.1', addr.port);
  const [from] = (await refused) as [string];
  t.equal(from, '127.0.0.9');
  await waitFor(() => s.destroyed, { what: 'the connection closed' });
  t.same(s.sent(), [], 'nothing said');
  t.same(net.pairs[0]![1].sent(), [], 'closed without a NOTIFICATION');
  t.equal(rr.peers().length, 0);
});

t.test('BFD down resets the client session at once (Cease / BFD Down) and the dynamic peer is dropped', async (t) => {
  const transport: BfdTransport = {
    openRx: async () => ({ close: () => undefined }),
    openTx: async () => ({ port: 49152, send: (_p, _a, _port, cb) => cb(null), close: () => undefined }),
  };
  const bfd = new BfdManager({ transport });
  t.teardown(() => bfd.close());
  const rr = reflector({ config: { ...config, bfd: { minTx: 100, minRx: 100, multiplier: 3 } }, bfd });
  const addr = await rr.start();
  t.teardown(() => rr.stop());
  const A = client('127.0.0.2', '1.1.1.2', addr.port);
  t.teardown(() => A.stop());
  A.start();
  await once(A, 'established');
  const [session] = bfd.sessions();
  t.ok(session, 'a BFD session per client');
  t.equal(session!.local, '127.0.0.1');
  t.equal(session!.remote, '127.0.0.2');
  t.same(rr.peers().map((p) => p.bfd), ['Down']);
  const down = once(A, 'down');
  session!.emit('down', { diag: 1, diagName: 'ControlDetectionTimeExpired', upForMs: 1000 });
  const [ev] = (await down) as [DownEvent];
  t.equal(ev.notification?.code, 6, 'Cease');
  t.equal(ev.notification?.subcode, 10, 'BFD Down (RFC 9384)');
  await waitFor(() => bfd.sessions().length === 0 && rr.peers().length === 0, { what: 'BFD session and peer removed' });
  t.pass('BFD session and dynamic peer removed');
});

t.test('a second connection from an Established client is refused (RFC 4271 §6.8)', async (t) => {
  const rr = reflector({ config });
  const addr = await rr.start();
  t.teardown(() => rr.stop());
  const A = client('127.0.0.2', '1.1.1.2', addr.port);
  t.teardown(() => A.stop());
  A.start();
  await once(A, 'established');
  const s = net.dial('127.0.0.2', '127.0.0.1', addr.port);
  await waitFor(() => s.destroyed, { what: 'the second connection closed' });
  t.same(net.pairs.at(-1)![1].sent(), message(3, [6, 7]), 'NOTIFICATION Cease / Connection Collision Resolution');
  t.equal(A.state, 'Established', 'the existing session is untouched');
});

t.test('a configured neighbor (we connect) and an eBGP client from a listen range', async (t) => {
  // N waits for us on 127.0.0.5; E (AS 65002) dials in from 127.0.0.6.
  const N = new BgpSession({ transport: net.transport(), clock, peerAddress: '127.0.0.1', localAddress: '127.0.0.5', localAs: AS, peerAs: AS, routerId: '1.1.1.5',
    holdTime: 90, passive: true, listen: { port: 0 } });
  t.teardown(() => N.stop());
  N.start();
  const [nAddr] = (await once(N, 'listening')) as [TransportAddress];
  const nUp = once(N, 'established');
  const rr = reflector({ config: parseReflectorConfig([
    'routerId: 10.0.0.100', `asn: ${AS}`, 'listen: { address: 127.0.0.1, port: 0 }',
    'listenRanges: [{ range: 127.0.0.6/32, asn: 65002 }]',
    `neighbors: [{ address: 127.0.0.5, port: ${nAddr.port} }]`,
  ].join('\n')) });
  const addr = await rr.start();
  t.teardown(() => rr.stop());
  const E = new BgpSession({ transport: net.transport(), clock, peerAddress: '127.0.0.1', peerPort: addr.port, localAddress: '127.0.0.6', localAs: 65002, peerAs: AS,
    routerId: '1.1.1.6', holdTime: 90, connectRetry: { min: 10, max: 50 } });
  t.teardown(() => E.stop());
  const gotN = recorder(N);
  const gotE = recorder(E);
  E.start();
  await Promise.all([nUp, once(E, 'established')]);
  t.same(rr.peers().map((p) => [p.address, p.dynamic, p.ebgp]).sort(), [['127.0.0.5', false, false], ['127.0.0.6', true, true]]);

  // iBGP neighbor → eBGP client: our AS prepended, no LOCAL_PREF or reflection attributes, EVPN next hop unchanged.
  N.advertise([{ route: macA, nextHop: '192.168.1.65', attributes: attrs }]);
  await waitFor(() => reached(gotE, macA) !== undefined, { what: "N's route at E" });
  const toE = reached(gotE, macA)!.attributes;
  t.same(toE.asPath, [{ type: 'sequence', asns: [AS] }]);
  t.equal(toE.localPref, undefined);
  t.equal(toE.originatorId, undefined);
  t.equal(toE.clusterList, undefined);
  t.same(toE.mpReach?.nextHop, ['192.168.1.65']);

  // eBGP client → iBGP neighbor: AS_PATH as received, LOCAL_PREF 100, not a reflected route.
  E.advertise([{ route: imetB, nextHop: '192.168.2.87', attributes: { ...attrs, localPref: 999 } }]);
  await waitFor(() => reached(gotN, imetB) !== undefined, { what: "E's route at N" });
  const toN = reached(gotN, imetB)!.attributes;
  t.same(toN.asPath, [{ type: 'sequence', asns: [65002] }]);
  t.equal(toN.localPref, 100);
  t.equal(toN.originatorId, undefined);
  t.same(toN.mpReach?.nextHop, ['192.168.2.87']);

  // The neighbor goes away: its route is withdrawn; its session stays configured.
  await N.stop('test');
  await waitFor(() => unreached(gotE, macA), { what: "N's route withdrawn from E" });
  t.same(rr.peers().map((p) => p.address).sort(), ['127.0.0.5', '127.0.0.6']);
  t.not(rr.peers().find((p) => p.address === '127.0.0.5')?.state, 'Established');
});

t.test('TCP-MD5 keys of listen ranges and neighbors go to the listener (RFC 2385)', async (t) => {
  const rr = reflector({ config: parseReflectorConfig([
    'routerId: 10.0.0.100', `asn: ${AS}`, 'listen: { address: 127.0.0.1, port: 0 }',
    'listenRanges: [{ range: 127.0.0.4/30, password: range-key }, 127.0.0.8/32]',
    'neighbors: [{ address: 127.0.0.5, password: neighbor-key }]',
  ].join('\n')) });
  await rr.start();
  t.teardown(() => rr.stop());
  t.same(net.listens, [{ host: '127.0.0.1', port: 0, security: { ttlSecurity: null, keys: [
    { address: '127.0.0.4', prefixLength: 30, auth: { kind: 'md5', password: 'range-key' } },
    { address: '127.0.0.5', auth: { kind: 'md5', password: 'neighbor-key' } },
  ] } }]);
  t.match(net.connects, [{ peerAddress: '127.0.0.5', localAddress: '127.0.0.1',
    security: { keys: [{ address: '127.0.0.5', auth: { kind: 'md5', password: 'neighbor-key' } }], ttlSecurity: null } }]);
});
