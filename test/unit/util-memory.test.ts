import t from 'tap';
import { mallocTrim, mallocTrimAsync, shouldTrim, TRIM_EVERY_MS, TRIM_GROWTH } from '../../src/util/memory.js';

const MiB = 2 ** 20;

t.test('shouldTrim: after growth, once the RSS stopped growing', (t) => {
  const s = { base: 100 * MiB, last: 100 * MiB, at: 0 };
  t.equal(shouldTrim(s, 100 * MiB, 5000), false, 'no growth');
  t.equal(shouldTrim(s, 100 * MiB + TRIM_GROWTH - 1, 5000), false, 'growth below the threshold');
  t.equal(shouldTrim({ ...s, last: 150 * MiB }, 200 * MiB, 5000), false, 'still growing: the burst goes on');
  t.equal(shouldTrim({ ...s, last: 200 * MiB }, 200 * MiB, 5000), true, 'grown and quiet');
  t.equal(shouldTrim({ ...s, last: 210 * MiB }, 200 * MiB, 5000), true, 'grown and falling');
  t.end();
});

t.test('shouldTrim: at least every TRIM_EVERY_MS', (t) => {
  const s = { base: 100 * MiB, last: 100 * MiB, at: 1000 };
  t.equal(shouldTrim(s, 100 * MiB, 1000 + TRIM_EVERY_MS - 1), false);
  t.equal(shouldTrim(s, 100 * MiB, 1000 + TRIM_EVERY_MS), true);
  t.end();
});

t.test('mallocTrim releases freed native memory (glibc) and never throws', (t) => {
  const r = mallocTrim();
  t.ok(r === null || typeof r === 'boolean');
  if (r === null) {
    t.comment('no malloc_trim in this libc');
    t.end();
    return;
  }
  // Many medium native buffers (below the mmap threshold: from the arenas), freed.
  let bufs: Buffer[] = [];
  for (let i = 0; i < 4000; i++) bufs.push(Buffer.allocUnsafeSlow(16 * 1024).fill(i & 255));
  const keep = bufs.filter((_, i) => i % 64 === 63);
  bufs = [];
  (globalThis as { gc?: () => void }).gc?.();
  t.ok(keep.length > 0);
  t.ok(typeof mallocTrim() === 'boolean');
  t.end();
});

t.test('mallocTrimAsync runs off the event loop and resolves', async (t) => {
  const r = await mallocTrimAsync();
  t.ok(r === null || typeof r === 'boolean');
});
