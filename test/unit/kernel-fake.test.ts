// FakeKernel's own controls (foreign entries, links, failures, IPv6 vxlan devices).
// Its behaviour as a KernelPort is in the contract suite (test/lib/kernel-contract.ts),
// run against it by test/unit/kernel-contract.test.ts and against the kernel in
// test/netns/kernel-contract.test.ts.
import t from 'tap';
import { FakeKernel } from '../../src/kernel/fake.js';
import { diff } from '../../src/kernel/reconcile.js';
import type { KernelEntry, KernelEvent } from '../../src/kernel/port.js';
import { describeKernelEvent as describe } from '../lib/kernel-events.js';

const MAC = '02:00:00:00:00:87';
const neighWant: KernelEntry = { kind: 'neigh', ifname: 'br-vxlan', ip: '192.168.0.87', mac: MAC };
const fdbWant: Extract<KernelEntry, { kind: 'fdb' }> = { kind: 'fdb', ifname: 'vxlan0', mac: MAC, dst: '192.168.1.87' };
const DEVICES = ['br-vxlan', 'vxlan0'];

function recorder(k: FakeKernel): KernelEvent[] {
  const evs: KernelEvent[] = [];
  k.subscribe((e) => evs.push(e));
  return evs;
}

t.test('default topology', async (t) => {
  const k = new FakeKernel();
  const links = await k.links();
  t.same(links.map((l) => [l.name, l.kind, l.master]), [['br-vxlan', 'bridge', null], ['vxlan0', 'vxlan', 'br-vxlan']]);
  t.equal(links[1]!.vxlan!.vni, 100);
  t.same(links[0]!.addresses, [{ family: 4, address: '192.168.0.65', prefixLen: 24 }]);
});

t.test('our neighbour overwritten by a dynamically learned one: reconcile restores it', async (t) => {
  const k = new FakeKernel();
  await k.apply(diff([neighWant, fdbWant], []));
  k.foreignNeigh({ ifname: 'br-vxlan', ip: '192.168.0.87', mac: '02:00:00:00:00:aa' });
  t.same(diff([neighWant, fdbWant], await k.dump(DEVICES)), [{ op: 'replace', entry: neighWant }]);
});

t.test('foreign entries survive a reconcile', async (t) => {
  const k = new FakeKernel();
  k.foreignNeigh({ ifname: 'br-vxlan', ip: '192.168.0.5', mac: '02:00:00:00:00:05', state: 0x80 });
  k.foreignFdb({ ifname: 'vxlan0', mac: '00:00:00:00:00:00', table: 'vxlan', dst: '192.168.1.5', state: 0x80 });
  k.foreignFdb({ ifname: 'vxlan0', mac: '02:00:00:00:00:06', table: 'bridge' });
  await k.apply(diff([], await k.dump(DEVICES)));
  t.equal(k.entries().length, 3);
  t.equal(k.applied.length, 0);
});

t.test('errors come back as results; failWith injects them', async (t) => {
  const k = new FakeKernel();
  const res = await k.apply([{ op: 'replace', entry: { ...fdbWant, ifname: 'br-vxlan' } }]);
  t.same(res.map((r) => (r.ok ? 'ok' : r.code)), ['EOPNOTSUPP']);
  k.failWith('ENOBUFS', 105, (op) => op.entry.kind === 'fdb');
  const r2 = await k.apply([{ op: 'replace', entry: neighWant }, { op: 'replace', entry: fdbWant }, { op: 'replace', entry: fdbWant }]);
  t.same(r2.map((r) => (r.ok ? 'ok' : r.code)), ['ok', 'ENOBUFS', 'ok'], 'injected once');
  t.equal(k.applyCalls, 2);
  t.equal(k.applied.length, 4);
});

t.test('link, address and overflow events; removing a link drops its entries', async (t) => {
  const k = new FakeKernel();
  await k.apply([{ op: 'replace', entry: fdbWant }]);
  const evs = recorder(k);
  k.setLink('vxlan0', { carrier: false });
  k.addAddress('br-vxlan', { family: 6, address: 'fd00::65', prefixLen: 64 });
  k.removeAddress('br-vxlan', 'fd00::65');
  k.overflow();
  k.removeLink('vxlan0');
  t.same(evs.map(describe), [
    'new link vxlan0', 'new addr br-vxlan fd00::65', 'del addr br-vxlan fd00::65', 'overflow',
    `del fdb bridge ${MAC}`, `del fdb vxlan ${MAC} 192.168.1.87`, 'del link vxlan0',
  ]);
  t.same(k.entries(), []);
  k.addLink({ name: 'eth1' });
  t.equal(evs.at(-1)!.type, 'link');
});

t.test('syncKernel: dump, plan, apply in one call', async (t) => {
  const { syncKernel } = await import('../../src/kernel/sync.js');
  const k = new FakeKernel();
  const first = await syncKernel(k, [neighWant, fdbWant], DEVICES);
  t.equal(first.plan.ops.length, 2);
  t.same(first.failures, []);
  const again = await syncKernel(k, [neighWant, fdbWant], DEVICES);
  t.same(again.plan.ops, [], 'converged');
  t.same(again.results, []);
  k.failWith('EIO', 5);
  k.removeNeigh('br-vxlan', '192.168.0.87');
  const failed = await syncKernel(k, [neighWant, fdbWant], DEVICES);
  t.same(failed.failures, ['replace neigh 192.168.0.87 dev br-vxlan lladdr 02:00:00:00:00:87: EIO']);
  const kept = await syncKernel(k, [], DEVICES, { deleteStale: false });
  t.same(kept.plan.ops, []);
  t.equal(kept.plan.stale.length, 1);
});

t.test('a vxlan device has one underlay family: vxlanFamily() says which, the other dst is EAFNOSUPPORT', async (t) => {
  const k = new FakeKernel({ links: [
    { name: 'br-vxlan', kind: 'bridge' },
    { name: 'vxlan0', kind: 'vxlan', master: 'br-vxlan', vni: 100 },
    { name: 'vxlan6', kind: 'vxlan', master: 'br-vxlan', vni: 200, family: 6 },
  ] });
  t.equal(await k.vxlanFamily('vxlan0'), 4, 'IPv4 by default, as a device without local');
  t.equal(await k.vxlanFamily('vxlan6'), 6);
  t.equal(await k.vxlanFamily('br-vxlan'), null);
  t.equal(await k.vxlanFamily('nope'), null);
  const res = await k.apply([
    { op: 'replace', entry: { ...fdbWant, dst: '2001:db8:1::87' } },
    { op: 'replace', entry: { ...fdbWant, ifname: 'vxlan6', dst: '2001:db8:1::87' } },
    { op: 'replace', entry: { ...fdbWant, ifname: 'vxlan6' } },
  ]);
  t.same(res.map((r) => (r.ok ? 'ok' : r.code)), ['EAFNOSUPPORT', 'ok', 'EAFNOSUPPORT']);
  t.equal(k.fdb('vxlan6', MAC, 'vxlan')?.dst, '2001:db8:1::87');
});
