// Two BgpSession instances over real TCP on 127.0.0.1 (ephemeral ports). No
// sleeps: every wait is on an event, with a deadline (test/lib/settle.ts).
import t from 'tap';
import { createServer, type AddressInfo } from 'node:net';
import { BgpSession, exportAttributes, type BgpSessionOptions } from '../../src/bgp/session.js';
import { tcpTransport } from '../../src/bgp/tcp.js';
import { decodeShutdownCommunication, type StateName } from '../../src/bgp/fsm.js';
import { inclusiveMulticastRoute, macIpRoute } from '../../src/evpn/route.js';
import { ManualClock } from '../../src/util/clock.js';
import type { EvpnRoute } from '../../src/evpn/types.js';
import type { PathAttributes, UpdateMessage } from '../../src/bgp/types.js';
import { once, waitFor, within } from '../lib/settle.js';

// A deadline for the whole file, behind the deadline of each wait: awaits such
// as stop() fail the run in time instead of at tap's 600 s.
t.setTimeout(120_000);

const LO = '127.0.0.1';

function session(o: Partial<BgpSessionOptions> & { routerId: string }): BgpSession {
  return new BgpSession({
    transport: tcpTransport(), peerAddress: LO, localAddress: LO, localAs: 65001, peerAs: 65001, connectRetry: { min: 10, max: 50 }, ...o,
  });
}

/** A passive listener and an active peer dialing it. */
async function pair(a: Partial<BgpSessionOptions> = {}, b: Partial<BgpSessionOptions> = {}): Promise<[BgpSession, BgpSession]> {
  const A = session({ routerId: '10.0.0.1', passive: true, listen: { port: 0 }, ...a });
  A.start();
  const [addr] = (await once(A, 'listening')) as [AddressInfo];
  const B = session({ routerId: '10.0.0.2', peerPort: addr.port, ...b });
  return [A, B];
}

function waitState(s: BgpSession, to: StateName): Promise<void> {
  if (s.state === to) return Promise.resolve();
  return within(new Promise((resolve) => {
    const f = (_from: StateName, now: StateName): void => {
      if (now === to) { s.off('state', f); resolve(); }
    };
    s.on('state', f);
  }), { what: `state ${to}` });
}

/** Collects UPDATEs until End-of-RIB. */
function untilEor(s: BgpSession): Promise<UpdateMessage[]> {
  const got: UpdateMessage[] = [];
  const f = (u: UpdateMessage): void => { got.push(u); };
  s.on('update', f);
  return once(s, 'eor').then(() => { s.off('update', f); return got; });
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

t.test('iBGP: establish, table + EoR, incremental advertise and withdraw, stop → Cease received', async (t) => {
  const [A, B] = await pair();
  B.advertise([
    { route: mac1, nextHop: '192.168.1.87', attributes: attrs },
    { route: mac2, nextHop: '192.168.1.87', attributes: attrs },
    { route: imet, nextHop: '192.168.1.87', attributes: { ...attrs, pmsiTunnel: { flags: 0, tunnelType: 6, label: 100, tunnelId: new Uint8Array([192, 168, 1, 87]) } } },
  ]);
  const tableAtA = untilEor(A);
  const eorAtB = once(B, 'eor');
  const estA = once(A, 'established');
  B.start();
  const [neg] = await estA;
  t.match(neg, { peerAs: 65001, peerRouterId: '10.0.0.2', holdTime: 90, keepalive: 30, families: [{ afi: 25, safi: 70 }],
    fourOctetAs: true, routeRefresh: true, enhancedRouteRefresh: true });
  t.equal(A.state, 'Established');
  t.equal(typeof A.uptimeSince, 'number');
  const table = await tableAtA;
  t.equal(table.length, 2, 'two attribute groups → two UPDATEs');
  t.same(announced(table).map((r) => r.type).sort(), ['inclusive-multicast', 'mac-ip', 'mac-ip']);
  const u = table.find((x) => x.attributes.pmsiTunnel === undefined)!;
  t.equal(u.attributes.origin, 0);
  t.same(u.attributes.asPath, []);
  t.equal(u.attributes.localPref, 100, 'iBGP default LOCAL_PREF');
  t.same(u.attributes.mpReach?.nextHop, ['192.168.1.87']);
  t.same(u.attributes.extCommunities, attrs.extCommunities);
  const [fam] = await eorAtB;
  t.same(fam, { afi: 25, safi: 70 }, 'B gets End-of-RIB from A (empty table)');

  // Incremental: advertise one more, replace one (same key), withdraw one.
  let next = once(A, 'update');
  B.advertise([{ route: mac2, nextHop: '192.168.1.87', attributes: { ...attrs, localPref: 200 } }]);
  let [upd] = (await next) as [UpdateMessage];
  t.same(announced([upd]), [mac2]);
  t.equal(upd.attributes.localPref, 200);
  t.equal(B.advertised().length, 3, 'replacing keeps one entry per route key');
  next = once(A, 'update');
  B.withdraw([mac1, mac1, macIpRoute({ rd: '1:1', mac: 'aa:aa:aa:aa:aa:aa', ip: null, vni: 1 })]);
  [upd] = (await next) as [UpdateMessage];
  t.same(withdrawn([upd]), [mac1], 'only routes that were advertised are withdrawn, once');
  t.equal(B.advertised().length, 2);

  // ROUTE-REFRESH from A: B answers with its whole Adj-RIB-Out between BoRR and EoRR (RFC 7313).
  const refreshed: UpdateMessage[] = [];
  const collect = (x: UpdateMessage): void => { refreshed.push(x); };
  A.on('update', collect);
  const rr = once(B, 'routeRefresh');
  t.equal(A.refresh(), true);
  t.equal(A.refresh({ afi: 1, safi: 1 }), false, 'family not negotiated');
  const [rrMsg] = await rr;
  t.match(rrMsg, { type: 'route-refresh', afi: 25, safi: 70, subtype: 0 });
  await waitFor(() => announced(refreshed).length === 2, { what: 'the refreshed table' });
  A.off('update', collect);
  t.same(announced(refreshed).map((r) => r.type).sort(), ['inclusive-multicast', 'mac-ip']);

  const down = once(A, 'down');
  await B.stop('maintenance window');
  t.equal(B.state, 'Idle');
  const [info] = await down;
  t.match(info, { notification: { code: 6, subcode: 2, direction: 'received' } });
  t.equal(decodeShutdownCommunication(info.notification.data), 'maintenance window');
  t.match(info.reason, /Administrative Shutdown: "maintenance window"/);
  t.equal(A.uptimeSince, null);
  t.match(A.lastError, { code: 6, subcode: 2 });
  await A.stop();
});

t.test('re-establishment resends the whole table; reset() sends Cease and reconnects', async (t) => {
  const [A, B] = await pair();
  B.advertise([{ route: mac1, nextHop: '192.168.1.87', attributes: attrs }]);
  let table = untilEor(A);
  B.start();
  t.same(announced(await table), [mac1]);
  const down = once(A, 'down');
  table = untilEor(A);
  B.reset('BFD down', 10);
  const [info] = await down;
  t.match(info.notification, { code: 6, subcode: 10, direction: 'received' });
  t.same(announced(await table), [mac1], 'table sent again after re-establishment');
  t.equal(B.state, 'Established');
  await B.stop();
  await A.stop();
});

t.test('eBGP: local AS prepended, no LOCAL_PREF', async (t) => {
  const [A, B] = await pair({ localAs: 65001, peerAs: 65002 }, { localAs: 65002, peerAs: 65001 });
  B.advertise([{ route: mac1, nextHop: '192.168.2.87', attributes: { ...attrs, localPref: 300 } }]);
  const table = untilEor(A);
  B.start();
  const [u] = await table;
  t.same(u!.attributes.asPath, [{ type: 'sequence', asns: [65002] }]);
  t.equal(u!.attributes.localPref, undefined);
  await B.stop();
  await A.stop();
});

t.test('hold timer on the session clock: silence for the hold time → NOTIFICATION 4 reaches the peer', async (t) => {
  const clock = new ManualClock();
  const [A, B] = await pair({}, { clock, holdTime: 9 });
  const est = Promise.all([once(A, 'established'), once(B, 'established')]);
  B.start();
  const [[na], [nb]] = await est;
  t.equal(na.holdTime, 9);
  t.equal(nb.keepalive, 3);
  const down = once(A, 'down');
  clock.advance(9000); // A's real-time keepalives (every 3 s) have not come yet
  const [info] = await down;
  t.match(info.notification, { code: 4, subcode: 0, direction: 'received' });
  t.match(B.lastError, { code: 4, text: /hold timer expired/ });
  await B.stop();
  await A.stop();
});

t.test('exportAttributes', (t) => {
  t.same(exportAttributes({ asPath: [{ type: 'sequence', asns: [1] }], localPref: 5, originatorId: '1.1.1.1' }, 65001, 65002),
    { origin: 0, asPath: [{ type: 'sequence', asns: [65001, 1] }] });
  t.same(exportAttributes({ asPath: [{ type: 'set', asns: [1] }] }, 65001, 65002),
    { origin: 0, asPath: [{ type: 'sequence', asns: [65001] }, { type: 'set', asns: [1] }] });
  t.same(exportAttributes({ origin: 2 }, 65001, 65001), { origin: 2, asPath: [], localPref: 100 });
  t.end();
});

t.test('OPEN error: wrong peer AS → NOTIFICATION 2/2 on both sides, no down event', async (t) => {
  const [A, B] = await pair({ peerAs: 65009 });
  let downs = 0;
  A.on('down', () => downs++);
  B.on('down', () => downs++);
  B.start();
  await waitState(B, 'OpenSent');
  await waitState(B, 'Idle');
  t.match(B.lastError, { code: 2, subcode: 2 });
  t.match(B.lastError?.text, /received NOTIFICATION OPEN Message Error \/ Bad Peer AS/);
  await B.stop();
  await A.stop();
  t.equal(downs, 0);
});

t.test('passive listener refuses other addresses; accepts the peer from any port', async (t) => {
  const [A, B] = await pair({ peerAddress: '127.0.0.2' }, { localAddress: LO });
  const states: StateName[] = [];
  B.on('state', (_f, to) => states.push(to));
  B.start();
  await waitState(B, 'Idle');
  t.match(B.lastError?.text, /connect|connection|closed|ECONNRESET/);
  t.notOk(states.includes('OpenConfirm'));
  await B.stop();
  const C = session({ routerId: '10.0.0.3', localAddress: '127.0.0.2', peerPort: A.listenAddress()!.port });
  const est = once(A, 'established');
  C.start();
  await est;
  await C.stop();
  await A.stop();
});

t.test('unreachable peer: one attempt per backoff step on the session clock', async (t) => {
  // A port nobody listens on.
  const srv = createServer();
  srv.listen(0, LO);
  await once(srv, 'listening');
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  const clock = new ManualClock();
  const s = session({ routerId: '10.0.0.2', peerPort: port, clock, connectRetry: { min: 1000, max: 4000 }, random: () => 1 });
  const attempts: number[] = [];
  s.on('state', (_f, to) => { if (to === 'Connect') attempts.push(clock.now()); });
  s.start();
  for (let i = 0; i < 4; i++) {
    await waitState(s, 'Idle');
    t.match(s.lastError?.text, /connect failed: ECONNREFUSED/);
    clock.advance(clock.nextDueAt()! - clock.now());
  }
  t.same(attempts, [0, 1000, 3000, 7000, 11000], 'backoff 1 s, 2 s, 4 s, 4 s (max)');
  await s.stop();
  t.equal(clock.pending(), 0, 'no timers left');
});

t.test('collision: both sides dial and listen; exactly one connection survives', async (t) => {
  const A = session({ routerId: '10.0.0.1', listen: { port: 0 } });
  const B = session({ routerId: '10.0.0.2', listen: { port: 0 } });
  // Listen first, then point each at the other's port.
  (A as unknown as { listen(): void }).listen();
  (B as unknown as { listen(): void }).listen();
  await Promise.all([once(A, 'listening'), once(B, 'listening')]);
  (A as unknown as { opts: BgpSessionOptions }).opts.peerPort = B.listenAddress()!.port;
  (B as unknown as { opts: BgpSessionOptions }).opts.peerPort = A.listenAddress()!.port;
  const est = Promise.all([once(A, 'established'), once(B, 'established')]);
  A.start();
  B.start();
  await est;
  t.equal(A.state, 'Established');
  t.equal(B.state, 'Established');
  // The session stays up: a route goes through.
  const got = once(A, 'update');
  B.advertise([{ route: mac1, nextHop: '192.168.1.87', attributes: attrs }]);
  const [u] = (await got) as [UpdateMessage];
  t.same(announced([u]), [mac1]);
  await Promise.all([A.stop(), B.stop()]);
});

t.test('constructor rejects bad options', (t) => {
  t.throws(() => session({ routerId: '10.0.0.1', peerAddress: 'nope' }), RangeError);
  t.throws(() => session({ routerId: '10.0.0.1', localAddress: '1.2.3' }), RangeError);
  t.throws(() => session({ routerId: '10.0.0.1', holdTime: 1 }), RangeError);
  t.throws(() => session({ routerId: '10.0.0.1', localAs: 2 ** 32 }), RangeError);
  t.end();
});
