// BgpSession on the in-memory transport (test/lib/bgp-transport.ts) and a
// ManualClock: no TCP, no real time. Two sessions talk to each other, or one
// talks to a hand-driven peer; expected bytes are built with test/lib/bytes.ts,
// never with the encoder. The TCP transport itself is tested in bgp-tcp.test.ts.
import t from 'tap';
import { BgpSession, exportAttributes, type BgpSessionOptions, type DownEvent } from '../../src/bgp/session.js';
import { decodeShutdownCommunication, type StateName } from '../../src/bgp/fsm.js';
import { inclusiveMulticastRoute, macIpRoute } from '../../src/evpn/route.js';
import { ManualClock } from '../../src/util/clock.js';
import type { EvpnRoute } from '../../src/evpn/types.js';
import type { Family, PathAttributes, RouteRefreshMessage, UpdateMessage } from '../../src/bgp/types.js';
import type { ConnectionHandlers } from '../../src/bgp/transport.js';
import { FakeNetwork, type FakeEnd } from '../lib/bgp-transport.js';
import { cat, ip4, message, u16, u32, u8 } from '../lib/bytes.js';

const A_ADDR = '192.0.2.1';
const B_ADDR = '192.0.2.2';

/** OPEN as buildOpen makes it for one EVPN family (RFC 4271 §4.2; capabilities RFC 4760, 2918, 7313, 6793). */
function openBytes(asn: number, holdTime: number, bgpId: string): Uint8Array {
  const caps = cat(
    [1, 4], u16(25), [0, 70], // multiprotocol L2VPN EVPN
    [2, 0], // route refresh
    [70, 0], // enhanced route refresh
    [65, 4], u32(asn), // four-octet AS
  );
  return message(1, u8(4), u16(asn), u16(holdTime), ip4(bgpId), u8(caps.length + 2), [2, caps.length], caps);
}
const KEEPALIVE = message(4);
function notificationBytes(code: number, subcode: number, data: number[] = []): Uint8Array {
  return message(3, [code, subcode], data);
}

/** The whole messages in a byte stream. */
function frames(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length;) {
    const len = (bytes[at + 16]! << 8) | bytes[at + 17]!;
    out.push(bytes.subarray(at, at + len));
    at += len;
  }
  return out;
}
const typeOf = (m: Uint8Array): number => m[18]!;

interface Recorded {
  updates: UpdateMessage[];
  eors: Family[];
  downs: DownEvent[];
  states: StateName[];
  refreshes: RouteRefreshMessage[];
}

function record(s: BgpSession): Recorded {
  const r: Recorded = { updates: [], eors: [], downs: [], states: [], refreshes: [] };
  s.on('update', (u) => r.updates.push(u));
  s.on('eor', (f) => r.eors.push(f));
  s.on('down', (d) => r.downs.push(d));
  s.on('state', (_f, to) => r.states.push(to));
  s.on('routeRefresh', (m) => r.refreshes.push(m));
  return r;
}

function world(): {
  net: FakeNetwork;
  clock: ManualClock;
  make(o: Partial<BgpSessionOptions> & { routerId: string; peerAddress: string }): BgpSession;
  pair(a?: Partial<BgpSessionOptions>, b?: Partial<BgpSessionOptions>): [BgpSession, BgpSession];
} {
  const net = new FakeNetwork();
  const clock = new ManualClock();
  const make = (o: Partial<BgpSessionOptions> & { routerId: string; peerAddress: string }): BgpSession => new BgpSession({
    transport: net.transport(), clock, localAs: 65001, peerAs: 65001, connectRetry: { min: 10, max: 50 }, random: () => 1, ...o,
  });
  /** A waits for B on A_ADDR:179; B will dial it (not started). */
  const pair = (a: Partial<BgpSessionOptions> = {}, b: Partial<BgpSessionOptions> = {}): [BgpSession, BgpSession] => {
    const A = make({ routerId: '10.0.0.1', peerAddress: B_ADDR, localAddress: A_ADDR, passive: true, listen: { port: 179 }, ...a });
    const B = make({ routerId: '10.0.0.2', peerAddress: A_ADDR, localAddress: B_ADDR, ...b });
    A.start();
    net.flush();
    return [A, B];
  };
  return { net, clock, make, pair };
}

/** A hand-driven peer listening on host:179: the connections it accepted, and what each received. */
function rawListener(net: FakeNetwork, host: string): { conns: FakeEnd[]; received: Map<FakeEnd, Uint8Array[]> } {
  const conns: FakeEnd[] = [];
  const received = new Map<FakeEnd, Uint8Array[]>();
  net.transport().listen({ host, port: 179, security: null }, {
    connection: (c) => {
      const end = c as FakeEnd;
      conns.push(end);
      received.set(end, []);
      const h: ConnectionHandlers = { connected: () => undefined, data: (d) => received.get(end)!.push(d), closed: () => undefined };
      end.attach(h);
    },
    listening: () => undefined,
    error: (e) => { throw e; },
  });
  net.flush();
  return { conns, received };
}

const rt = { kind: 'route-target', form: 'as2', asn: 65001, local: 100 } as const;
const attrs: PathAttributes = { extCommunities: [rt, { kind: 'encapsulation', tunnelType: 8 }] };
const mac1 = macIpRoute({ rd: '192.168.1.87:100', mac: 'aa:bb:cc:00:00:01', ip: '192.168.0.87', vni: 100 });
const mac2 = macIpRoute({ rd: '192.168.1.87:100', mac: 'aa:bb:cc:00:00:02', ip: null, vni: 100 });
const imet = inclusiveMulticastRoute({ rd: '192.168.1.87:100', originatorIp: '192.168.1.87' });

function announced(us: UpdateMessage[]): EvpnRoute[] {
  return us.flatMap((u) => (u.attributes.mpReach?.nlri.kind === 'evpn' ? u.attributes.mpReach.nlri.routes : []));
}
function withdrawn(us: UpdateMessage[]): EvpnRoute[] {
  return us.flatMap((u) => (u.attributes.mpUnreach?.nlri.kind === 'evpn' ? u.attributes.mpUnreach.nlri.routes : []));
}

t.test('iBGP: establish, table + EoR, incremental advertise and withdraw, refresh, stop → Cease received', async (t) => {
  const { net, pair } = world();
  const [A, B] = pair();
  const a = record(A);
  const b = record(B);
  B.advertise([
    { route: mac1, nextHop: '192.168.1.87', attributes: attrs },
    { route: mac2, nextHop: '192.168.1.87', attributes: attrs },
    { route: imet, nextHop: '192.168.1.87', attributes: { ...attrs, pmsiTunnel: { flags: 0, tunnelType: 6, label: 100, tunnelId: new Uint8Array([192, 168, 1, 87]) } } },
  ]);
  let neg: unknown;
  A.once('established', (n) => { neg = n; });
  B.start();
  net.flush();
  t.equal(A.state, 'Established');
  t.equal(B.state, 'Established');
  t.match(neg, { peerAs: 65001, peerRouterId: '10.0.0.2', holdTime: 90, keepalive: 30, families: [{ afi: 25, safi: 70 }],
    fourOctetAs: true, routeRefresh: true, enhancedRouteRefresh: true });
  t.equal(A.uptimeSince, 0);

  // On the wire, B → A: OPEN, KEEPALIVE, the table (two attribute groups), End-of-RIB.
  const [bOut, aIn] = net.pairs[0]!;
  t.same(net.connects, [{ peerAddress: A_ADDR, peerPort: 179, localAddress: B_ADDR, security: null }]);
  t.same(net.listens, [{ host: A_ADDR, port: 179, security: null }]);
  const fromB = frames(bOut.sent());
  t.same(fromB[0], openBytes(65001, 90, '10.0.0.2'));
  t.same(fromB[1], KEEPALIVE);
  t.same(fromB.map(typeOf), [1, 4, 2, 2, 2]);
  t.same(frames(aIn.sent()).slice(0, 2), [openBytes(65001, 90, '10.0.0.1'), KEEPALIVE]);

  t.equal(a.updates.length, 2, 'two attribute groups → two UPDATEs');
  t.same(announced(a.updates).map((r) => r.type).sort(), ['inclusive-multicast', 'mac-ip', 'mac-ip']);
  const u = a.updates.find((x) => x.attributes.pmsiTunnel === undefined)!;
  t.equal(u.attributes.origin, 0);
  t.same(u.attributes.asPath, []);
  t.equal(u.attributes.localPref, 100, 'iBGP default LOCAL_PREF');
  t.same(u.attributes.mpReach?.nextHop, ['192.168.1.87']);
  t.same(u.attributes.extCommunities, attrs.extCommunities);
  t.same(a.eors, [{ afi: 25, safi: 70 }]);
  t.same(b.eors, [{ afi: 25, safi: 70 }], 'B gets End-of-RIB from A (empty table)');

  // Incremental: replace one (same key), withdraw one.
  a.updates.length = 0;
  B.advertise([{ route: mac2, nextHop: '192.168.1.87', attributes: { ...attrs, localPref: 200 } }]);
  net.flush();
  t.same(announced(a.updates), [mac2]);
  t.equal(a.updates[0]!.attributes.localPref, 200);
  t.equal(B.advertised().length, 3, 'replacing keeps one entry per route key');
  a.updates.length = 0;
  B.withdraw([mac1, mac1, macIpRoute({ rd: '1:1', mac: 'aa:aa:aa:aa:aa:aa', ip: null, vni: 1 })]);
  net.flush();
  t.same(withdrawn(a.updates), [mac1], 'only routes that were advertised are withdrawn, once');
  t.equal(B.advertised().length, 2);

  // ROUTE-REFRESH from A: B answers with its whole Adj-RIB-Out between BoRR and EoRR (RFC 7313).
  a.updates.length = 0;
  const sentByB = bOut.written.length;
  t.equal(A.refresh(), true);
  t.equal(A.refresh({ afi: 1, safi: 1 }), false, 'family not negotiated');
  net.flush();
  t.same(frames(aIn.sent()).at(-1), message(5, u16(25), [0, 70]), 'ROUTE-REFRESH (RFC 2918 §3)');
  t.match(b.refreshes, [{ type: 'route-refresh', afi: 25, safi: 70, subtype: 0 }]);
  const answer = frames(cat(...bOut.written.slice(sentByB)));
  t.same(answer[0], message(5, u16(25), [1, 70]), 'BoRR');
  t.same(answer.at(-1), message(5, u16(25), [2, 70]), 'EoRR');
  t.same(answer.slice(1, -1).map(typeOf), [2, 2]);
  t.same(announced(a.updates).map((r) => r.type).sort(), ['inclusive-multicast', 'mac-ip']);

  await B.stop('maintenance window');
  t.equal(B.state, 'Idle');
  const text = [...new TextEncoder().encode('maintenance window')];
  t.same(frames(bOut.sent()).at(-1), notificationBytes(6, 2, [text.length, ...text]), 'Cease / Administrative Shutdown (RFC 8203)');
  t.equal(a.downs.length, 1);
  const info = a.downs[0]!;
  t.match(info, { notification: { code: 6, subcode: 2, direction: 'received' } });
  t.equal(decodeShutdownCommunication(info.notification!.data), 'maintenance window');
  t.match(info.reason, /Administrative Shutdown: "maintenance window"/);
  t.equal(A.uptimeSince, null);
  t.match(A.lastError, { code: 6, subcode: 2 });
  t.equal(bOut.destroyed, true, 'connection closed');
  await A.stop();
});

t.test('re-establishment resends the whole table; reset() sends Cease and reconnects after the backoff', (t) => {
  const { net, clock, pair } = world();
  const [A, B] = pair();
  const a = record(A);
  B.advertise([{ route: mac1, nextHop: '192.168.1.87', attributes: attrs }]);
  B.start();
  net.flush();
  t.same(announced(a.updates), [mac1]);
  a.updates.length = 0;
  B.reset('BFD down', 10);
  net.flush();
  t.same(frames(net.pairs[0]![0].sent()).at(-1), notificationBytes(6, 10, [8, ...new TextEncoder().encode('BFD down')]));
  t.match(a.downs, [{ notification: { code: 6, subcode: 10, direction: 'received' } }]);
  t.equal(B.state, 'Idle');
  t.equal(clock.nextDueAt(), 10, 'IdleHold: connectRetry.min × jitter');
  clock.advance(10);
  net.flush();
  t.equal(B.state, 'Established');
  t.equal(net.pairs.length, 2, 'a new connection');
  t.same(announced(a.updates), [mac1], 'table sent again after re-establishment');
  t.end();
});

t.test('eBGP: local AS prepended, no LOCAL_PREF', (t) => {
  const { net, pair } = world();
  const [A, B] = pair({ localAs: 65001, peerAs: 65002 }, { localAs: 65002, peerAs: 65001 });
  const a = record(A);
  B.advertise([{ route: mac1, nextHop: '192.168.2.87', attributes: { ...attrs, localPref: 300 } }]);
  B.start();
  net.flush();
  const [u] = a.updates;
  t.same(u!.attributes.asPath, [{ type: 'sequence', asns: [65002] }]);
  t.equal(u!.attributes.localPref, undefined);
  t.same(frames(net.pairs[0]![0].sent())[0], openBytes(65002, 90, '10.0.0.2'));
  t.end();
});

t.test('hold timer on the session clock: keepalives every hold/3, a silent peer → NOTIFICATION 4 after the hold time', (t) => {
  const { net, clock, make } = world();
  const peer = rawListener(net, A_ADDR);
  const B = make({ routerId: '10.0.0.2', peerAddress: A_ADDR, localAddress: B_ADDR, holdTime: 9 });
  const b = record(B);
  B.start();
  net.flush();
  const conn = peer.conns[0]!;
  const got = (): Uint8Array[] => frames(cat(...peer.received.get(conn)!));
  t.same(got(), [openBytes(65001, 9, '10.0.0.2')]);
  conn.write(openBytes(65001, 90, '10.0.0.9'));
  conn.write(KEEPALIVE);
  net.flush();
  t.equal(B.state, 'Established');
  t.equal(B.negotiated?.holdTime, 9, 'the smaller hold time');
  const before = got().length;
  clock.advance(8999);
  net.flush();
  t.same(got().slice(before), [KEEPALIVE, KEEPALIVE], 'keepalives at 3 s and 6 s');
  t.equal(B.state, 'Established');
  clock.advance(1);
  net.flush();
  t.same(got().at(-1), notificationBytes(4, 0), 'Hold Timer Expired');
  t.equal(B.state, 'Idle');
  t.match(b.downs, [{ notification: { code: 4, subcode: 0, direction: 'sent' } }]);
  t.match(B.lastError, { code: 4, text: /hold timer expired/ });
  t.end();
});

t.test('exportAttributes', (t) => {
  t.same(exportAttributes({ asPath: [{ type: 'sequence', asns: [1] }], localPref: 5, originatorId: '1.1.1.1' }, 65001, 65002),
    { origin: 0, asPath: [{ type: 'sequence', asns: [65001, 1] }] });
  t.same(exportAttributes({ asPath: [{ type: 'set', asns: [1] }] }, 65001, 65002),
    { origin: 0, asPath: [{ type: 'sequence', asns: [65001] }, { type: 'set', asns: [1] }] });
  t.same(exportAttributes({ origin: 2 }, 65001, 65001), { origin: 2, asPath: [], localPref: 100 });
  t.end();
});

t.test('OPEN error: wrong peer AS → NOTIFICATION 2/2, no down event', (t) => {
  const { net, pair } = world();
  const [A, B] = pair({ peerAs: 65009 });
  const a = record(A);
  const b = record(B);
  B.start();
  net.flush();
  t.same(b.states, ['Connect', 'OpenSent', 'OpenConfirm', 'Idle'], 'A\'s OPEN is fine for B; B\'s is not for A');
  const fromA = frames(net.pairs[0]![1].sent());
  t.same(fromA.map(typeOf), [1, 3], 'OPEN, then NOTIFICATION');
  t.same(fromA[1]!.subarray(19, 21), [2, 2], 'OPEN Message Error / Bad Peer AS');
  t.match(B.lastError, { code: 2, subcode: 2 });
  t.match(B.lastError?.text, /received NOTIFICATION OPEN Message Error \/ Bad Peer AS/);
  t.equal(a.downs.length + b.downs.length, 0);
  t.end();
});

t.test('passive listener refuses other addresses; accepts the peer from any port', (t) => {
  const { net, make, pair } = world();
  const [A, B] = pair({ peerAddress: '192.0.2.3' });
  const b = record(B);
  B.start();
  net.flush();
  t.equal(B.state, 'Idle');
  t.match(B.lastError?.text, /connection lost: closed by peer/);
  t.notOk(b.states.includes('OpenConfirm'));
  t.equal(A.state, 'Active', 'A still waits');
  const C = make({ routerId: '10.0.0.3', peerAddress: A_ADDR, localAddress: '192.0.2.3' });
  C.start();
  net.flush();
  t.equal(A.state, 'Established');
  t.equal(C.state, 'Established');
  t.end();
});

t.test('unreachable peer: connection refused, one attempt per backoff step on the session clock', (t) => {
  const { net, clock, make } = world();
  const s = make({ routerId: '10.0.0.2', peerAddress: A_ADDR, connectRetry: { min: 1000, max: 4000 } });
  const attempts: number[] = [];
  s.on('state', (_f, to) => { if (to === 'Connect') attempts.push(clock.now()); });
  s.start();
  for (let i = 0; i < 4; i++) {
    net.flush();
    t.equal(s.state, 'Idle');
    t.match(s.lastError?.text, /connect failed: ECONNREFUSED/);
    clock.advance(clock.nextDueAt()! - clock.now());
  }
  t.same(attempts, [0, 1000, 3000, 7000, 11000], 'backoff 1 s, 2 s, 4 s, 4 s (max)');
  t.end();
});

t.test('no answer at all: retried every connect timeout, lastError names the likely causes; keys go to the transport', (t) => {
  const { net, clock, make } = world();
  net.silent.add(A_ADDR);
  const auth = { kind: 'md5', password: 'secret' } as const;
  const s = make({ routerId: '10.0.0.2', peerAddress: A_ADDR, localAddress: B_ADDR, connectTimeout: 5000, auth, ttlSecurity: 1 });
  s.start();
  net.flush();
  t.same(net.connects, [{ peerAddress: A_ADDR, peerPort: 179, localAddress: B_ADDR,
    security: { keys: [{ address: A_ADDR, auth }], ttlSecurity: 1 } }], 'TCP-MD5 key and GTSM set by the transport');
  clock.advance(5000);
  net.flush();
  t.equal(s.state, 'Connect');
  t.equal(net.connects.length, 2, 'a new attempt');
  t.match(s.lastError?.text, /^no answer from 192\.0\.2\.1 within 5 s; check authentication \(TCP-MD5 password: .*\) and ttl-security/);
  t.end();
});

t.test('a socket the transport cannot set up counts as a failed attempt', (t) => {
  const { net, make } = world();
  net.connectError = new Error('setsockopt(TCP_MD5SIG): ENOPROTOOPT');
  const s = make({ routerId: '10.0.0.2', peerAddress: A_ADDR });
  s.start();
  t.equal(s.state, 'Idle');
  t.match(s.lastError?.text, /connect failed: cannot set up the TCP socket: setsockopt\(TCP_MD5SIG\): ENOPROTOOPT/);
  t.end();
});

t.test('collision (RFC 4271 §6.8): both sides dial and listen; the higher BGP Identifier keeps its connection', (t) => {
  const { net, make } = world();
  const A = make({ routerId: '10.0.0.1', peerAddress: B_ADDR, localAddress: A_ADDR, listen: { port: 179 } });
  const B = make({ routerId: '10.0.0.2', peerAddress: A_ADDR, localAddress: B_ADDR, listen: { port: 179 } });
  const a = record(A);
  A.start();
  B.start();
  net.flush();
  t.equal(A.state, 'Established');
  t.equal(B.state, 'Established');
  t.equal(net.pairs.length, 2);
  const [aOut, bIn] = net.pairs.find(([c]) => c.remoteAddress === B_ADDR)!;
  const [bOut, aIn] = net.pairs.find(([c]) => c.remoteAddress === A_ADDR)!;
  t.ok(aOut.destroyed && bIn.destroyed, 'A\'s connection (lower identifier) is gone');
  t.notOk(bOut.destroyed || aIn.destroyed, 'B\'s connection survives');
  t.same(frames(bIn.sent()).at(-1), notificationBytes(6, 7), 'B refuses A\'s connection: Cease / Connection Collision Resolution');
  t.same(frames(aOut.sent()).at(-1), notificationBytes(6, 7), 'A dumps its own connection the same way');
  t.same(a.downs, [], 'no down event: the session was never up');
  // The session stays up: a route goes through.
  B.advertise([{ route: mac1, nextHop: '192.168.1.87', attributes: attrs }]);
  net.flush();
  t.same(announced(a.updates), [mac1]);
  t.end();
});

t.test('collision: in Connect the peer\'s connection is taken instead of our unanswered attempt', (t) => {
  const { net, make } = world();
  net.silent.add(A_ADDR); // B's SYNs to A get no answer
  const A = make({ routerId: '10.0.0.1', peerAddress: B_ADDR, localAddress: A_ADDR });
  const B = make({ routerId: '10.0.0.2', peerAddress: A_ADDR, localAddress: B_ADDR, listen: { port: 179 } });
  B.start();
  net.flush();
  t.equal(B.state, 'Connect');
  A.start();
  net.flush();
  t.equal(B.state, 'Established');
  t.equal(A.state, 'Established');
  t.equal(net.pairs.length, 1, 'only A\'s connection');
  t.end();
});

t.test('second connections: refused when Established (Cease 7) and when Idle (Cease 5); must start with OPEN', (t) => {
  const { net, pair } = world();
  const [A, B] = pair();
  B.start();
  net.flush();
  t.equal(A.state, 'Established');
  const closed: Array<string | null> = [];
  const late = net.dial(B_ADDR, A_ADDR, 179, { closed: (e) => closed.push(e) });
  net.flush();
  t.same(frames(net.pairs.at(-1)![1].sent()), [notificationBytes(6, 7)], 'Cease / Connection Collision Resolution');
  t.same(closed, [null], 'then closed');
  t.equal(late.destroyed, true);
  t.equal(A.state, 'Established', 'the existing session is untouched');

  // A in OpenSent with B's connection; a second one sends a KEEPALIVE first: FSM error on it only.
  const w = world();
  const [A3] = w.pair();
  const first = w.net.dial(B_ADDR, A_ADDR, 179);
  w.net.flush();
  t.equal(A3.state, 'OpenSent');
  const second = w.net.dial(B_ADDR, A_ADDR, 179);
  w.net.flush();
  second.write(KEEPALIVE);
  w.net.flush();
  t.same(frames(w.net.pairs[1]![1].sent()), [notificationBytes(5, 0)], 'Finite State Machine Error');
  t.equal(A3.state, 'OpenSent');
  t.equal(first.destroyed, false);

  // The first one breaks the session (no OPEN, garbage): A goes Idle for the backoff and refuses meanwhile.
  first.write(new Uint8Array(19));
  w.net.flush();
  t.equal(A3.state, 'Idle');
  w.net.dial(B_ADDR, A_ADDR, 179);
  w.net.flush();
  t.same(frames(w.net.pairs[2]![1].sent()), [notificationBytes(6, 5)], 'Cease / Connection Rejected');
  t.end();
});

t.test('constructor rejects bad options', (t) => {
  const { make } = world();
  t.throws(() => make({ routerId: '10.0.0.1', peerAddress: 'nope' }), RangeError);
  t.throws(() => make({ routerId: '10.0.0.1', peerAddress: A_ADDR, localAddress: '1.2.3' }), RangeError);
  t.throws(() => make({ routerId: '10.0.0.1', peerAddress: A_ADDR, holdTime: 1 }), RangeError);
  t.throws(() => make({ routerId: '10.0.0.1', peerAddress: A_ADDR, localAs: 2 ** 32 }), RangeError);
  t.end();
});
