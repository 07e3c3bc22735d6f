// Giving memory back after a burst (issue 9 §5). A large UPDATE burst and the
// kernel's echo of our writes go through many short-lived native buffers (socket
// reads, the event pump's frames, netlink messages); glibc's malloc keeps the freed
// chunks in its arenas (the main heap and one arena per thread that allocated), so
// the process's RSS stays at the burst's peak long after the live data shrank. In
// the bench:scale lab at N=50,000 that was 55-100 MiB of the agent's RSS.
// malloc_trim(0) hands every free page of every arena back (madvise), without
// moving anything.
//
// The trimmer checks the RSS twice a second and trims once the RSS has grown by
// a few MiB since the last trim and the burst is over (the RSS did not grow since
// the previous check and the event loop was mostly idle meanwhile), and also every
// few minutes anyway (that one without the collection below: it may fall into busy
// work); the trim itself runs on a
// thread of libuv's pool. Without glibc (musl has
// no malloc_trim) it does nothing. Reaches libc through koffi, as net/sockopt.ts.
//
// Before a trim after a burst (at most every 10 s) it has V8 collect the garbage the burst left (collectGarbage): V8
// sizes its heap for the burst's allocation rate and keeps the pages until a later
// full collection that a quiet daemon may not need for a long time. In bench:scale
// at N=50,000 the agent held ~200 MiB of heap for 64 MiB of live objects.
import koffi from 'koffi';
import vm from 'node:vm';

/** The interval of the RSS check, ms (two cheap reads: the RSS, the event loop's utilisation). */
export const TRIM_CHECK_MS = 500;
/** The event loop's utilisation over the last check below which a burst is over. */
export const TRIM_QUIET_UTILIZATION = 0.5;
/** Growth of the RSS since the last trim (bytes) that makes the next quiet check trim. */
export const TRIM_GROWTH = 8 * 2 ** 20;
/** Full collections (before a trim) at most this often (ms). */
export const GC_MIN_INTERVAL_MS = 10_000;
/** A collection that has not finished after this long (ms) is not waited for. */
const GC_WAIT_MS = 10_000;
/** A trim at least this often (ms) even without growth. */
export const TRIM_EVERY_MS = 5 * 60_000;

type MallocTrim = ((pad: number) => number) & { async(pad: number, cb: (err: unknown, res: number) => void): void };
let trimFn: MallocTrim | null | undefined;

function mallocTrimFn(): MallocTrim | null {
  if (trimFn !== undefined) return trimFn;
  try {
    trimFn = koffi.load(null).func('int malloc_trim(size_t)') as MallocTrim;
  } catch {
    trimFn = null;
  }
  return trimFn;
}

/** malloc_trim(0): true if memory was released, false if none, null without glibc. */
export function mallocTrim(): boolean | null {
  const f = mallocTrimFn();
  return f ? f(0) === 1 : null;
}

/**
 * malloc_trim(0) on a thread of libuv's pool (koffi's async call): it takes 30 ms
 * with nothing to give back and ~0.5 s after a 200 MiB burst on this machine
 * (madvise of every free page), which must not hold up the event loop. glibc locks
 * one arena at a time meanwhile.
 */
export function mallocTrimAsync(): Promise<boolean | null> {
  const f = mallocTrimFn();
  if (!f) return Promise.resolve(null);
  return new Promise((resolve) => {
    f.async(0, (err, res) => resolve(err ? null : res === 1));
  });
}

let measureWarned = false;

/**
 * A full garbage collection now, without `--expose-gc`: V8's eager memory
 * measurement (`vm.measureMemory({ execution: 'eager' })`) runs one at once. It marks
 * incrementally (measured: the event loop stalled at most ~40 ms for a 200 MiB live
 * heap, the whole collection took ~0.5 s); V8 hands the freed pages back to the
 * system from a background thread shortly after. Resolves false where it fails.
 * Node flags the API experimental: its one-time warning is kept off stderr.
 */
export async function collectGarbage(): Promise<boolean> {
  const emit = process.emitWarning;
  let measured: Promise<unknown>;
  try {
    if (!measureWarned) {
      measureWarned = true;
      process.emitWarning = ((w: string | Error, ...rest: unknown[]) => {
        if ((typeof w === 'string' ? w : w.message).includes('vm.measureMemory')) return;
        (emit as (w: string | Error, ...r: unknown[]) => void).call(process, w, ...rest);
      }) as typeof process.emitWarning;
    }
    measured = vm.measureMemory({ mode: 'summary', execution: 'eager' });
  } catch {
    return false;
  } finally {
    // The warning is emitted synchronously by the call.
    process.emitWarning = emit;
  }
  try {
    await measured;
    return true;
  } catch {
    return false;
  }
}

/** What the trimmer decides at a check (pure: the state, the RSS now, the loop's utilisation since the last check). */
export interface TrimState {
  /** RSS right after the last trim (or at start). */
  base: number;
  /** RSS at the previous check. */
  last: number;
  /** When the last trim ran (ms). */
  at: number;
}

export function shouldTrim(s: TrimState, rss: number, now: number, utilization: number): boolean {
  return burstOver(s, rss, utilization) || now - s.at >= TRIM_EVERY_MS;
}

/** The RSS grew by TRIM_GROWTH since the last trim, and the burst is over. */
function burstOver(s: TrimState, rss: number, utilization: number): boolean {
  return rss >= s.base + TRIM_GROWTH && rss <= s.last && utilization < TRIM_QUIET_UTILIZATION;
}

/**
 * Whether a trim also runs a full collection: after a burst (not on the periodic
 * trim, which may fall into busy work), and at most every GC_MIN_INTERVAL_MS.
 */
export function shouldCollect(s: TrimState, rss: number, now: number, utilization: number, lastGcAt: number): boolean {
  return burstOver(s, rss, utilization) && now - lastGcAt >= GC_MIN_INTERVAL_MS;
}

export interface MemoryTrimmer {
  stop(): void;
}

/**
 * Starts the periodic check (an unref'd timer); null where malloc_trim does not exist.
 * `gc` (default true): a full garbage collection (collectGarbage) before a trim
 * that follows a burst (shouldCollect), not before the periodic one.
 */
export function startMemoryTrimmer(opts: { gc?: boolean; onTrim?: (before: number, after: number, ms: number, collected: boolean) => void } = {}): MemoryTrimmer | null {
  if (mallocTrimFn() === null) return null;
  const rss0 = process.memoryUsage.rss();
  const s: TrimState = { base: rss0, last: rss0, at: Date.now() };
  let busy = false;
  let stopped = false;
  let lastGcAt = -Infinity;
  let elu = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    if (busy) return;
    const rss = process.memoryUsage.rss();
    const now = Date.now();
    const since = performance.eventLoopUtilization(elu);
    elu = performance.eventLoopUtilization();
    if (shouldTrim(s, rss, now, since.utilization)) {
      busy = true;
      const t0 = performance.now();
      const collect = opts.gc !== false && shouldCollect(s, rss, now, since.utilization, lastGcAt);
      if (collect) lastGcAt = now;
      const gc = collect ? Promise.race([collectGarbage(), new Promise<boolean>((r) => { setTimeout(() => r(false), GC_WAIT_MS).unref(); })]) : Promise.resolve(false);
      void gc.then(() => mallocTrimAsync()).then(() => {
        if (stopped) return;
        const after = process.memoryUsage.rss();
        opts.onTrim?.(rss, after, performance.now() - t0, collect);
        s.base = after;
        s.at = now;
        s.last = after;
      }).catch(() => { /* a failed trim: the next check tries again */ }).finally(() => { busy = false; });
    } else {
      s.last = rss;
      // The RSS fell (V8 released pages): measure growth from there.
      if (rss < s.base) s.base = rss;
    }
  }, TRIM_CHECK_MS);
  timer.unref();
  return { stop: () => { stopped = true; clearInterval(timer); } };
}
