// The prober's schedule (issue 9 §3): one Clock timer per tick instead of one per
// target per send. A TickClock is a Clock on top of another (the system clock, or a
// ManualClock in tests) whose timers fall due on tick boundaries (multiples of
// `tickMs` on the base clock's scale): a timer set `ms` from now fires at the first
// tick at or after now + ms, together with every other timer due on that tick, from
// one base-clock timer. With 2,000 targets at 10 requests/s and a 5 ms tick that is
// 200 wake-ups per second with ~55 requests each (which a batching transport then
// hands to the kernel in one sendmmsg), instead of 11,000 Node timers.
//
// Time as the state machine sees it (now()) is quantised to ticks, so deadlines
// computed from it stay on tick boundaries and fire exactly when due:
// * inside a tick, now() is that tick's time;
// * outside (a datagram handled by an event-driven transport, a setTargets call),
//   now() is the next tick boundary: rounding up, never down, so a deadline moves at
//   most one tick later than the exact one, never earlier (a path is never declared
//   down before multiplier x interval of silence).
// now() never goes backwards. `tickMs` 0 turns quantisation off (every timer at its
// exact due time, still one base timer for all).
//
// A late tick (a busy event loop, a GC pause) runs every timer due by then, with
// now() the tick's time. A timer set by a timer's callback counts its delay from
// the time that timer was due, not from now, like a periodic timer: a target's
// requests keep their phase, so the targets' requests stay spread over the
// interval instead of bunching up in the tick after every stall. (A delay that
// would end in the past skips to the next multiple of itself after now.)
//
// A transport that has no wake-up of its own (mmsg.ts reads its socket with
// recvmmsg when asked) is polled at the start of every tick, before any timer of
// the tick runs: a reply that sat in the socket is seen before a detection deadline
// on that tick is decided. Then the clock ticks continuously while started.
import type { Clock, Timer } from '../util/clock.js';

export interface TickClockOptions {
  /** Tick length in ms; 0: no quantisation. */
  tickMs: number;
  /** Called at the start of every tick, before the tick's timers. */
  beforeTick?: () => void;
  /** Tick every `tickMs` while started even when no timer is due (for beforeTick's polling). */
  continuous?: boolean;
}

class TickTimer implements Timer {
  live = true;
  constructor(readonly owner: TickClock, readonly due: number, readonly fn: () => void) {}
  cancel(): void {
    if (!this.live) return;
    this.live = false;
    this.owner.cancelled();
  }
}

export class TickClock implements Clock {
  readonly tickMs: number;
  private readonly beforeTick: (() => void) | undefined;
  private readonly continuous: boolean;
  /** Due time -> timers due then, in the order they were set. */
  private readonly buckets = new Map<number, TickTimer[]>();
  /** Due times of the buckets, a binary min-heap. */
  private readonly heap: number[] = [];
  private live = 0;
  private last = -Infinity;
  /** The tick being processed, or undefined outside one. */
  private inTick: number | undefined;
  /** Due time of the timer whose callback runs, or undefined. */
  private firing: number | undefined;
  private base: Timer | undefined;
  private baseDue = Infinity;
  private started = false;
  private readonly spare: TickTimer[][] = [];
  /** The bucket last added to (most timers of a tick go to the same due time): saves a Map lookup. */
  private lastDue = NaN;
  private lastBucket: TickTimer[] | undefined;

  constructor(private readonly clock: Clock, opts: TickClockOptions) {
    if (!(opts.tickMs >= 0) || !Number.isFinite(opts.tickMs)) throw new RangeError(`tickMs must be >= 0: ${opts.tickMs}`);
    this.tickMs = opts.tickMs;
    this.beforeTick = opts.beforeTick;
    this.continuous = (opts.continuous ?? false) && opts.tickMs > 0;
  }

  now(): number {
    let t: number;
    if (this.inTick !== undefined) t = this.inTick;
    else if (this.tickMs === 0) t = this.clock.now();
    else t = Math.ceil(this.clock.now() / this.tickMs) * this.tickMs;
    if (t < this.last) t = this.last;
    this.last = t;
    return t;
  }

  /** The base clock's time, unquantised (for round-trip times and the wire). */
  exactNow(): number {
    return this.clock.now();
  }

  setTimer(ms: number, fn: () => void): Timer {
    if (Number.isNaN(ms)) throw new RangeError('timer delay is NaN');
    const now = this.now();
    let at = now + (ms > 0 ? ms : 0);
    if (this.firing !== undefined && this.firing < now && ms > 0) {
      // Set by a late timer's callback: from that timer's due time (the phase is kept).
      at = this.firing + ms;
      if (at <= now) at += (Math.floor((now - at) / ms) + 1) * ms;
    }
    const due = this.tickMs === 0 ? at : Math.ceil(at / this.tickMs) * this.tickMs;
    const t = new TickTimer(this, due, fn);
    let b = due === this.lastDue ? this.lastBucket : this.buckets.get(due);
    if (b === undefined) {
      b = this.spare.pop() ?? [];
      this.buckets.set(due, b);
      heapPush(this.heap, due);
    }
    this.lastDue = due;
    this.lastBucket = b;
    b.push(t);
    this.live++;
    if (this.inTick === undefined) this.armBase();
    return t;
  }

  /** Start ticking continuously (with options.continuous). */
  start(): void {
    this.started = true;
    this.armBase();
  }

  /** Stop ticking; timers still set fire only if set again after start(). */
  stop(): void {
    this.started = false;
    this.base?.cancel();
    this.base = undefined;
    this.baseDue = Infinity;
    if (this.live > 0) this.armBase();
  }

  /** Timers set and neither fired nor cancelled. */
  pending(): number {
    return this.live;
  }

  /** @internal a TickTimer was cancelled. */
  cancelled(): void {
    this.live--;
    if (this.live === 0 && this.inTick === undefined && !(this.continuous && this.started)) {
      this.base?.cancel();
      this.base = undefined;
      this.baseDue = Infinity;
    }
  }

  private nextDue(): number {
    let due = this.live > 0 ? (this.heap[0] ?? Infinity) : Infinity;
    if (this.continuous && this.started) {
      const next = Math.max((Math.floor(this.clock.now() / this.tickMs) + 1) * this.tickMs, this.last + this.tickMs);
      if (next < due) due = next;
    }
    return due;
  }

  private armBase(): void {
    const due = this.nextDue();
    if (due === this.baseDue && this.base !== undefined) return;
    this.base?.cancel();
    this.base = undefined;
    this.baseDue = due;
    if (due === Infinity) return;
    this.base = this.clock.setTimer(due - this.clock.now(), () => {
      this.base = undefined;
      this.baseDue = Infinity;
      this.tick(due);
    });
  }

  private tick(scheduled: number): void {
    // Late (a busy event loop): every tick up to now is processed at once, as now.
    const exact = this.clock.now();
    const t = this.tickMs === 0 ? Math.max(scheduled, exact) : Math.max(scheduled, Math.floor(exact / this.tickMs) * this.tickMs);
    this.inTick = Math.max(t, this.last);
    try {
      this.beforeTick?.();
      const heap = this.heap;
      while (heap.length > 0 && heap[0]! <= this.inTick) {
        const due = heapPop(heap);
        const b = this.buckets.get(due)!;
        this.buckets.delete(due);
        if (this.lastBucket === b) {
          this.lastDue = NaN;
          this.lastBucket = undefined;
        }
        // Timers set by these callbacks for this tick go to a new bucket, run by this loop.
        for (let i = 0; i < b.length; i++) {
          const timer = b[i]!;
          if (!timer.live) continue;
          timer.live = false;
          this.live--;
          this.firing = due;
          timer.fn();
        }
        b.length = 0;
        if (this.spare.length < 64) this.spare.push(b);
      }
    } finally {
      this.last = this.inTick;
      this.inTick = undefined;
      this.firing = undefined;
      this.armBase();
    }
  }
}

function heapPush(h: number[], v: number): void {
  let i = h.length;
  h.push(v);
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (h[p]! <= v) break;
    h[i] = h[p]!;
    i = p;
  }
  h[i] = v;
}

function heapPop(h: number[]): number {
  const top = h[0]!;
  const last = h.pop()!;
  if (h.length > 0) {
    let i = 0;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && h[r]! < h[l]! ? r : l;
      if (h[c]! >= last) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
  }
  return top;
}
