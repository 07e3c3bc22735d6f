// The KernelPort contract: behaviour tests written against the interface only, run
// against FakeKernel (test/unit/kernel-contract.test.ts) and against RtnetlinkPort in
// a namespace with a bridge and a vxlan device (test/netns/kernel-contract.test.ts).
// What passes on both is what the agent's unit tests may rely on the fake for.
//
// A World is one fresh port over the reference topology (br-vxlan with 192.168.0.65/24,
// vxlan0 VNI 100 port 4789 enslaved to it, IPv4 underlay, FDB nexthops supported)
// plus "someone else": the changes another program makes (iproute2 in the namespace,
// the fake's foreign*/remove* methods).
import type { Test } from 'tap';
import { diff, plan } from '../../src/kernel/reconcile.js';
import {
  EVPN_HA_PROTOCOL,
  type KernelEntry,
  type KernelEvent,
  type KernelOp,
  type KernelOpResult,
  type KernelPort,
  type ObservedFdb,
  type ObservedNeigh,
} from '../../src/kernel/port.js';
import { describeKernelEvent as describe } from './kernel-events.js';
import { waitFor } from './settle.js';

export interface World {
  port: KernelPort;
  /** Someone else deletes a neighbour on br-vxlan (`ip neigh del`). */
  delNeigh(ip: string): void;
  /** Someone else deletes one FDB half on vxlan0 (`bridge fdb del MAC dev vxlan0 master|self`). */
  delFdb(mac: string, table: 'bridge' | 'vxlan'): void;
  /** Someone else points our vxlan half elsewhere (`bridge fdb replace MAC dev vxlan0 dst DST self extern_learn`). */
  moveFdb(mac: string, dst: string): void;
  /** Someone else adds a permanent neighbour on br-vxlan (`ip neigh add IP lladdr MAC nud permanent`). */
  permanentNeigh(ip: string, mac: string): void;
  /** How long events may take to arrive (0 for a synchronous port). */
  eventDelayMs: number;
  /** Resolves once subscribers get events (RtnetlinkPort.eventsReady). */
  eventsReady(): Promise<void>;
}

export interface ContractOptions {
  /** A fresh world for each test (the previous one is closed first). */
  world(t: Test): Promise<World>;
}

const BR = 'br-vxlan';
const VX = 'vxlan0';
const DEVICES = [BR, VX];
const MAC = '02:00:00:00:00:87';
const neigh: Extract<KernelEntry, { kind: 'neigh' }> = { kind: 'neigh', ifname: BR, ip: '192.168.0.87', mac: MAC };
const neigh6: Extract<KernelEntry, { kind: 'neigh' }> = { kind: 'neigh', ifname: BR, ip: 'fd00::87', mac: MAC };
const fdb: Extract<KernelEntry, { kind: 'fdb' }> = { kind: 'fdb', ifname: VX, mac: MAC, dst: '192.168.1.87' };
const NH1 = 0x7e000001;
const NH2 = 0x7e000002;
const GROUP = 0x7e000010;

function codes(res: KernelOpResult[]): string[] {
  return res.map((r) => (r.ok ? 'ok' : r.code));
}

/** Events as lines, recorded from subscribe() on. */
class Recorder {
  readonly evs: KernelEvent[] = [];
  readonly off: () => void;
  constructor(port: KernelPort) { this.off = port.subscribe((e) => this.evs.push(e)); }
  lines(): string[] { return this.evs.map(describe); }
  clear(): void { this.evs.length = 0; }
}

/**
 * The events that `act` causes, as sorted lines: lets `w.eventDelayMs` pass for the
 * echo of earlier writes, acts, waits (with a deadline) until every line of `expect`
 * has arrived, then lets `w.eventDelayMs` pass for stragglers.
 */
async function eventsOf(w: World, rec: Recorder, expect: string[], act: () => unknown): Promise<string[]> {
  // The echo of what the test did before arrives first (a real port: asynchronously).
  if (w.eventDelayMs > 0) await new Promise((r) => setTimeout(r, w.eventDelayMs));
  rec.clear();
  await act();
  await waitFor(() => expect.every((e) => rec.lines().includes(e)), { what: `events ${expect.join(', ')} (got ${rec.lines().join(', ')})`, timeoutMs: 5000 });
  if (w.eventDelayMs > 0) await new Promise((r) => setTimeout(r, w.eventDelayMs));
  // Entry events only: link and address events come with the devices' own life (the
  // IPv6 link-local address of a new vxlan device appears a second or two after it is
  // up, whenever the kernel's DAD finishes) and are not what these tests are about.
  return rec.lines().filter((l) => !/^(new|del) (addr|link) /.test(l)).sort();
}

function vxlanHalf(entries: Awaited<ReturnType<KernelPort['dump']>>, mac = MAC): ObservedFdb | undefined {
  return entries.find((o): o is ObservedFdb => o.kind === 'fdb' && o.table === 'vxlan' && o.mac === mac);
}

function bridgeHalf(entries: Awaited<ReturnType<KernelPort['dump']>>, mac = MAC): ObservedFdb | undefined {
  return entries.find((o): o is ObservedFdb => o.kind === 'fdb' && o.table === 'bridge' && o.mac === mac);
}

function neighOf(entries: Awaited<ReturnType<KernelPort['dump']>>, ip: string): ObservedNeigh | undefined {
  return entries.find((o): o is ObservedNeigh => o.kind === 'neigh' && o.ip === ip);
}

export function kernelContract(t: Test, o: ContractOptions): void {
  const test = (name: string, fn: (t: Test, w: World, rec: Recorder) => Promise<void>): void => {
    t.test(name, async (t) => {
      const w = await o.world(t);
      const rec = new Recorder(w.port);
      t.teardown(() => rec.off());
      await w.eventsReady();
      await fn(t, w, rec);
    });
  };

  test('links: the bridge with its address, the vxlan device with VNI, port and master', async (t, w) => {
    const links = await w.port.links();
    const br = links.find((l) => l.name === BR);
    const vx = links.find((l) => l.name === VX);
    t.equal(br?.kind, 'bridge');
    t.ok(br?.up);
    t.same(br?.addresses.filter((a) => a.family === 4).map((a) => [a.address, a.prefixLen]), [['192.168.0.65', 24]]);
    t.equal(vx?.kind, 'vxlan');
    t.equal(vx?.master, BR);
    t.equal(vx?.masterIndex, br?.index);
    t.match(vx?.vxlan, { vni: 100, port: 4789 });
    t.equal(await w.port.vxlanFamily(VX), 4);
    t.equal(await w.port.vxlanFamily(BR), null, 'a bridge is not a vxlan device');
    t.equal(await w.port.vxlanFamily('no-such0'), null);
  });

  test('replace: a neighbour with our protocol, an FDB pair (bridge + vxlan half); each change echoed as an event', async (t, w, rec) => {
    const evs = await eventsOf(w, rec, ['new neigh 192.168.0.87', 'new neigh fd00::87', `new fdb bridge ${MAC}`, `new fdb vxlan ${MAC} 192.168.1.87`], async () => {
      t.same(codes(await w.port.apply([{ op: 'replace', entry: neigh }, { op: 'replace', entry: neigh6 }, { op: 'replace', entry: fdb }])), ['ok', 'ok', 'ok']);
    });
    t.same(evs, [`new fdb bridge ${MAC}`, `new fdb vxlan ${MAC} 192.168.1.87`, 'new neigh 192.168.0.87', 'new neigh fd00::87'], 'one event per entry, none twice');
    const seen = await w.port.dump(DEVICES);
    t.match(neighOf(seen, '192.168.0.87'), { mac: MAC, family: 4, protocol: EVPN_HA_PROTOCOL, externLearned: true, ifname: BR });
    t.match(neighOf(seen, 'fd00::87'), { mac: MAC, family: 6, protocol: EVPN_HA_PROTOCOL, externLearned: true });
    t.match(bridgeHalf(seen), { ifname: VX, master: BR, externLearned: true, dst: null, nhid: null });
    t.match(vxlanHalf(seen), { ifname: VX, master: null, dst: '192.168.1.87', nhid: null, externLearned: true });
    // Linux 6.18 keeps no NDA_PROTOCOL on FDB entries (FakeKernel's default).
    t.equal(vxlanHalf(seen)?.protocol, null, 'no protocol on the FDB');
    t.same(diff([neigh, neigh6, fdb], seen), [], 'reconcile finds nothing to do');

    const again = await eventsOf(w, rec, [], async () => {
      t.same(codes(await w.port.apply([{ op: 'replace', entry: neigh }])), ['ok']);
    });
    t.same(again, [], 'a replace that changes nothing: no event');
  });

  test('a new dst is one in-place change of the vxlan half: no delete, the rest untouched', async (t, w, rec) => {
    await w.port.apply([{ op: 'replace', entry: neigh }, { op: 'replace', entry: fdb }]);
    const moved = { ...fdb, dst: '192.168.2.87' };
    const ops = diff([neigh, moved], await w.port.dump(DEVICES));
    t.same(ops, [{ op: 'replace', entry: moved }]);
    const evs = await eventsOf(w, rec, [`new fdb vxlan ${MAC} 192.168.2.87`], async () => {
      t.same(codes(await w.port.apply(ops)), ['ok']);
    });
    t.same(evs, [`new fdb vxlan ${MAC} 192.168.2.87`]);
    const seen = await w.port.dump(DEVICES);
    t.equal(vxlanHalf(seen)?.dst, '192.168.2.87');
    t.ok(bridgeHalf(seen));
  });

  test('delete: both halves, or one with `only`; deleting what is gone succeeds', async (t, w, rec) => {
    await w.port.apply([{ op: 'replace', entry: neigh }, { op: 'replace', entry: fdb }]);
    const one = await eventsOf(w, rec, [`del fdb vxlan ${MAC} 192.168.1.87`], async () => {
      t.same(codes(await w.port.apply([{ op: 'delete', entry: fdb, only: 'vxlan' }])), ['ok']);
    });
    t.same(one, [`del fdb vxlan ${MAC} 192.168.1.87`]);
    let seen = await w.port.dump(DEVICES);
    t.ok(bridgeHalf(seen), 'bridge half kept');
    t.notOk(vxlanHalf(seen), 'vxlan half gone');
    const rest = await eventsOf(w, rec, [`del fdb bridge ${MAC}`, 'del neigh 192.168.0.87'], async () => {
      t.same(codes(await w.port.apply([{ op: 'delete', entry: fdb }, { op: 'delete', entry: neigh }])), ['ok', 'ok']);
    });
    // A neighbour is deleted in two steps: changed to FAILED, then deleted.
    t.same(rest, [`del fdb bridge ${MAC}`, 'del neigh 192.168.0.87', 'new neigh 192.168.0.87']);
    const failed = rec.evs.find((e) => e.type === 'entry' && e.action === 'new' && e.entry.kind === 'neigh');
    t.match(failed, { entry: { state: 0x20 } }, 'NUD_FAILED');
    t.ok(rec.evs.findIndex((e) => e === failed) < rec.evs.findIndex((e) => describe(e) === 'del neigh 192.168.0.87'), 'before the delete');
    seen = await w.port.dump(DEVICES);
    t.same(seen.filter((e) => e.externLearned), []);
    t.same(codes(await w.port.apply([{ op: 'delete', entry: fdb }, { op: 'delete', entry: neigh }, { op: 'delete', entry: fdb, only: 'bridge' }])),
      ['ok', 'ok', 'ok'], 'already gone: ok');
  });

  test('errors are results, attributed to their op: missing device, bad MAC, dst of the wrong family', async (t, w) => {
    const res = await w.port.apply([
      { op: 'replace', entry: { ...neigh, ifname: 'missing0' } },
      { op: 'replace', entry: { ...neigh, ip: '192.168.0.88' } },
      { op: 'replace', entry: { ...fdb, ifname: 'missing0' } },
      { op: 'replace', entry: { ...fdb, mac: 'zz' } },
      { op: 'replace', entry: { ...fdb, dst: '2001:db8:1::87' } },
      { op: 'replace', entry: { ...neigh, ip: '192.168.0.89' } },
    ]);
    t.same(codes(res), ['ENODEV', 'ok', 'ENODEV', 'EINVAL', 'EAFNOSUPPORT', 'ok']);
    t.match(res[0], { ok: false, errno: 19 });
    const seen = await w.port.dump(DEVICES);
    t.same(seen.filter((e) => e.externLearned).map((e) => (e.kind === 'neigh' ? e.ip : `${e.table} ${e.mac}`)).sort(),
      ['192.168.0.88', '192.168.0.89', `bridge ${MAC}`],
      'the others went through; of the refused FDB pair the bridge half is written (the kernel writes it first)');
  });

  test('someone else deletes or moves our entries: events, and reconcile puts them back', async (t, w, rec) => {
    await w.port.apply([{ op: 'replace', entry: neigh }, { op: 'replace', entry: fdb }]);
    const gone = await eventsOf(w, rec, ['del neigh 192.168.0.87', `del fdb bridge ${MAC}`], () => {
      w.delNeigh('192.168.0.87');
      w.delFdb(MAC, 'bridge');
    });
    t.same(gone, [`del fdb bridge ${MAC}`, 'del neigh 192.168.0.87', 'new neigh 192.168.0.87']);
    const ops = diff([neigh, fdb], await w.port.dump(DEVICES));
    t.same(ops, [{ op: 'replace', entry: neigh }, { op: 'replace', entry: fdb }]);
    t.same(codes(await w.port.apply(ops)), ['ok', 'ok']);
    t.same(diff([neigh, fdb], await w.port.dump(DEVICES)), []);

    const moved = await eventsOf(w, rec, [`new fdb vxlan ${MAC} 192.168.9.9`], () => w.moveFdb(MAC, '192.168.9.9'));
    t.same(moved, [`new fdb vxlan ${MAC} 192.168.9.9`]);
    t.same(diff([neigh, fdb], await w.port.dump(DEVICES)), [{ op: 'replace', entry: fdb }]);
  });

  test('foreign entries: reported by dump, left alone by reconcile, a clash with a static one is skipped', async (t, w) => {
    w.permanentNeigh('192.168.0.5', '02:00:00:00:00:05');
    await w.port.apply([{ op: 'replace', entry: neigh }]);
    const seen = await w.port.dump(DEVICES);
    t.match(neighOf(seen, '192.168.0.5'), { mac: '02:00:00:00:00:05', externLearned: false, state: 0x80 });
    const p = plan([], seen);
    t.same(p.ops, [{ op: 'delete', entry: neigh }], 'only ours is deleted');
    const clash = plan([{ ...neigh, ip: '192.168.0.5' }], seen);
    t.equal(clash.skipped[0]?.reason, 'foreign-static');
  });

  test('FDB nexthops and groups: our protocol, dumps, an FDB entry through a group, a member replace', async (t, w, rec) => {
    const port = w.port;
    t.ok(port.nexthopSupport && port.dumpNexthops, 'the port has nexthops');
    if (!port.nexthopSupport || !port.dumpNexthops) return;
    t.match(await port.nexthopSupport(), { supported: true });
    const nh1: KernelOp = { op: 'replace', entry: { kind: 'nexthop', id: NH1, dst: '192.168.1.87' } };
    const nh2: KernelOp = { op: 'replace', entry: { kind: 'nexthop', id: NH2, dst: '192.168.2.87' } };
    const grp = (m: number): KernelOp => ({ op: 'replace', entry: { kind: 'nhgroup', id: GROUP, members: [m] } });
    const viaGroup: KernelEntry = { kind: 'fdb', ifname: VX, mac: MAC, dst: '192.168.1.87', nhid: GROUP };
    const made = await eventsOf(w, rec, [`new nexthop ${NH1}`, `new nexthop ${NH2}`, `new nexthop ${GROUP}`], async () => {
      t.same(codes(await port.apply([nh1, nh2, grp(NH1)])), ['ok', 'ok', 'ok']);
    });
    t.same(made, [`new nexthop ${NH1}`, `new nexthop ${NH2}`, `new nexthop ${GROUP}`]);
    const nhs = new Map((await port.dumpNexthops()).map((n) => [n.id, n]));
    t.match(nhs.get(NH1), { dst: '192.168.1.87', group: null, fdb: true, protocol: EVPN_HA_PROTOCOL });
    t.match(nhs.get(GROUP), { dst: null, group: [NH1], fdb: true, protocol: EVPN_HA_PROTOCOL });

    t.same(codes(await port.apply([{ op: 'replace', entry: viaGroup }])), ['ok']);
    let seen = await port.dump(DEVICES);
    t.match(vxlanHalf(seen), { nhid: GROUP, dst: null, externLearned: true });
    t.ok(bridgeHalf(seen));
    t.same(codes(await port.apply([{ op: 'replace', entry: fdb }])), ['ok'], 'a dst for an entry with a group: ok...');
    t.match(vxlanHalf(await port.dump(DEVICES)), { nhid: GROUP, dst: null }, '...and nothing changed');

    // Failover: the group's member is replaced; the FDB entry keeps its nhid.
    const swapped = await eventsOf(w, rec, [`new nexthop ${GROUP}`], async () => {
      t.same(codes(await port.apply([grp(NH2)])), ['ok']);
    });
    t.same(swapped, [`new nexthop ${GROUP}`], 'one event, for the group; none for the FDB entry');
    t.same((await port.dumpNexthops()).find((n) => n.id === GROUP)?.group, [NH2]);
    t.equal(vxlanHalf(await port.dump(DEVICES))?.nhid, GROUP);

    // Errors: a group of a missing member, an FDB entry through a missing group.
    t.same(codes(await port.apply([
      { op: 'replace', entry: { kind: 'nhgroup', id: GROUP + 1, members: [NH1 + 100] } },
      { op: 'replace', entry: { ...viaGroup, mac: '02:00:00:00:00:88', nhid: GROUP + 2 } },
    ])).map((c) => c !== 'ok'), [true, true], 'both refused');
    t.same(codes(await port.apply([{ op: 'replace', entry: { ...fdb, mac: '02:00:00:00:00:99' } }, { op: 'replace', entry: { ...viaGroup, mac: '02:00:00:00:00:99' } }])),
      ['ok', 'EOPNOTSUPP'], 'an entry with a dst does not take a group in place');

    // Deleting the group takes the FDB entries through it along.
    const del = await eventsOf(w, rec, [`del nexthop ${GROUP}`], async () => {
      t.same(codes(await port.apply([{ op: 'delete', entry: { kind: 'nhgroup', id: GROUP, members: [NH2] } }])), ['ok']);
    });
    t.ok(del.includes(`del nexthop ${GROUP}`));
    seen = await port.dump(DEVICES);
    t.notOk(vxlanHalf(seen), 'the vxlan half through the group is gone');
    // Deleting a group's last member deletes the group.
    t.same(codes(await port.apply([grp(NH1)])), ['ok']);
    t.same(codes(await port.apply([{ op: 'delete', entry: { kind: 'nexthop', id: NH1, dst: '192.168.1.87' } }])), ['ok']);
    const left = (await port.dumpNexthops()).map((n) => n.id).filter((id) => id >= NH1 && id <= GROUP + 2).sort();
    t.same(left, [NH2], 'the group went with its last member');
    t.same(codes(await port.apply([{ op: 'delete', entry: { kind: 'nexthop', id: NH1, dst: '192.168.1.87' } }])), ['ok'], 'already gone: ok');
  });

  test('neigh_suppress on the vxlan bridge port: read, set, read back; not a port: null', async (t, w) => {
    const port = w.port;
    if (!port.neighSuppress || !port.setNeighSuppress) { t.fail('the port has neigh_suppress'); return; }
    t.equal(await port.neighSuppress(VX), false);
    await port.setNeighSuppress(VX, true);
    t.equal(await port.neighSuppress(VX), true);
    await port.setNeighSuppress(VX, false);
    t.equal(await port.neighSuppress(VX), false);
    t.equal(await port.neighSuppress(BR), null, 'the bridge itself is no port');
    await t.rejects(port.setNeighSuppress('missing0', true), { code: 'ENODEV' });
  });

  test('unsubscribe stops events; after close: typed failures, no throw', async (t, w, rec) => {
    rec.off();
    await w.port.apply([{ op: 'replace', entry: neigh }]);
    if (w.eventDelayMs > 0) await new Promise((r) => setTimeout(r, w.eventDelayMs));
    t.same(rec.lines(), [], 'no events after unsubscribe');
    await w.port.close();
    const res = await w.port.apply([{ op: 'replace', entry: fdb }]);
    t.same(codes(res), ['ECANCELED']);
    await w.port.close();
  });
}
