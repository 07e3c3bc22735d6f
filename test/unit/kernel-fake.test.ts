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

t.test('replace writes neigh + both fdb halves, with events; replace of dst is one change', async (t) => {
  const k = new FakeKernel();
  const evs = recorder(k);
  const res = await k.apply([{ op: 'replace', entry: neighWant }, { op: 'replace', entry: fdbWant }]);
  t.ok(res.every((r) => r.ok));
  t.same(evs.map(describe), ['new neigh 192.168.0.87', 'new fdb bridge ' + MAC, `new fdb vxlan ${MAC} 192.168.1.87`]);
  const n = k.neigh('br-vxlan', '192.168.0.87')!;
  t.equal(n.protocol, 0xe7);
  t.ok(n.externLearned);
  t.equal(k.fdb('vxlan0', MAC, 'vxlan')!.protocol, null, 'FDB keeps no protocol, like Linux');

  evs.length = 0;
  await k.apply([{ op: 'replace', entry: { ...fdbWant, dst: '192.168.2.87' } }]);
  t.same(evs.map(describe), [`new fdb vxlan ${MAC} 192.168.2.87`], 'only the vxlan half changed');

  evs.length = 0;
  await k.apply([{ op: 'replace', entry: neighWant }]);
  t.same(evs, [], 'no event without a change');
});

t.test('reconcile against the fake converges and then does nothing', async (t) => {
  const k = new FakeKernel();
  await k.apply(diff([neighWant, fdbWant], await k.dump(DEVICES)));
  t.same(diff([neighWant, fdbWant], await k.dump(DEVICES)), []);
});

t.test('someone else deletes or overwrites our entries: events, and reconcile restores', async (t) => {
  const k = new FakeKernel();
  await k.apply(diff([neighWant, fdbWant], []));
  const evs = recorder(k);
  t.ok(k.removeNeigh('br-vxlan', '192.168.0.87'));
  t.ok(k.removeFdb('vxlan0', MAC, 'bridge'));
  t.same(evs.map(describe), ['del neigh 192.168.0.87', `del fdb bridge ${MAC}`]);
  const ops = diff([neighWant, fdbWant], await k.dump(DEVICES));
  t.same(ops, [{ op: 'replace', entry: neighWant }, { op: 'replace', entry: fdbWant }]);
  await k.apply(ops);
  t.same(diff([neighWant, fdbWant], await k.dump(DEVICES)), []);

  // Overwritten by a dynamically learned entry.
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

t.test('delete removes both halves, or one with `only`; deleting what is gone succeeds', async (t) => {
  const k = new FakeKernel();
  await k.apply([{ op: 'replace', entry: fdbWant }]);
  await k.apply([{ op: 'delete', entry: fdbWant, only: 'vxlan' }]);
  t.ok(k.fdb('vxlan0', MAC, 'bridge'));
  t.notOk(k.fdb('vxlan0', MAC, 'vxlan'));
  const res = await k.apply([{ op: 'delete', entry: fdbWant }, { op: 'delete', entry: neighWant }]);
  t.ok(res.every((r) => r.ok));
  t.same(k.entries(), []);
});

t.test('errors come back as results', async (t) => {
  const k = new FakeKernel();
  const res = await k.apply([
    { op: 'replace', entry: { ...neighWant, ifname: 'nope0' } },
    { op: 'replace', entry: { ...fdbWant, ifname: 'br-vxlan' } },
    { op: 'replace', entry: { ...fdbWant, mac: 'zz' } },
  ]);
  t.same(res.map((r) => (r.ok ? 'ok' : r.code)), ['ENODEV', 'EOPNOTSUPP', 'EINVAL']);
  k.failWith('ENOBUFS', 105, (op) => op.entry.kind === 'fdb');
  const r2 = await k.apply([{ op: 'replace', entry: neighWant }, { op: 'replace', entry: fdbWant }, { op: 'replace', entry: fdbWant }]);
  t.same(r2.map((r) => (r.ok ? 'ok' : r.code)), ['ok', 'ENOBUFS', 'ok'], 'injected once');
  t.equal(k.applyCalls, 2);
  t.equal(k.applied.length, 6);
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

t.test('unsubscribe and close', async (t) => {
  const k = new FakeKernel();
  const evs: KernelEvent[] = [];
  const off = k.subscribe((e) => evs.push(e));
  off();
  k.overflow();
  t.same(evs, []);
  await k.close();
  const res = await k.apply([{ op: 'replace', entry: neighWant }]);
  t.equal(res[0]!.ok, false);
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
