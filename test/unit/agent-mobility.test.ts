// MAC mobility (RFC 7432 §15) and duplicate detection (§15.1): the pure Mobility
// state machine on a ManualClock, the best-path order (sticky, sequence, then
// local-preference), and the MAC Mobility community on our originated routes
// (bytes checked against hex literals and FRR 8.4's golden capture).
import { readFileSync } from 'node:fs';
import t from 'tap';
import { Writer, toHex } from '../../src/wire/bytes.js';
import { macIpRoute } from '../../src/evpn/route.js';
import { encodeExtCommunity } from '../../src/bgp/extcommunity.js';
import type { LinkInfo } from '../../src/kernel/port.js';
import type { ExtCommunity } from '../../src/bgp/types.js';
import { ManualClock } from '../../src/util/clock.js';
import { parseConfig } from '../../src/agent/config.js';
import { bestPath, reasonText, type Path } from '../../src/agent/rib.js';
import { DEFAULT_MOBILITY, MAX_SEQUENCE, Mobility, type MobilityDecision, type MobilitySettings } from '../../src/agent/mobility.js';
import { originate } from '../../src/agent/origination.js';

const MAC = '02:00:00:00:00:87';
const A = '192.168.1.65'; // another server's VTEP on net1
const A2 = '192.168.2.65'; // the same server on net2
const B = '192.168.1.66';

const kinds = (ds: MobilityDecision[]) => ds.map((d) => d.kind);

function rig(settings: Partial<MobilitySettings> = {}) {
  const clock = new ManualClock();
  const cfg = { ...DEFAULT_MOBILITY, ...settings };
  const m = new Mobility(() => cfg);
  return { clock, m, now: () => clock.now() };
}

t.test('a MAC first seen locally is announced without a sequence', (t) => {
  const { m, now } = rig();
  t.same(m.of(100, MAC), { seq: 0, sticky: false, duplicate: false, announce: true }, 'untracked: announced plainly');
  t.same(m.localUp(100, MAC, false, null, now()), [{ kind: 'announce', vni: 100, mac: MAC, seq: 0, sticky: false }]);
  t.same(m.of(100, MAC), { seq: 0, sticky: false, duplicate: false, announce: true });
  t.same(m.localUp(100, MAC, false, null, now()), [], 'a repeated up changes nothing');
  t.same(m.localDown(100, MAC, now()), [{ kind: 'withdraw', vni: 100, mac: MAC, reason: 'local-down', seq: 0, by: null }]);
  t.equal(m.size, 0, 'forgotten: neither local nor remote');
  t.end();
});

t.test('appearing locally while a remote route exists: highest seen + 1; later moves increment again', (t) => {
  const { m, clock, now } = rig();
  // RFC 7432 §15.1: the remote route has sequence 3 -> we announce 4.
  t.same(m.localUp(100, MAC, false, { seq: 3, sticky: false, vtep: A }, now()), [{ kind: 'announce', vni: 100, mac: MAC, seq: 4, sticky: false }]);
  t.same(m.of(100, MAC), { seq: 4, sticky: false, duplicate: false, announce: true });
  // The remote still shows its old route (seq 3): nothing to do.
  t.same(m.remote(100, MAC, { seq: 3, sticky: false, vtep: A }, now()), []);
  // It moves to B with seq 5: ours is withdrawn, the stale local FDB entry removed.
  clock.advance(1000);
  t.same(m.remote(100, MAC, { seq: 5, sticky: false, vtep: B }, now()), [
    { kind: 'withdraw', vni: 100, mac: MAC, reason: 'moved-away', seq: 4, by: B },
    { kind: 'remove-local-fdb', vni: 100, mac: MAC, vtep: B, seq: 5 },
  ]);
  t.equal(m.of(100, MAC).announce, false);
  t.same(m.localDown(100, MAC, now()), [], 'the FDB entry went: nothing more to withdraw');
  // It comes back: 6.
  clock.advance(1000);
  t.same(m.localUp(100, MAC, false, { seq: 5, sticky: false, vtep: B }, now()), [{ kind: 'announce', vni: 100, mac: MAC, seq: 6, sticky: false }]);
  t.end();
});

t.test('an equal or lower remote sequence keeps ours; a failover between the networks of one server is no move', (t) => {
  const { m, now } = rig({ maxMoves: 1 });
  m.localUp(100, MAC, false, { seq: 2, sticky: false, vtep: A }, now());
  t.same(m.remote(100, MAC, { seq: 3, sticky: false, vtep: A }, now()), [], 'seq 3 = ours: kept');
  t.same(m.remote(100, MAC, { seq: 3, sticky: false, vtep: A2 }, now()), [], 'the same sequence over the other network');
  t.same(m.remote(100, MAC, null, now()), []);
  t.equal(m.of(100, MAC).seq, 3);
  t.equal(m.of(100, MAC).duplicate, false);
  t.end();
});

t.test('a MAC still present here (the bridge\'s own) is taken back when the other claim is withdrawn', (t) => {
  const { m, now } = rig();
  m.localUp(100, MAC, false, null, now());
  t.same(kinds(m.remote(100, MAC, { seq: 1, sticky: false, vtep: A }, now())), ['withdraw', 'remove-local-fdb']);
  t.same(m.remote(100, MAC, { seq: 1, sticky: false, vtep: A2 }, now()), [], 'still held elsewhere');
  t.same(m.remote(100, MAC, null, now()), [{ kind: 'announce', vni: 100, mac: MAC, seq: 2, sticky: false }]);
  t.end();
});

t.test('a MAC claimed blind (an uplink receiving its initial table) is claimed again above a replayed route, not withdrawn', (t) => {
  // The failure this covers (test/netns/move.test.ts under load): both sessions reset,
  // the MAC arrives here while the reflectors re-send their tables, then the other
  // server's route (sequence 1, from before the move) arrives with the table.
  const { m, clock, now } = rig({ maxMoves: 2 });
  t.same(m.localUp(100, MAC, false, null, now(), { blind: true }), [{ kind: 'announce', vni: 100, mac: MAC, seq: 0, sticky: false }]);
  clock.advance(20);
  t.same(m.remote(100, MAC, { seq: 1, sticky: false, vtep: A }, now(), { replay: true }), [
    { kind: 'announce', vni: 100, mac: MAC, seq: 2, sticky: false },
  ], 'announced with the replayed sequence + 1; the local entry stays');
  t.same(m.of(100, MAC), { seq: 2, sticky: false, duplicate: false, announce: true });
  t.ok(m.heldLocally(100, MAC), 'still held here');
  // One correction per blind claim: a later higher sequence, even in a table, is a move away.
  clock.advance(100);
  t.same(kinds(m.remote(100, MAC, { seq: 3, sticky: false, vtep: A }, now(), { replay: true })), ['withdraw', 'remove-local-fdb']);
  // The corrected claim counted as a move here, the later one as a move away: with the
  // blind claim's own, 2 moves (maxMoves 2): not duplicate yet.
  t.equal(m.isDuplicate(100, MAC), false);
  t.end();
});

t.test('RFC 7432 §15.1 still rules a route that is no replay, a claim that was not blind, or a replay too late', (t) => {
  for (const [name, blind, replay, after] of [
    ['a live route after a blind claim', true, false, 20],
    ['a replayed route after a claim with a complete view', false, true, 20],
    ['a replayed route 30 s after the blind claim', true, true, 30_001],
  ] as const) {
    const { m, clock, now } = rig();
    m.localUp(100, MAC, false, null, now(), { blind });
    clock.advance(after);
    t.same(m.remote(100, MAC, { seq: 1, sticky: false, vtep: A }, now(), { replay }), [
      { kind: 'withdraw', vni: 100, mac: MAC, reason: 'moved-away', seq: 0, by: A },
      { kind: 'remove-local-fdb', vni: 100, mac: MAC, vtep: A, seq: 1 },
    ], `${name}: moved away`);
  }
  // A sticky remote route wins over a blind claim too (RFC 7432 §15.2).
  const { m, now } = rig();
  m.localUp(100, MAC, false, null, now(), { blind: true });
  t.same(kinds(m.remote(100, MAC, { seq: 0, sticky: true, vtep: A }, now(), { replay: true })), ['conflict', 'withdraw']);
  t.end();
});

t.test('duplicate detection: more than maxMoves moves within the window, freeze until cleared', (t) => {
  const { m, clock, now } = rig({ maxMoves: 5, window: 180_000, freeze: true });
  let seq = 0;
  m.localUp(100, MAC, false, null, now());
  const out: MobilityDecision[] = [];
  // Back and forth between here and A, one move every 10 s: moves 1..5 are fine.
  for (let i = 0; i < 5; i++) {
    clock.advance(10_000);
    if (i % 2 === 0) out.push(...m.remote(100, MAC, { seq: ++seq, sticky: false, vtep: A }, now()));
    else {
      out.push(...m.localUp(100, MAC, false, { seq, sticky: false, vtep: A }, now()));
      seq++;
    }
  }
  t.notOk(out.some((d) => d.kind === 'duplicate'), 'five moves: not yet');
  // Sixth move (back here): duplicate, and not announced.
  clock.advance(10_000);
  const ds = m.localUp(100, MAC, false, { seq, sticky: false, vtep: A }, now());
  t.same(ds, [{ kind: 'duplicate', vni: 100, mac: MAC, moves: 6, window: 180_000, targets: [A, 'local', A, 'local', A, 'local'], until: null }]);
  t.same(m.of(100, MAC), { seq: seq + 1, sticky: false, duplicate: true, announce: false });
  t.same(m.duplicates(), [{ vni: 100, mac: MAC, moves: 6, until: null }]);
  t.equal(m.nextExpiry(), null, 'freeze: true never lifts by itself');
  clock.advance(3_600_000);
  t.same(m.expire(now()), []);
  t.equal(m.isDuplicate(100, MAC), true);
  // clear duplicate: announced again above every sequence seen.
  const c = m.clear(MAC, null, now());
  t.same(c.cleared, [{ vni: 100, mac: MAC }]);
  t.same(c.decisions, [
    { kind: 'duplicate-cleared', vni: 100, mac: MAC, cause: 'cleared' },
    { kind: 'announce', vni: 100, mac: MAC, seq: seq + 1, sticky: false },
  ]);
  t.same(m.of(100, MAC).announce, true);
  t.same(m.clear(MAC, null, now()).cleared, [], 'nothing left to clear');
  t.end();
});

t.test('moves spread beyond the window are not a duplicate', (t) => {
  const { m, clock, now } = rig({ maxMoves: 2, window: 60_000 });
  let seq = 0;
  m.localUp(100, MAC, false, null, now());
  for (let i = 0; i < 10; i++) {
    clock.advance(30_001); // at most two moves in any 60 s
    if (i % 2 === 0) t.notOk(m.remote(100, MAC, { seq: ++seq, sticky: false, vtep: A }, now()).some((d) => d.kind === 'duplicate'));
    else {
      t.notOk(m.localUp(100, MAC, false, { seq, sticky: false, vtep: A }, now()).some((d) => d.kind === 'duplicate'));
      seq++;
    }
  }
  t.equal(m.isDuplicate(100, MAC), false);
  t.end();
});

t.test('freeze: <duration> lifts the duplicate by itself; a withdrawn remote while duplicate', (t) => {
  const { m, clock, now } = rig({ maxMoves: 1, window: 60_000, freeze: 300_000 });
  m.localUp(100, MAC, false, null, now());
  m.remote(100, MAC, { seq: 1, sticky: false, vtep: A }, now()); // move 1
  const ds = m.localUp(100, MAC, false, { seq: 1, sticky: false, vtep: A }, now()); // move 2 > 1
  t.same(ds, [{ kind: 'duplicate', vni: 100, mac: MAC, moves: 2, window: 60_000, targets: [A, 'local'], until: 300_000 }]);
  t.equal(m.nextExpiry(), 300_000);
  clock.advance(299_999);
  t.same(m.expire(now()), []);
  clock.advance(1);
  t.same(m.expire(now()), [
    { kind: 'duplicate-cleared', vni: 100, mac: MAC, cause: 'freeze-expired' },
    { kind: 'announce', vni: 100, mac: MAC, seq: 2, sticky: false },
  ], 'our seq 2 is above the remote 1: announced as it is');
  t.equal(m.nextExpiry(), null);
  t.end();
});

t.test('a duplicate we announce is withdrawn; clear per VNI', (t) => {
  const { m, now } = rig({ maxMoves: 0 });
  m.localUp(100, MAC, false, null, now());
  m.localUp(200, MAC, false, null, now());
  // One move away and back in VNI 100 (maxMoves 0: the first move marks it).
  const ds = m.remote(100, MAC, { seq: 1, sticky: false, vtep: A }, now());
  t.same(kinds(ds), ['withdraw', 'remove-local-fdb', 'duplicate']);
  t.equal(m.isDuplicate(100, MAC), true);
  t.equal(m.isDuplicate(200, MAC), false);
  t.same(m.clear(MAC, 200, now()).cleared, [], 'VNI 200 has no duplicate');
  t.same(m.localDown(100, MAC, now()), [], 'the stale local entry removed');
  const c = m.clear(MAC, 100, now());
  t.same(c.cleared, [{ vni: 100, mac: MAC }]);
  t.same(kinds(c.decisions), ['duplicate-cleared'], 'moved away and not local any more: nothing to announce');
  t.end();
});

t.test('a duplicate that is local: withdrawn at once, re-announced on clear', (t) => {
  const { m, now } = rig({ maxMoves: 0 });
  const ds = m.localUp(100, MAC, false, { seq: 4, sticky: false, vtep: A }, now());
  t.same(kinds(ds), ['duplicate'], 'the move here marks it before it is announced');
  t.equal(m.of(100, MAC).announce, false);
  const c = m.clear(MAC, null, now());
  t.same(c.decisions, [
    { kind: 'duplicate-cleared', vni: 100, mac: MAC, cause: 'cleared' },
    { kind: 'announce', vni: 100, mac: MAC, seq: 5, sticky: false },
  ]);
  t.end();
});

t.test('sticky (static) MACs, RFC 7432 §15.2', (t) => {
  const { m, now } = rig();
  // Our sticky MAC never moves, whatever the remote sequence.
  t.same(m.localUp(100, MAC, true, null, now()), [{ kind: 'announce', vni: 100, mac: MAC, seq: 0, sticky: true }]);
  t.same(m.of(100, MAC), { seq: 0, sticky: true, duplicate: false, announce: true });
  t.same(m.remote(100, MAC, { seq: 9, sticky: false, vtep: A }, now()), [], 'a movable remote route does not take it');
  // A remote sticky route for our sticky MAC: misconfiguration, logged once, ours stays.
  const ds = m.remote(100, MAC, { seq: 0, sticky: true, vtep: B }, now());
  t.same(kinds(ds), ['conflict']);
  t.match((ds[0] as { message: string }).message, /sticky \(static\) here and at VTEP 192\.168\.1\.66: misconfiguration/);
  t.same(m.remote(100, MAC, { seq: 0, sticky: true, vtep: B }, now()), [], 'reported once');
  t.equal(m.of(100, MAC).announce, true);

  // A movable local MAC against a remote sticky route: the remote one stays, ours is not announced.
  const other = '02:00:00:00:00:99';
  const ds2 = m.localUp(100, other, false, { seq: 0, sticky: true, vtep: A }, now());
  t.same(kinds(ds2), ['conflict']);
  t.equal(m.of(100, other).announce, false);
  // Ours first, then a sticky remote route appears: withdrawn, the local entry left alone.
  const third = '02:00:00:00:00:aa';
  m.localUp(100, third, false, null, now());
  t.same(kinds(m.remote(100, third, { seq: 0, sticky: true, vtep: A }, now())), ['conflict', 'withdraw']);
  // The sticky route goes: the MAC is still here, announced again.
  t.same(kinds(m.remote(100, third, null, now())), ['announce']);
  t.end();
});

t.test('the sequence stops at 2^32-1 (RFC 7432 gives no wrap-around)', (t) => {
  const { m, now } = rig();
  const ds = m.localUp(100, MAC, false, { seq: MAX_SEQUENCE, sticky: false, vtep: A }, now());
  t.same(kinds(ds), ['conflict', 'announce']);
  t.equal(m.of(100, MAC).seq, MAX_SEQUENCE);
  t.end();
});

// --- best path ---------------------------------------------------------------

function path(o: Partial<Path> & { uplink: 'net1' | 'net2'; server: string }): Path {
  const net = o.uplink === 'net1' ? 1 : 2;
  const nh = `192.168.${net}.${o.server}`;
  const route = macIpRoute({ rd: `${nh}:100`, mac: MAC, ip: null, vni: 100 });
  return {
    peer: `192.168.${net}.2`, route, vni: 100, nextHop: nh, localPref: net === 1 ? 200 : 100, macMobilitySeq: 0, macMobilitySticky: false,
    originatorId: nh, routerId: `192.168.${net}.2`, routeTargets: [], rd: route.rd, eligible: true, ...o,
  };
}

t.test('best path: the sequence decides where, local-preference which network', (t) => {
  const oldP = path({ uplink: 'net1', server: '65', macMobilitySeq: 2 });
  const oldB = path({ uplink: 'net2', server: '65', macMobilitySeq: 2 });
  const newP = path({ uplink: 'net1', server: '66', macMobilitySeq: 3 });
  const newB = path({ uplink: 'net2', server: '66', macMobilitySeq: 3 });
  let b = bestPath([oldP, oldB, newP, newB]);
  t.equal(b.winner, newP, 'new location, primary network');
  t.equal(reasonText(b.reason), 'local-pref 200 > 100', 'runner-up: the same server over the backup network');
  // The primary path to the new server fails (VTEP probe): its backup path, not the old location.
  b = bestPath([oldP, oldB, { ...newP, eligible: false }, newB]);
  t.equal(b.winner, newB);
  t.equal(reasonText(b.reason), 'mobility-seq 3 > 2');
  // The new server only reachable over the backup network (its primary session gone).
  b = bestPath([oldP, oldB, newB]);
  t.equal(b.winner, newB, 'not the old server over the primary network');
  t.same(b.reason, { step: 'mobility-seq', better: 3, worse: 2 });
  // Eligibility stays first: the new location unreachable on both networks.
  b = bestPath([oldP, { ...newP, eligible: false }, { ...newB, eligible: false }]);
  t.equal(b.winner, oldP);
  t.equal(b.reason.step, 'eligible');
  t.end();
});

t.test('best path: a sticky route beats a movable one with a higher sequence (RFC 7432 §15.2)', (t) => {
  const sticky = path({ uplink: 'net2', server: '65', macMobilitySticky: true });
  const moved = path({ uplink: 'net1', server: '66', macMobilitySeq: 7 });
  const b = bestPath([moved, sticky]);
  t.equal(b.winner, sticky);
  t.same(b.reason, { step: 'sticky' });
  t.equal(reasonText(b.reason), 'sticky MAC');
  t.end();
});

// --- origination --------------------------------------------------------------

const CONFIG = `
vnis: [{vni: 100, bridge: br-vxlan, vxlan: vxlan0}]
uplinks:
  - {name: net1, interface: eth1, peer: 192.168.1.2, localAs: 65001, localPref: 200}
`;
function link(name: string, o: Partial<LinkInfo> = {}): LinkInfo {
  return { name, index: 1, mac: null, up: true, carrier: true, operstate: 'up', mtu: 1500, masterIndex: null, master: null, kind: null, vxlan: null, addresses: [], ...o };
}
const LINKS: LinkInfo[] = [
  link('br-vxlan', { kind: 'bridge', mac: MAC, addresses: [{ family: 4, address: '192.168.0.87', prefixLen: 24 }] }),
  link('eth1', { addresses: [{ family: 4, address: '192.168.1.87', prefixLen: 24 }] }),
];

function extHex(ext: readonly ExtCommunity[]): string {
  const w = new Writer();
  for (const c of ext) encodeExtCommunity(w, c);
  return toHex(w.finish());
}

t.test('origination: the MAC Mobility community on the MAC and MAC/IP routes, nothing when plain, nothing when duplicate', (t) => {
  const cfg = parseConfig(CONFIG);
  const plain = originate(cfg, LINKS).perUplink.get('net1')!;
  const mac = plain.filter((a) => a.route.type === 'mac-ip');
  t.equal(mac.length, 2);
  // RT 65001:100, VXLAN encapsulation, no MAC Mobility (as before mobility).
  for (const a of mac) t.equal(extHex(a.attributes.extCommunities!), '0002fde900000064' + '030c000000000008');

  const moved = originate(cfg, LINKS, { mobilityOf: () => ({ seq: 5, sticky: false, duplicate: false, announce: true }) }).perUplink.get('net1')!;
  for (const a of moved.filter((x) => x.route.type === 'mac-ip')) {
    // RFC 7432 §7.7: 06 00, flags 00, reserved 00, sequence 00000005.
    t.equal(extHex(a.attributes.extCommunities!), '0002fde900000064' + '030c000000000008' + '0600000000000005');
  }
  const imet = moved.find((x) => x.route.type !== 'mac-ip')!;
  t.equal(extHex(imet.attributes.extCommunities!), '0002fde900000064' + '030c000000000008', 'the type-3 route carries none');

  const sticky = originate(cfg, LINKS, { mobilityOf: () => ({ seq: 0, sticky: true, duplicate: false, announce: true }) }).perUplink.get('net1')!;
  for (const a of sticky.filter((x) => x.route.type === 'mac-ip')) {
    t.equal(extHex(a.attributes.extCommunities!), '0002fde900000064' + '030c000000000008' + '0600010000000000', 'sticky flag, sequence 0');
  }
  const dup = originate(cfg, LINKS, { mobilityOf: () => ({ seq: 5, sticky: false, duplicate: true, announce: false }) }).perUplink.get('net1')!;
  t.same(dup.map((a) => a.route.type), ['inclusive-multicast'], 'a duplicate MAC and its IPs are not announced');
  t.end();
});

t.test('interop: our MAC Mobility community equals FRR 8.4\'s bytes (golden frr/type2-mac-mobility)', (t) => {
  const golden = readFileSync(new URL('../golden/frr/type2-mac-mobility.hex', import.meta.url), 'utf8').replace(/\s+/g, '');
  const ours = extHex([{ kind: 'mac-mobility', sticky: false, sequence: 1 }]);
  t.equal(ours, '0600000000000001');
  t.ok(golden.endsWith(ours), 'FRR sends the same 8 octets for sequence 1, not sticky');
  t.end();
});
