// KernelSync's dirty keys (src/agent/dirty-keys.ts): FIFO chunks of entry keys,
// wanted nexthops in the first chunk, the others after the last entry key, and a
// cost per chunk that does not grow with the number of dirty keys.
import t from 'tap';
import { DirtyKeys } from '../../src/agent/dirty-keys.js';

const entries = (n: number, from = 0): string[] => Array.from({ length: n }, (_, i) => `fdb|vxlan0|k${from + i}`);

t.test('small sets are taken whole, nexthops first', async (t) => {
  const d = new DirtyKeys();
  for (const k of ['fdb|vxlan0|a', 'nh|5', 'neigh|br|10.0.0.1', 'nh|6']) d.add(k);
  d.add('fdb|vxlan0|a');
  t.equal(d.size, 4);
  t.same(d.take(8, () => true), ['nh|5', 'nh|6', 'fdb|vxlan0|a', 'neigh|br|10.0.0.1']);
  t.equal(d.size, 0);
});

t.test('chunks in the order keys became dirty; wanted nexthops first, the others last', async (t) => {
  const d = new DirtyKeys();
  for (const k of entries(10)) d.add(k);
  d.add('nh|1'); // wanted
  d.add('nh|2'); // to delete
  const wanted = (k: string): boolean => k === 'nh|1';
  t.same(d.take(4, wanted), ['nh|1', ...entries(4)]);
  d.delete('fdb|vxlan0|k5');
  d.add('fdb|vxlan0|k0'); // dirty again after it was taken: at the end
  t.same(d.take(4, wanted), ['fdb|vxlan0|k4', 'fdb|vxlan0|k6', 'fdb|vxlan0|k7', 'fdb|vxlan0|k8']);
  t.equal(d.size, 3);
  t.same(d.take(4, wanted), ['nh|2', 'fdb|vxlan0|k9', 'fdb|vxlan0|k0'], 'the rest fits: the unwanted nexthop comes along');
  t.equal(d.size, 0);
});

t.test('unwanted nexthops alone beyond a chunk are still taken', async (t) => {
  const d = new DirtyKeys();
  for (let i = 0; i < 5; i++) d.add(`nh|${i}`);
  t.equal(d.take(2, () => false).length, 5);
  t.equal(d.size, 0);
});

t.test('a key deleted and added again is taken once', async (t) => {
  const d = new DirtyKeys();
  for (const k of entries(6)) d.add(k);
  d.delete('fdb|vxlan0|k1');
  d.add('fdb|vxlan0|k1');
  const got = [...d.take(3, () => true), ...d.take(3, () => true)];
  t.equal(got.length, 6);
  t.equal(new Set(got).size, 6);
  t.equal(d.size, 0);
});

t.test('taking a burst in chunks costs the burst, not chunks x burst', async (t) => {
  // Counts the nexthop predicate's calls and the keys handed out: with 100 nexthops
  // and 200,000 entry keys in chunks of 2,048, every key is visited once.
  const d = new DirtyKeys();
  const N = 200_000;
  for (const k of entries(N)) d.add(k);
  for (let i = 0; i < 100; i++) d.add(`nh|${i}`);
  let calls = 0;
  let taken = 0;
  let chunks = 0;
  while (d.size) {
    taken += d.take(2048, (k) => { calls++; return k === 'nh|0'; }).length;
    chunks++;
  }
  t.equal(taken, N + 100);
  t.equal(chunks, Math.ceil(N / 2048));
  t.ok(calls <= 100 * chunks, `nexthop checks ${calls}: per chunk only the nexthops`);
});
