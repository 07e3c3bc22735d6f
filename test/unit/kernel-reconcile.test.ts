import t from 'tap';
import { diff, isOwned, plan, StaleGate } from '../../src/kernel/reconcile.js';
import type { KernelEntry, ObservedEntry, ObservedFdb, ObservedNeigh } from '../../src/kernel/port.js';

// Flag/state values written out here, independent of src/kernel/nl.ts.
const NTF_SELF = 0x02;
const NTF_EXT_LEARNED = 0x10;
const NUD_REACHABLE = 0x02;
const NUD_STALE = 0x04;
const NUD_NOARP = 0x40;
const NUD_PERMANENT = 0x80;
const OURS = 0xe7;

const MAC = '02:00:00:00:00:87';
const neighWant: KernelEntry = { kind: 'neigh', ifname: 'br-vxlan', ip: '192.168.0.87', mac: MAC };
const fdbWant: Extract<KernelEntry, { kind: 'fdb' }> = { kind: 'fdb', ifname: 'vxlan0', mac: MAC, dst: '192.168.1.87' };

function neigh(p: Partial<ObservedNeigh> = {}): ObservedNeigh {
  return {
    kind: 'neigh', ifname: 'br-vxlan', ifindex: 2, family: 4, ip: '192.168.0.87', mac: MAC,
    state: NUD_NOARP, flags: NTF_EXT_LEARNED, protocol: OURS, externLearned: true, ...p,
  };
}

function bridgeHalf(p: Partial<ObservedFdb> = {}): ObservedFdb {
  return {
    kind: 'fdb', ifname: 'vxlan0', ifindex: 3, mac: MAC, table: 'bridge', dst: null, vlan: null, master: 'br-vxlan',
    state: NUD_REACHABLE, flags: NTF_EXT_LEARNED, protocol: null, externLearned: true, ...p,
  };
}

function vxlanHalf(p: Partial<ObservedFdb> = {}): ObservedFdb {
  return {
    kind: 'fdb', ifname: 'vxlan0', ifindex: 3, mac: MAC, table: 'vxlan', dst: '192.168.1.87', vlan: null, master: null,
    state: NUD_REACHABLE, flags: NTF_SELF | NTF_EXT_LEARNED, protocol: null, externLearned: true, ...p,
  };
}

const inPlace: ObservedEntry[] = [neigh(), bridgeHalf(), vxlanHalf()];

t.test('missing entries are created with one replace each', async (t) => {
  t.same(diff([neighWant, fdbWant], []), [
    { op: 'replace', entry: neighWant },
    { op: 'replace', entry: fdbWant },
  ]);
});

t.test('entries already right produce no operation (restart without flap)', async (t) => {
  t.same(diff([neighWant, fdbWant], inPlace), []);
  t.same(diff([neighWant, fdbWant], inPlace, { deleteStale: false }), []);
});

t.test('a new best path is ONE replace of the fdb entry, never delete + add', async (t) => {
  const moved: KernelEntry = { ...fdbWant, dst: '192.168.2.87' };
  t.same(diff([neighWant, moved], inPlace), [{ op: 'replace', entry: moved }]);
});

t.test('a changed MAC replaces the neigh entry', async (t) => {
  const want: KernelEntry = { ...neighWant, mac: '02:00:00:00:00:99' };
  t.same(diff([want], [neigh()]), [{ op: 'replace', entry: want }]);
});

t.test('a missing half of the fdb pair is restored with a replace', async (t) => {
  t.same(diff([fdbWant], [vxlanHalf()]), [{ op: 'replace', entry: fdbWant }], 'bridge half gone');
  t.same(diff([fdbWant], [bridgeHalf()]), [{ op: 'replace', entry: fdbWant }], 'vxlan half gone');
});

t.test('our neighbour modified by someone (extern_learn or NOARP dropped) is restored', async (t) => {
  t.same(diff([neighWant], [neigh({ flags: 0, externLearned: false })]), [{ op: 'replace', entry: neighWant }]);
  t.same(diff([neighWant], [neigh({ state: NUD_REACHABLE })]), [{ op: 'replace', entry: neighWant }]);
});

t.test('owned entries nobody wants are deleted', async (t) => {
  t.same(diff([], inPlace), [
    { op: 'delete', entry: { kind: 'neigh', ifname: 'br-vxlan', ip: '192.168.0.87', mac: MAC } },
    { op: 'delete', entry: { kind: 'fdb', ifname: 'vxlan0', mac: MAC, dst: '192.168.1.87' } },
  ]);
});

t.test('deleteStale: false keeps owned undesired entries and lists them', async (t) => {
  const p = plan([], inPlace, { deleteStale: false });
  t.same(p.ops, []);
  t.equal(p.stale.length, 2);
});

t.test('foreign entries are never deleted', async (t) => {
  const foreign: ObservedEntry[] = [
    neigh({ protocol: null, state: NUD_REACHABLE, flags: 0, externLearned: false }),
    neigh({ ip: '192.168.0.5', protocol: 186, externLearned: true }),
    neigh({ ip: '192.168.0.6', protocol: OURS, flags: 0, externLearned: false, state: NUD_PERMANENT }),
    bridgeHalf({ flags: 0, externLearned: false, state: NUD_PERMANENT }),
    vxlanHalf({ mac: '00:00:00:00:00:00', flags: NTF_SELF, externLearned: false, state: NUD_PERMANENT }),
    { ...bridgeHalf(), table: 'self', ifname: 'br-vxlan', master: null },
  ];
  t.same(diff([], foreign), []);
  t.same(diff([], foreign, { fdbOwnership: 'protocol' }), []);
});

t.test('only the owned half of an fdb pair is deleted', async (t) => {
  t.same(diff([], [bridgeHalf({ flags: 0, externLearned: false }), vxlanHalf()]), [
    { op: 'delete', entry: fdbWant, only: 'vxlan' },
  ]);
  t.same(diff([], [bridgeHalf()]), [
    { op: 'delete', entry: { ...fdbWant, dst: '0.0.0.0' }, only: 'bridge' },
  ]);
});

t.test('foreign dynamic entries at a desired key are replaced', async (t) => {
  const learned = neigh({ protocol: null, state: NUD_STALE, flags: 0, externLearned: false });
  t.same(diff([neighWant], [learned]), [{ op: 'replace', entry: neighWant }]);
  const learnedFdb = bridgeHalf({ flags: 0, externLearned: false, state: NUD_REACHABLE });
  t.same(diff([fdbWant], [learnedFdb]), [{ op: 'replace', entry: fdbWant }]);
});

t.test('foreign static entries at a desired key are skipped and reported, unless overridden', async (t) => {
  const admin = neigh({ protocol: null, state: NUD_PERMANENT, flags: 0, externLearned: false });
  const p = plan([neighWant], [admin]);
  t.same(p.ops, []);
  t.equal(p.skipped.length, 1);
  t.equal(p.skipped[0]!.reason, 'foreign-static');
  t.same(diff([neighWant], [admin], { overrideForeign: true }), [{ op: 'replace', entry: neighWant }]);
  const zebra = neigh({ protocol: 11, externLearned: true });
  t.equal(plan([neighWant], [zebra]).skipped[0]!.reason, 'foreign-static', "another daemon's extern_learn entry");
  const staticFdb = vxlanHalf({ flags: NTF_SELF, externLearned: false, state: NUD_PERMANENT });
  t.equal(plan([fdbWant], [bridgeHalf(), staticFdb]).skipped[0]!.reason, 'foreign-static');
});

t.test('desired entries are normalised before comparing', async (t) => {
  const upper: KernelEntry = { kind: 'fdb', ifname: 'vxlan0', mac: MAC.toUpperCase(), dst: '192.168.1.87' };
  t.same(diff([upper], inPlace.slice(1)), []);
  const v6: KernelEntry = { kind: 'neigh', ifname: 'br-vxlan', ip: 'FD00:0:0::87', mac: MAC };
  t.same(diff([v6], [neigh({ family: 6, ip: 'fd00::87' })]), []);
});

t.test('invalid and duplicate desired entries are skipped', async (t) => {
  const bad: KernelEntry = { kind: 'neigh', ifname: 'br-vxlan', ip: '300.1.1.1', mac: MAC };
  const dup: KernelEntry = { ...fdbWant, dst: '192.168.2.87' };
  const p = plan([bad, fdbWant, dup], []);
  t.same(p.ops, [{ op: 'replace', entry: fdbWant }]);
  t.same(p.skipped.map((s) => s.reason), ['invalid', 'duplicate']);
});

t.test('replaces come before deletes', async (t) => {
  const other: KernelEntry = { kind: 'neigh', ifname: 'br-vxlan', ip: '192.168.0.99', mac: MAC };
  const ops = diff([other], [neigh()]);
  t.same(ops.map((o) => o.op), ['replace', 'delete']);
});

t.test('fdbOwnership: protocol requires our protocol on FDB entries', async (t) => {
  const ours = [bridgeHalf({ protocol: OURS }), vxlanHalf({ protocol: OURS })];
  t.same(diff([fdbWant], ours, { fdbOwnership: 'protocol' }), []);
  t.same(diff([], [bridgeHalf(), vxlanHalf()], { fdbOwnership: 'protocol' }), [], 'no protocol: not ours');
  t.ok(isOwned(vxlanHalf()));
  t.notOk(isOwned(vxlanHalf(), { fdbOwnership: 'protocol' }));
});

t.test('custom protocol value', async (t) => {
  t.same(diff([], [neigh()], { protocol: 0x42 }), []);
  t.same(diff([], [neigh({ protocol: 0x42 })], { protocol: 0x42 }).length, 1);
});

t.test('StaleGate opens on End-of-RIB from every session or after the grace period', async (t) => {
  const g = new StaleGate(['net1', 'net2'], 1000);
  t.equal(g.deadline, 31_000);
  t.notOk(g.isOpen(1000));
  t.same(g.options(1000), { deleteStale: false });
  t.notOk(g.endOfRib('net1', 2000));
  t.same(g.pending(), ['net2']);
  t.ok(g.endOfRib('net2', 3000), 'the last End-of-RIB opens it');
  t.ok(g.isOpen(3000));
  t.notOk(g.endOfRib('net2', 3001), 'already open');

  const slow = new StaleGate(['net1', 'net2'], 0, 30_000);
  slow.endOfRib('net1', 10);
  t.notOk(slow.isOpen(29_999));
  t.ok(slow.isOpen(30_000), 'grace period over');
  t.ok(slow.isOpen(0), 'stays open');

  const gone = new StaleGate(['net1'], 0);
  gone.forget('net1');
  t.ok(gone.isOpen(1));
  t.ok(new StaleGate([], 0).isOpen(0), 'no sessions: open at once');
});

t.test('startup sequence: keep everything, then drop what is no longer supported', async (t) => {
  // After a restart the kernel still holds last run's entries; the RIB is filling up.
  const lastRun: ObservedEntry[] = [
    ...inPlace,
    neigh({ ip: '192.168.0.44', mac: '02:00:00:00:00:44' }),
    bridgeHalf({ mac: '02:00:00:00:00:44' }),
    vxlanHalf({ mac: '02:00:00:00:00:44' }),
  ];
  const gate = new StaleGate(['net1'], 0);
  t.same(diff([neighWant, fdbWant], lastRun, gate.options(5)), [], 'nothing touched while waiting');
  gate.endOfRib('net1', 10);
  const ops = diff([neighWant, fdbWant], lastRun, gate.options(10));
  t.same(ops.map((o) => `${o.op} ${o.entry.kind}`), ['delete neigh', 'delete fdb']);
});
