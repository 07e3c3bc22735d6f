// The agent with FDB nexthop groups (kernel.nexthopGroups auto on a FakeKernel that
// has FDB nexthops), and the group planner on its own.
import t from 'tap';
import { Agent, type AgentEvent } from '../../src/agent/agent.js';
import { parseConfig } from '../../src/agent/config.js';
import { FdbGroupPlanner, NEXTHOP_ID_BASE } from '../../src/agent/kernel-plan.js';
import { DEFAULT_FAKE_LINKS, FakeKernel } from '../../src/kernel/fake.js';
import { EVPN_HA_PROTOCOL, type KernelOp } from '../../src/kernel/port.js';
import { ManualClock } from '../../src/util/clock.js';
import { advanceAndSettle } from '../lib/settle.js';
import { announceFrom, FakeSession, macOf, serverRoute, twoUplinkConfig, withdrawRoutes } from '../lib/agent-fakes.js';

const N = 50;
const SERVER = 87;

function newKernel(nexthops = true): FakeKernel {
  return new FakeKernel({
    nexthops,
    links: [
      ...DEFAULT_FAKE_LINKS.map((l) => ({ ...l, addresses: [...(l.addresses ?? [])] })),
      { name: 'eth1', addresses: [{ family: 4, address: '192.168.1.65', prefixLen: 24 }] },
      { name: 'eth2', addresses: [{ family: 4, address: '192.168.2.65', prefixLen: 24 }] },
    ],
  });
}

async function rig(kernel = newKernel(), kernelExtra = '') {
  const clock = new ManualClock(1000);
  const sessions: FakeSession[] = [];
  const events: AgentEvent[] = [];
  const agent = new Agent({
    config: parseConfig(twoUplinkConfig(kernelExtra)), kernel, clock,
    sessions: (spec, h) => { const s = new FakeSession(spec, h); sessions.push(s); return s; },
  });
  agent.subscribe((e) => events.push(e));
  await agent.start();
  let seen = kernel.applied.length;
  return {
    clock, kernel, agent, events,
    s: (name: string) => sessions.filter((x) => x.spec.uplink === name).at(-1)!,
    step: (ms = 0) => advanceAndSettle(clock, agent, ms),
    newOps(): KernelOp[] { const o = kernel.applied.slice(seen); seen = kernel.applied.length; return o; },
  };
}

const macs = Array.from({ length: N }, (_, i) => macOf(SERVER, i));

/** The VTEP an FDB entry leads to through its group (null when it does not). */
function via(k: FakeKernel, mac: string): { nhid: number; dst: string } | null {
  const f = k.fdb('vxlan0', mac, 'vxlan');
  if (!f || f.nhid == null) return null;
  const g = k.nexthop(f.nhid);
  if (!g || !g.fdb || g.group?.length !== 1) return null;
  const n = k.nexthop(g.group[0]!);
  return n && n.fdb && n.dst ? { nhid: f.nhid, dst: n.dst } : null;
}

async function converged(r: Awaited<ReturnType<typeof rig>>): Promise<void> {
  r.s('net1').up('192.168.1.2');
  r.s('net2').up('192.168.2.2');
  r.s('net1').send(announceFrom(1, SERVER, macs.map((m) => serverRoute(1, SERVER, m))));
  r.s('net2').send(announceFrom(2, SERVER, macs.map((m) => serverRoute(2, SERVER, m))));
  r.s('net1').eor();
  r.s('net2').eor();
  await r.step();
}

t.test('MACs of one remote server share one group; a session failover is one group replace', async (t) => {
  const r = await rig();
  t.match(r.events.find((e) => e.type === 'fdb-mode'), { mode: 'nexthop-groups' });
  t.same(r.agent.fdbMode().mode, 'nexthop-groups');
  await converged(r);
  const before = macs.map((m) => via(r.kernel, m));
  t.ok(before.every((v) => v?.dst === '192.168.1.87'), 'every FDB entry leads to the net1 VTEP');
  const gid = before[0]!.nhid;
  t.ok(before.every((v) => v?.nhid === gid), 'one group for all of them');
  t.ok(gid >= NEXTHOP_ID_BASE, 'id from the private range');
  t.match(r.kernel.nexthop(gid), { fdb: true, protocol: EVPN_HA_PROTOCOL });
  t.same(r.agent.nexthopGroups().map((g) => g.macs), [N]);
  r.newOps();

  r.s('net1').down('BFD down');
  await r.step();
  const ops = r.newOps();
  t.same(ops.filter((o) => o.entry.kind === 'fdb' || o.entry.kind === 'neigh'), [], 'no FDB or neighbour write');
  t.same(ops.map((o) => `${o.op} ${o.entry.kind}`), ['replace nexthop', 'replace nhgroup', 'delete nexthop'],
    'new member, group replace, old member gone');
  const after = macs.map((m) => via(r.kernel, m));
  t.ok(after.every((v) => v?.dst === '192.168.2.87' && v.nhid === gid), 'same nhid, group leads to net2 now');
  t.match(r.events.filter((e) => e.type === 'nexthop-group'), [{ id: gid, from: '192.168.1.87', to: '192.168.2.87', macs: N }]);
  t.equal(r.agent.groupReplaces, 1);

  // Failback by routes arriving again in one UPDATE: one replace back.
  r.s('net1').up('192.168.1.2');
  r.s('net1').send(announceFrom(1, SERVER, macs.map((m) => serverRoute(1, SERVER, m))));
  await r.step();
  t.same(r.newOps().filter((o) => o.entry.kind === 'fdb'), [], 'failback: no FDB write either');
  t.ok(macs.every((m) => via(r.kernel, m)?.dst === '192.168.1.87'));
  t.ok(r.agent.desiredEntries().filter((e) => e.kind === 'fdb').every((e) => e.kind === 'fdb' && e.dst === '192.168.1.87'),
    'desiredEntries() shows the VTEP the group leads to');
  t.end();
});

t.test('a MAC that moves alone leaves its group; the group stays', async (t) => {
  const r = await rig();
  await converged(r);
  const gid = via(r.kernel, macs[0]!)!.nhid;
  r.newOps();
  // macs[0] moves to another server (VTEP .88): withdrawn by .87, announced by .88.
  r.s('net1').send(withdrawRoutes([serverRoute(1, SERVER, macs[0]!)]));
  r.s('net2').send(withdrawRoutes([serverRoute(2, SERVER, macs[0]!)]));
  r.s('net1').send(announceFrom(1, 88, [serverRoute(1, 88, macs[0]!)]));
  await r.step();
  const v = via(r.kernel, macs[0]!);
  t.equal(v?.dst, '192.168.1.88');
  t.not(v?.nhid, gid, 'its own group');
  t.ok(macs.slice(1).every((m) => via(r.kernel, m)?.nhid === gid && via(r.kernel, m)?.dst === '192.168.1.87'), 'the others untouched');
  t.end();
});

t.test('restart: a previous run\'s groups are kept without rewriting; stale nexthops swept after the gate', async (t) => {
  const kernel = newKernel();
  const first = await rig(kernel);
  await converged(first);
  const gid = via(kernel, macs[0]!)!.nhid;
  await first.agent.shutdown({ flushKernel: false });
  // A nexthop of ours nobody wants, and a foreign one in our range.
  kernel.foreignNexthop({ id: NEXTHOP_ID_BASE + 5000, dst: '192.0.2.9', fdb: true, protocol: EVPN_HA_PROTOCOL });
  kernel.foreignNexthop({ id: NEXTHOP_ID_BASE + 5001, dst: '192.0.2.10', fdb: true });

  const r = await rig(kernel);
  r.newOps();
  await converged(r);
  const ops = r.newOps();
  t.same(ops.filter((o) => o.op === 'replace' && (o.entry.kind === 'fdb' || o.entry.kind === 'nhgroup')), [], 'no FDB or group rewritten');
  t.ok(macs.every((m) => via(kernel, m)?.nhid === gid));
  t.same(ops.filter((o) => o.op === 'delete').map((o) => o.entry.kind === 'nexthop' ? o.entry.id : -1), [NEXTHOP_ID_BASE + 5000],
    'the stale nexthop of ours goes once both sessions sent End-of-RIB; the foreign one stays');
  t.ok(kernel.nexthop(NEXTHOP_ID_BASE + 5001), 'foreign nexthop untouched');
  t.end();
});

t.test('a group deleted by someone else is restored with its FDB entries', async (t) => {
  const r = await rig();
  await converged(r);
  const gid = via(r.kernel, macs[0]!)!.nhid;
  r.kernel.removeNexthop(gid);
  t.equal(r.kernel.fdb('vxlan0', macs[0]!, 'vxlan'), undefined, 'the kernel flushed the FDB entries with it');
  await r.step(50);
  await r.step(50);
  t.ok(macs.every((m) => via(r.kernel, m)?.dst === '192.168.1.87'), 'group and entries back');
  t.end();
});

t.test('kernel.nexthopGroups: true on a kernel without FDB nexthops fails the start, naming the key', async (t) => {
  await t.rejects(rig(newKernel(false), ', nexthopGroups: true'), /kernel\.nexthopGroups is true/);
  const r = await rig(newKernel(true), ', nexthopGroups: false');
  t.same(r.agent.fdbMode(), { mode: 'dst', reason: 'kernel.nexthopGroups is false' });
  await converged(r);
  t.equal(r.kernel.fdb('vxlan0', macs[0]!, 'vxlan')?.dst, '192.168.1.87', 'per-entry dst');
  t.same(r.kernel.nexthops(), []);
  const auto = await rig(newKernel(false));
  t.match(auto.agent.fdbMode(), { mode: 'dst', reason: /auto, but/ });
  t.end();
});

t.test('planner: the majority moves the group, the rest is rewritten; ids skip taken ones', (t) => {
  const taken = new Set([NEXTHOP_ID_BASE, NEXTHOP_ID_BASE + 2]);
  const p = new FdbGroupPlanner({ taken: (id) => taken.has(id) });
  for (let i = 0; i < 10; i++) p.want(`fdb|vx|m${i}`, { ifname: 'vx', mac: `m${i}`, dst: 'A' });
  const first = p.plan();
  t.same([...first.keys()].filter((k) => k.startsWith('nh|')), [`nh|${NEXTHOP_ID_BASE + 1}`, `nh|${NEXTHOP_ID_BASE + 3}`]);
  const gid = NEXTHOP_ID_BASE + 3;
  // 7 of 10 move to B, 2 to C, 1 stays.
  for (let i = 0; i < 7; i++) p.want(`fdb|vx|m${i}`, { ifname: 'vx', mac: `m${i}`, dst: 'B' });
  for (let i = 7; i < 9; i++) p.want(`fdb|vx|m${i}`, { ifname: 'vx', mac: `m${i}`, dst: 'C' });
  const out = p.plan();
  const fdbKeys = [...out.keys()].filter((k) => k.startsWith('fdb|')).sort();
  t.same(fdbKeys, ['fdb|vx|m7', 'fdb|vx|m8', 'fdb|vx|m9'], 'only the minority is rewritten');
  t.match(out.get(`nh|${gid}`), { kind: 'nhgroup', id: gid });
  t.equal(p.vtepOf(gid), 'B');
  t.same(p.groupsInfo().map((g) => [g.vtep, g.macs]).sort(), [['A', 1], ['B', 7], ['C', 2]]);
  // Everything withdrawn: groups and nexthops go.
  for (let i = 0; i < 10; i++) p.want(`fdb|vx|m${i}`, null);
  const gone = p.plan();
  t.equal([...gone.values()].filter((v) => v !== null).length, 0);
  t.same(p.groupsInfo(), []);
  t.same(p.nexthopEntries(), []);
  t.end();
});

t.test('planner: work is proportional to the changes (one group replace for 50,000 MACs)', (t) => {
  const p = new FdbGroupPlanner();
  const M = 50_000;
  for (let i = 0; i < M; i++) p.want(`fdb|vx|${i}`, { ifname: 'vx', mac: String(i), dst: 'A' });
  t.equal(p.plan().size, M + 2);
  for (let i = 0; i < M; i++) p.want(`fdb|vx|${i}`, { ifname: 'vx', mac: String(i), dst: 'B' });
  const out = p.plan();
  t.same([...out.values()].map((e) => e?.kind ?? 'delete').sort(), ['delete', 'nexthop', 'nhgroup'], 'new nexthop, group replace, old nexthop deleted');
  t.end();
});

t.test('planner: a failback split over several batches leaves one group per VTEP, not a new one per flap', (t) => {
  // The soak (bench/soak.ts) showed it: the reflector re-advertises a server's MACs in
  // several UPDATE batches, so on failback the group follows the first part and the
  // rest is split off into a group of its own, which follows later; without a merge
  // both groups then lead to the same VTEP, and every flap split off more
  // (9 -> 21 nexthops and groups in 100 flaps of 10,000 MACs from 4 VTEPs).
  const p = new FdbGroupPlanner();
  const M = 10;
  const want = (i: number, dst: string): void => p.want(`fdb|vx|m${i}`, { ifname: 'vx', mac: `m${i}`, dst });
  for (let i = 0; i < M; i++) want(i, 'A');
  p.plan();
  for (let flap = 1; flap < M; flap++) {
    // Failover at group level (switchGroups), the per-MAC wants agree.
    p.switchGroups([{ from: 'A', to: 'B' }]);
    for (let i = 0; i < M; i++) want(i, 'B');
    t.equal(p.plan().size, 0, `flap ${flap}: the failover is the group replace alone`);
    // Failback in two batches: the first `flap` MACs, then the rest.
    const first = Math.max(flap, M - flap);
    for (let i = 0; i < first; i++) want(i, 'A');
    p.plan();
    for (let i = first; i < M; i++) want(i, 'A');
    const out = p.plan();
    const rewritten = [...out.keys()].filter((k) => k.startsWith('fdb|')).length;
    t.ok(rewritten <= M - first, `flap ${flap}: only the split-off MACs are rewritten (${rewritten})`);
    t.same(p.groupsInfo().map((g) => [g.vtep, g.macs]), [['A', M]], `flap ${flap}: one group, at A, with every MAC`);
    t.equal(p.nexthopEntries().length, 2, `flap ${flap}: one nexthop and one group`);
    // Every FDB entry the plan wrote points at the surviving group.
    const gid = p.groupsInfo()[0]!.id;
    for (const [k, e] of out) if (k.startsWith('fdb|')) t.match(e, { kind: 'fdb', nhid: gid, dst: 'A' });
  }
  t.end();
});

t.test('KernelSync: a removal that may not wait (noLinger: a MAC that came here) goes while the group plan is held', async (t) => {
  const { KernelSync } = await import('../../src/agent/kernel-sync.js');
  const { entryKey } = await import('../../src/kernel/port.js');
  const kernel = newKernel();
  const clock = new ManualClock(1000);
  const sync = new KernelSync({
    kernel, clock, devices: ['br-vxlan', 'vxlan0'], protocol: EVPN_HA_PROTOCOL, restoreDelay: () => 100, retryDelay: 1000,
    withdrawDelay: () => 2000, gateOpen: () => true, emit: () => {},
  });
  sync.setNexthopGroups(true);
  const settle = () => advanceAndSettle(clock, sync);
  sync.resyncNow();
  await settle();
  const entry = { kind: 'fdb' as const, ifname: 'vxlan0', mac: macs[0]!, dst: '192.168.1.87' };
  const key = entryKey(entry);
  sync.setDesired([[key, entry]]);
  await settle();
  t.ok(via(kernel, macs[0]!), 'programmed through a group');
  // A large failover's chunked decisions hold the plan; the MAC arrives meanwhile.
  sync.holdFdbPlan(true);
  sync.setDesired([[key, null]], { noLinger: true });
  await settle();
  t.equal(kernel.fdb('vxlan0', macs[0]!, 'vxlan'), undefined, 'deleted while the plan is held');
  sync.holdFdbPlan(false);
  await settle();
  t.equal(kernel.fdb('vxlan0', macs[0]!, 'vxlan'), undefined, 'and stays deleted when the plan runs');
  // A lingering removal (an ordinary withdraw) still waits for withdrawDelay.
  sync.setDesired([[key, entry]]);
  await settle();
  sync.setDesired([[key, null]]);
  await settle();
  t.ok(kernel.fdb('vxlan0', macs[0]!, 'vxlan'), 'an ordinary withdraw lingers');
  await advanceAndSettle(clock, sync, 2000);
  t.equal(kernel.fdb('vxlan0', macs[0]!, 'vxlan'), undefined, 'gone after withdrawDelay');
  await sync.stop(false);
  t.end();
});
