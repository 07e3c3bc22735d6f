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
// few minutes anyway; the trim itself runs on a
// thread of libuv's pool. Without glibc (musl has
// no malloc_trim) it does nothing. Reaches libc through koffi, as net/sockopt.ts.
//
// Before the trim it has V8 collect the garbage the burst left (collectGarbage): V8
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
  const grown = rss >= s.base + TRIM_GROWTH;
  const quiet = rss <= s.last && utilization < TRIM_QUIET_UTILIZATION;
  return (grown && quiet) || now - s.at >= TRIM_EVERY_MS;
}

export interface MemoryTrimmer {
  stop(): void;
}

/**
 * Starts the periodic check (an unref'd timer); null where malloc_trim does not exist.
 * `gc` (default true): a full garbage collection (collectGarbage) before each trim.
 */
export function startMemoryTrimmer(opts: { gc?: boolean; onTrim?: (before: number, after: number, ms: number) => void } = {}): MemoryTrimmer | null {
  if (mallocTrimFn() === null) return null;
  const rss0 = process.memoryUsage.rss();
  const s: TrimState = { base: rss0, last: rss0, at: Date.now() };
  let busy = false;
  let stopped = false;
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
      const gc = opts.gc === false ? Promise.resolve(false) : collectGarbage();
      void gc.then(() => mallocTrimAsync()).then(() => {
        busy = false;
        if (stopped) return;
        const after = process.memoryUsage.rss();
        opts.onTrim?.(rss, after, performance.now() - t0);
        s.base = after;
        s.at = now;
        s.last = after;
      });
    } else {
      s.last = rss;
      // The RSS fell (V8 released pages): measure growth from there.
      if (rss < s.base) s.base = rss;
    }
  }, TRIM_CHECK_MS);
  timer.unref();
  return { stop: () => { stopped = true; clearInterval(timer); } };
}
