import t from 'tap';
import { GC_MIN_INTERVAL_MS, mallocTrim, mallocTrimAsync, shouldCollect, shouldTrim, TRIM_EVERY_MS, TRIM_GROWTH, TRIM_QUIET_UTILIZATION } from '../../src/util/memory.js';

const MiB = 2 ** 20;

t.test('shouldTrim: after growth, once the RSS stopped growing', (t) => {
  const s = { base: 100 * MiB, last: 100 * MiB, at: 0 };
  t.equal(shouldTrim(s, 100 * MiB, 5000, 0), false, 'no growth');
  t.equal(shouldTrim(s, 100 * MiB + TRIM_GROWTH - 1, 5000, 0), false, 'growth below the threshold');
  t.equal(shouldTrim({ ...s, last: 150 * MiB }, 200 * MiB, 5000, 0), false, 'still growing: the burst goes on');
  t.equal(shouldTrim({ ...s, last: 200 * MiB }, 200 * MiB, 5000, 0.1), true, 'grown and quiet');
  t.equal(shouldTrim({ ...s, last: 210 * MiB }, 200 * MiB, 5000, 0), true, 'grown and falling');
  t.equal(shouldTrim({ ...s, last: 200 * MiB }, 200 * MiB, 5000, TRIM_QUIET_UTILIZATION), false, 'RSS flat but the event loop busy: the burst goes on');
  t.end();
});

t.test('shouldTrim: at least every TRIM_EVERY_MS', (t) => {
  const s = { base: 100 * MiB, last: 100 * MiB, at: 1000 };
  t.equal(shouldTrim(s, 100 * MiB, 1000 + TRIM_EVERY_MS - 1, 0), false);
  t.equal(shouldTrim(s, 100 * MiB, 1000 + TRIM_EVERY_MS, 0.9), true, 'even when busy');
  t.end();
});

t.test('shouldCollect: a full collection only after a burst, at most every GC_MIN_INTERVAL_MS', (t) => {
  const s = { base: 100 * MiB, last: 200 * MiB, at: 0 };
  t.equal(shouldCollect(s, 200 * MiB, 50_000, 0.1, -Infinity), true, 'grown and quiet');
  t.equal(shouldCollect(s, 200 * MiB, 50_000, 0.1, 50_000 - GC_MIN_INTERVAL_MS), true, 'the last one long enough ago');
  t.equal(shouldCollect(s, 200 * MiB, 50_000, 0.1, 50_000 - GC_MIN_INTERVAL_MS + 1), false, 'too soon after the last one');
  t.equal(shouldCollect(s, 200 * MiB, 50_000, TRIM_QUIET_UTILIZATION, -Infinity), false, 'the loop busy');
  const periodic = { base: 100 * MiB, last: 100 * MiB, at: 0 };
  t.equal(shouldTrim(periodic, 100 * MiB, TRIM_EVERY_MS, 0.9), true, 'the periodic trim ...');
  t.equal(shouldCollect(periodic, 100 * MiB, TRIM_EVERY_MS, 0.9, -Infinity), false, '... runs without a collection');
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

t.test('collectGarbage: a full collection without --expose-gc, no warning on stderr', async (t) => {
  // Garbage that only a full collection frees: old-generation objects made unreachable.
  const { collectGarbage } = await import('../../src/util/memory.js');
  const warnings: string[] = [];
  const onWarning = (w: Error): void => { warnings.push(w.message); };
  process.on('warning', onWarning);
  let junk: Array<{ s: string; a: number[] }> | null = [];
  for (let i = 0; i < 300_000; i++) junk.push({ s: `k${i}`, a: [i] });
  const before = process.memoryUsage().heapUsed;
  junk = null;
  t.equal(await collectGarbage(), true);
  const after = process.memoryUsage().heapUsed;
  t.ok(after < before - 10 * MiB, `heap used ${(before / MiB).toFixed(0)} -> ${(after / MiB).toFixed(0)} MiB`);
  t.equal(await collectGarbage(), true, 'again');
  await new Promise((r) => setImmediate(r));
  process.off('warning', onWarning);
  t.same(warnings.filter((w) => w.includes('measureMemory')), [], 'the experimental warning is not emitted');
});
