// Giving memory back after a burst (issue 9 §5). A large UPDATE burst and the
// kernel's echo of our writes go through many short-lived native buffers (socket
// reads, the event pump's frames, netlink messages); glibc's malloc keeps the freed
// chunks in its arenas (the main heap and one arena per thread that allocated), so
// the process's RSS stays at the burst's peak long after the live data shrank. In
// the bench:scale lab at N=50,000 that was 55-100 MiB of the agent's RSS.
// malloc_trim(0) hands every free page of every arena back (madvise), without
// moving anything.
//
// The trimmer checks the RSS every few seconds and trims once the RSS has grown by
// a few MiB since the last trim and the burst is over (the RSS did not grow since
// the previous check), and also every few minutes anyway; the trim itself runs on a
// thread of libuv's pool. Without glibc (musl has
// no malloc_trim) it does nothing. Reaches libc through koffi, as net/sockopt.ts.
import koffi from 'koffi';

/** The interval of the RSS check, ms. */
export const TRIM_CHECK_MS = 5000;
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

/** What the trimmer decides at a check (pure: the state and the RSS now). */
export interface TrimState {
  /** RSS right after the last trim (or at start). */
  base: number;
  /** RSS at the previous check. */
  last: number;
  /** When the last trim ran (ms). */
  at: number;
}

export function shouldTrim(s: TrimState, rss: number, now: number): boolean {
  const grown = rss >= s.base + TRIM_GROWTH;
  const quiet = rss <= s.last;
  return (grown && quiet) || now - s.at >= TRIM_EVERY_MS;
}

export interface MemoryTrimmer {
  stop(): void;
}

/** Starts the periodic check (an unref'd timer); null where malloc_trim does not exist. */
export function startMemoryTrimmer(opts: { onTrim?: (before: number, after: number, ms: number) => void } = {}): MemoryTrimmer | null {
  if (mallocTrimFn() === null) return null;
  const rss0 = process.memoryUsage.rss();
  const s: TrimState = { base: rss0, last: rss0, at: Date.now() };
  let busy = false;
  let stopped = false;
  const timer = setInterval(() => {
    if (busy) return;
    const rss = process.memoryUsage.rss();
    const now = Date.now();
    if (shouldTrim(s, rss, now)) {
      busy = true;
      const t0 = performance.now();
      void mallocTrimAsync().then(() => {
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
