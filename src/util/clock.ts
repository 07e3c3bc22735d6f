// An injectable clock. Protocol code (BGP FSM, BFD, probes) never calls
// Date.now/setTimeout directly: the shell gets a Clock, tests get a ManualClock
// and make time pass with advance(), so a 9 s hold timer fires in microseconds.

/** A scheduled callback. cancel() is idempotent and safe after it fired. */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds on a monotonic scale (not wall time; only differences mean anything). */
  now(): number;
  /** Run `fn` once after `ms` milliseconds (negative or fractional values are allowed; < 0 means 0). */
  setTimer(ms: number, fn: () => void): Timer;
}

export interface SystemClockOptions {
  /** unref() each timer so pending timers alone do not keep the process alive. Default false. */
  unref?: boolean;
}

/** setTimeout's largest delay; longer ones would fire after 1 ms, so they are chained. */
const MAX_TIMEOUT_MS = 0x7fffffff;

function checkDelay(ms: number): number {
  if (Number.isNaN(ms)) throw new RangeError('timer delay is NaN');
  return ms < 0 ? 0 : ms;
}

/** A Clock on performance.now() and setTimeout. */
export function createSystemClock(opts: SystemClockOptions = {}): Clock {
  const unref = opts.unref ?? false;
  return {
    now: () => performance.now(),
    setTimer(ms: number, fn: () => void): Timer {
      let remaining = checkDelay(ms);
      let handle: NodeJS.Timeout | undefined;
      let cancelled = false;
      const arm = (): void => {
        const step = Math.min(remaining, MAX_TIMEOUT_MS);
        remaining -= step;
        handle = setTimeout(() => {
          handle = undefined;
          if (cancelled) return;
          if (remaining > 0) arm();
          else fn();
        }, step);
        if (unref) handle.unref();
      };
      if (remaining === Infinity) return { cancel: () => { cancelled = true; } };
      arm();
      return {
        cancel(): void {
          cancelled = true;
          if (handle !== undefined) clearTimeout(handle);
          handle = undefined;
        },
      };
    },
  };
}

/** The process-wide real clock (timers keep the process alive, like setTimeout). */
export const systemClock: Clock = createSystemClock();

interface ManualEntry {
  due: number;
  seq: number;
  fn: () => void;
  live: boolean;
}

/**
 * A Clock for tests: time moves only when advance() is called. Timers fire in
 * due-time order (ties in the order they were set), with now() equal to their due
 * time, and timers set by callbacks during advance() fire in the same call when
 * they fall due within it.
 */
export class ManualClock implements Clock {
  private t: number;
  private seq = 0;
  private entries: ManualEntry[] = [];
  /** Upper bound on callbacks fired by one advance(), to turn a zero-delay loop into an error. */
  maxFiresPerAdvance = 1_000_000;

  constructor(start = 0) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimer(ms: number, fn: () => void): Timer {
    const entry: ManualEntry = { due: this.t + checkDelay(ms), seq: this.seq++, fn, live: true };
    this.entries.push(entry);
    return {
      cancel: (): void => {
        if (!entry.live) return;
        entry.live = false;
        const i = this.entries.indexOf(entry);
        if (i >= 0) this.entries.splice(i, 1);
      },
    };
  }

  /** Move time forward by `ms`, firing every timer due by then (also those the callbacks set). */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`advance(${ms}): must be >= 0`);
    const target = this.t + ms;
    let fired = 0;
    for (;;) {
      const next = this.nextDue();
      if (next === undefined || next.due > target) break;
      if (++fired > this.maxFiresPerAdvance) {
        throw new Error(`ManualClock: more than ${this.maxFiresPerAdvance} timers fired in one advance()`);
      }
      this.entries.splice(this.entries.indexOf(next), 1);
      next.live = false;
      this.t = Math.max(this.t, next.due);
      next.fn();
    }
    this.t = target;
  }

  /** Advance exactly to the next pending timer and fire everything due then; returns false if none. */
  runNext(): boolean {
    const next = this.nextDue();
    if (next === undefined) return false;
    this.advance(next.due - this.t);
    return true;
  }

  /** Number of timers set and neither fired nor cancelled. */
  pending(): number {
    return this.entries.length;
  }

  /** Due time of the earliest pending timer, or undefined. */
  nextDueAt(): number | undefined {
    return this.nextDue()?.due;
  }

  private nextDue(): ManualEntry | undefined {
    let best: ManualEntry | undefined;
    for (const e of this.entries) {
      if (best === undefined || e.due < best.due || (e.due === best.due && e.seq < best.seq)) best = e;
    }
    return best;
  }
}
