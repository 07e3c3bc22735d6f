// FDB nexthop groups in a real kernel: the Agent (fake BGP sessions, so the test
// decides when routes arrive and sessions fail) on the real rtnetlink port in a
// fresh namespace. Kernel state is read with iproute2 (`bridge -j fdb`,
// `ip -j nexthop`), not with the code under test. Like kernel.test.ts, the parent
// creates the namespace and runs this file inside it (EH_NHG_NS set).
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { Agent } from '../../src/agent/agent.js';
import { parseConfig } from '../../src/agent/config.js';
import { NEXTHOP_ID_BASE } from '../../src/agent/kernel-plan.js';
import type { KernelOp } from '../../src/kernel/port.js';
import { RtnetlinkPort } from '../../src/kernel/rtnetlink.js';
import { groupDst, type NexthopJson } from '../../src/lab/twonet.js';
import { systemClock } from '../../src/util/clock.js';
import { Lab, ip, isRoot, sh, waitFor } from '../lib/netns.js';
import { announceFrom, FakeSession, macOf, serverRoute, twoUplinkConfig } from '../lib/agent-fakes.js';

const NS = process.env['EH_NHG_NS'];
const N = 20;
const SERVER = 87;
const macs = Array.from({ length: N }, (_, i) => macOf(SERVER, i));
const ipOf = (i: number): string => `192.168.0.${100 + i}`;
const STALE_OURS = NEXTHOP_ID_BASE + 256;
const FOREIGN = NEXTHOP_ID_BASE;

interface FdbJson { mac: string; dst?: string; nhid?: number; flags?: string[]; master?: string }

function fdbs(ns: string): FdbJson[] {
  return JSON.parse(sh('bridge', ['-n', ns, '-j', 'fdb', 'show', 'dev', 'vxlan0']) || '[]') as FdbJson[];
}

function nexthops(ns: string): Map<number, NexthopJson> {
  const all = JSON.parse(ip(ns, '-j', 'nexthop', 'show') || '[]') as NexthopJson[];
  return new Map(all.map((n) => [n.id, n]));
}

/** Per MAC: the vxlan entry's nhid and the VTEP its group leads to (or its dst). */
function kernelView(ns: string): Map<string, { nhid: number | null; dst: string | undefined }> {
  const nh = nexthops(ns);
  const out = new Map<string, { nhid: number | null; dst: string | undefined }>();
  for (const f of fdbs(ns)) {
    if (f.master !== undefined || !(f.flags ?? []).includes('extern_learn')) continue;
    out.set(f.mac, { nhid: f.nhid ?? null, dst: f.dst ?? (f.nhid !== undefined ? groupDst(nh, f.nhid) : undefined) });
  }
  return out;
}

function allLeadTo(ns: string, dst: string): boolean {
  const v = kernelView(ns);
  return macs.every((m) => v.get(m)?.dst === dst);
}

function neighMacs(ns: string): string {
  return ip(ns, 'neigh', 'show', 'dev', 'br-vxlan', 'proto', '231');
}

async function inNamespace(ns: string): Promise<void> {
  const port = new RtnetlinkPort();
  t.teardown(() => port.close());
  // Left by "a previous run": one nexthop of ours nobody wants, one of someone else in our range.
  ip(ns, 'nexthop', 'add', 'id', String(STALE_OURS), 'via', '192.0.2.9', 'fdb', 'proto', '231');
  ip(ns, 'nexthop', 'add', 'id', String(FOREIGN), 'via', '192.0.2.10', 'fdb');

  const sessions: FakeSession[] = [];
  const agent = new Agent({
    config: parseConfig(twoUplinkConfig()), kernel: port, clock: systemClock,
    sessions: (spec, h) => { const s = new FakeSession(spec, h); sessions.push(s); return s; },
  });
  const s = (name: string): FakeSession => sessions.filter((x) => x.spec.uplink === name).at(-1)!;
  await agent.start();
  t.teardown(() => agent.shutdown({ flushKernel: true }));
  t.equal(agent.fdbMode().mode, 'nexthop-groups', 'auto: this kernel has FDB nexthops');

  t.test('programming: one group of ours for the server\'s MACs, FDB entries point at it', async (t) => {
    s('net1').up('192.168.1.2');
    s('net2').up('192.168.2.2');
    s('net1').send(announceFrom(1, SERVER, macs.map((m, i) => serverRoute(1, SERVER, m, ipOf(i)))));
    s('net2').send(announceFrom(2, SERVER, macs.map((m, i) => serverRoute(2, SERVER, m, ipOf(i)))));
    await waitFor(() => allLeadTo(ns, '192.168.1.87'), 10_000, 'every FDB entry leads to 192.168.1.87');
    const v = kernelView(ns);
    const gid = v.get(macs[0]!)!.nhid!;
    t.ok(macs.every((m) => v.get(m)?.nhid === gid), `one group (${gid}) for all ${N} MACs`);
    const nh = nexthops(ns);
    const g = nh.get(gid)!;
    t.match(g, { protocol: '231' });
    t.ok('fdb' in g, 'group is fdb');
    const member = nh.get(g.group![0]!.id)!;
    t.match(member, { gateway: '192.168.1.87', protocol: '231' });
    t.ok('fdb' in member, 'member is an fdb nexthop');
    t.ok(gid >= NEXTHOP_ID_BASE && gid !== FOREIGN && g.group![0]!.id !== FOREIGN, 'ids from our range, not the foreign one');
    t.ok(nh.has(STALE_OURS), 'stale nexthop kept until the gate opens');
  });

  t.test('stale gate: our unwanted nexthop is swept, the foreign one stays', async (t) => {
    s('net1').eor();
    s('net2').eor();
    await waitFor(() => !nexthops(ns).has(STALE_OURS), 10_000, 'stale nexthop of ours deleted');
    t.match(nexthops(ns).get(FOREIGN), { gateway: '192.0.2.10' }, 'foreign nexthop untouched');
  });

  t.test('failover: one group replace, FDB entries keep their nhid, neighbours unchanged', async (t) => {
    const before = kernelView(ns);
    const gid = before.get(macs[0]!)!.nhid!;
    const oldMember = nexthops(ns).get(gid)!.group![0]!.id;
    const neighBefore = neighMacs(ns);
    const replacesBefore = agent.groupReplaces;
    s('net1').down('BFD down');
    await waitFor(() => allLeadTo(ns, '192.168.2.87'), 10_000, 'every FDB entry leads to 192.168.2.87');
    const after = kernelView(ns);
    t.ok(macs.every((m) => after.get(m)?.nhid === gid), 'every FDB entry still points at the same group');
    const g = nexthops(ns).get(gid)!;
    t.not(g.group![0]!.id, oldMember, 'the group\'s member changed');
    t.match(nexthops(ns).get(g.group![0]!.id), { gateway: '192.168.2.87' });
    await waitFor(() => !nexthops(ns).has(oldMember), 5000, 'the old member nexthop deleted');
    t.equal(agent.groupReplaces - replacesBefore, 1, 'one group replace');
    t.equal(neighMacs(ns), neighBefore, 'neighbour entries unchanged');
  });

  t.test('restore: a group deleted by someone else comes back with its FDB entries', async (t) => {
    const gid = kernelView(ns).get(macs[0]!)!.nhid!;
    ip(ns, 'nexthop', 'del', 'id', String(gid));
    await waitFor(() => allLeadTo(ns, '192.168.2.87') && macs.every((m) => kernelView(ns).get(m)?.nhid === gid), 10_000,
      'group and FDB entries restored');
    t.pass('restored');
  });

  t.test('shutdown with flush deletes entries, groups and nexthops of ours', async (t) => {
    await agent.shutdown({ flushKernel: true });
    const nh = nexthops(ns);
    t.same([...nh.keys()], [FOREIGN], 'only the foreign nexthop is left');
    t.same([...kernelView(ns).keys()], [], 'no FDB entries of ours');
  });

  t.test('kernel.nexthopGroups: false writes per-entry dst', async (t) => {
    const sess: FakeSession[] = [];
    const a = new Agent({
      config: parseConfig(twoUplinkConfig(', nexthopGroups: false')), kernel: port, clock: systemClock,
      sessions: (spec, h) => { const x = new FakeSession(spec, h); sess.push(x); return x; },
    });
    await a.start();
    t.teardown(() => a.shutdown({ flushKernel: true }));
    t.match(a.fdbMode(), { mode: 'dst', reason: 'kernel.nexthopGroups is false' });
    const s1 = sess.find((x) => x.spec.uplink === 'net1')!;
    s1.up('192.168.1.2');
    s1.send(announceFrom(1, SERVER, macs.map((m) => serverRoute(1, SERVER, m))));
    await waitFor(() => allLeadTo(ns, '192.168.1.87'), 10_000, 'per-entry dst entries');
    const v = kernelView(ns);
    t.ok(macs.every((m) => v.get(m)?.nhid === null), 'no nhid');
    t.same([...nexthops(ns).keys()], [FOREIGN], 'no nexthops of ours');
  });

  t.test('a failback in two UPDATE batches leaves one group: the split-off part merges back, no FDB entry deleted', async (t) => {
    const sess: FakeSession[] = [];
    const a = new Agent({
      config: parseConfig(twoUplinkConfig()), kernel: port, clock: systemClock,
      sessions: (spec, h) => { const x = new FakeSession(spec, h); sess.push(x); return x; },
    });
    await a.start();
    t.teardown(() => a.shutdown({ flushKernel: true }));
    const sx = (name: string): FakeSession => sess.filter((x) => x.spec.uplink === name).at(-1)!;
    const routes = (net: 1 | 2, from: number, to: number) => announceFrom(net, SERVER, macs.slice(from, to).map((m, i) => serverRoute(net, SERVER, m, ipOf(from + i))));
    sx('net1').up('192.168.1.2');
    sx('net2').up('192.168.2.2');
    sx('net1').send(routes(1, 0, N));
    sx('net2').send(routes(2, 0, N));
    await waitFor(() => allLeadTo(ns, '192.168.1.87'), 10_000, 'every FDB entry leads to 192.168.1.87');
    sx('net1').down('BFD down');
    await waitFor(() => allLeadTo(ns, '192.168.2.87'), 10_000, 'failover: every FDB entry leads to 192.168.2.87');
    await a.settled();
    const ops: KernelOp[] = [];
    a.subscribe((ev) => { if (ev.type === 'kernel') ops.push(...ev.ops); });
    // Failback as a reflector sends it: most of the MACs, then the rest.
    sx('net1').up('192.168.1.2');
    const first = Math.floor(N * 0.7);
    sx('net1').send(routes(1, 0, first));
    await waitFor(() => macs.slice(0, first).every((m) => kernelView(ns).get(m)?.dst === '192.168.1.87'), 10_000, 'the first batch moved');
    await a.settled();
    t.equal(new Set([...kernelView(ns).values()].map((v) => v.nhid)).size, 2, 'in between: the rest split off into a group of its own');
    sx('net1').send(routes(1, first, N));
    await waitFor(() => allLeadTo(ns, '192.168.1.87'), 10_000, 'failback: every FDB entry leads to 192.168.1.87');
    await a.settled();
    const v = kernelView(ns);
    t.equal(v.size, N, 'every FDB entry there');
    t.equal(new Set([...v.values()].map((x) => x.nhid)).size, 1, 'one group for all MACs again');
    const ours = [...nexthops(ns).values()].filter((n) => n.id !== FOREIGN);
    t.equal(ours.length, 2, 'one group and its one nexthop in the kernel');
    t.same(ops.filter((o) => o.op === 'delete' && o.entry.kind === 'fdb'), [], 'no FDB entry deleted on the way');
    t.same(a.nexthopGroups().map((g) => [g.vtep, g.macs]), [['192.168.1.87', N]]);
  });

  t.test('a large failover (ribChunk below N): the kernel has the group switched before any decision', async (t) => {
    const sess: FakeSession[] = [];
    const a = new Agent({
      config: parseConfig(twoUplinkConfig()), kernel: port, clock: systemClock, ribChunk: 4,
      sessions: (spec, h) => { const x = new FakeSession(spec, h); sess.push(x); return x; },
    });
    await a.start();
    t.teardown(() => a.shutdown({ flushKernel: true }));
    const sx = (name: string): FakeSession => sess.filter((x) => x.spec.uplink === name).at(-1)!;
    sx('net1').up('192.168.1.2');
    sx('net2').up('192.168.2.2');
    sx('net1').send(announceFrom(1, SERVER, macs.map((m, i) => serverRoute(1, SERVER, m, ipOf(i)))));
    sx('net2').send(announceFrom(2, SERVER, macs.map((m, i) => serverRoute(2, SERVER, m, ipOf(i)))));
    await waitFor(() => allLeadTo(ns, '192.168.1.87'), 10_000, 'every FDB entry leads to 192.168.1.87');
    await a.settled();
    const neighBefore = neighMacs(ns);
    // Read the kernel (with iproute2) at the session-down event: the handler has
    // switched the group and queued the decisions, none made yet.
    let atDown: { switched: boolean; queued: number; decided: number } | null = null;
    let decided = 0;
    a.subscribe((ev) => {
      if (ev.type === 'best-path') decided++;
      if (ev.type === 'session' && ev.state === 'down') atDown = { switched: allLeadTo(ns, '192.168.2.87'), queued: a.rib.deferred, decided };
    });
    sx('net1').down('BFD down');
    t.same(atDown, { switched: true, queued: N, decided: 0 }, 'switched in the kernel, every decision still queued');
    await waitFor(() => decided === N, 10_000, 'every decision made');
    await a.settled();
    t.ok(allLeadTo(ns, '192.168.2.87'), 'still on net2 after the decisions');
    t.equal(a.groupReplaces, 1, 'one group replace');
    t.equal(neighMacs(ns), neighBefore, 'neighbour entries unchanged');
  });
}

function parent(): void {
  if (!isRoot()) {
    t.plan(0, 'needs root for network namespaces');
    return;
  }
  const lab = new Lab('nhg', t);
  const ns = lab.ns('nhg');
  ip(ns, 'link', 'add', 'br-vxlan', 'type', 'bridge');
  ip(ns, 'link', 'add', 'vxlan0', 'type', 'vxlan', 'id', '100', 'dstport', '4789', 'local', '192.168.1.65', 'nolearning');
  ip(ns, 'link', 'set', 'vxlan0', 'master', 'br-vxlan');
  ip(ns, 'addr', 'add', '192.168.0.65/24', 'dev', 'br-vxlan');
  for (const [i, n] of [[1, 'eth1'], [2, 'eth2']] as const) {
    ip(ns, 'link', 'add', n, 'type', 'veth', 'peer', 'name', `${n}p`);
    ip(ns, 'addr', 'add', `192.168.${i}.65/24`, 'dev', n);
    ip(ns, 'link', 'set', n, 'up');
    ip(ns, 'link', 'set', `${n}p`, 'up');
  }
  ip(ns, 'link', 'set', 'br-vxlan', 'up');
  ip(ns, 'link', 'set', 'vxlan0', 'up');
  const self = fileURLToPath(import.meta.url);
  void t.spawn('ip', ['netns', 'exec', ns, process.execPath, ...process.execArgv, self], {
    env: { ...process.env, EH_NHG_NS: ns },
  }, 'agent with FDB nexthop groups inside a namespace');
}

if (NS) void inNamespace(NS);
else parent();
