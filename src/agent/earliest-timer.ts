// A one-shot timer that keeps the earliest time asked of it: a request for a later
// time while one is pending changes nothing, an earlier one re-arms it. Used to
// batch work (kernel flushes, link reads, lingering entries) without delaying it.
import type { Clock, Timer } from '../util/clock.js';

export class EarliestTimer {
  private timer: Timer | null = null;
  private due = Infinity;

  constructor(private readonly clock: Clock, private readonly fire: () => void) {}

  /** Fire `delay` ms from now, unless already due by then. */
  after(delay: number): void {
    this.arm(this.clock.now() + delay, delay);
  }

  /** Fire at clock time `due`, unless already due by then. */
  at(due: number): void {
    this.arm(due, due - this.clock.now());
  }

  cancel(): void {
    this.timer?.cancel();
    this.timer = null;
    this.due = Infinity;
  }

  private arm(due: number, delay: number): void {
    if (this.timer && this.due <= due) return;
    this.timer?.cancel();
    this.due = due;
    this.timer = this.clock.setTimer(delay, () => {
      this.timer = null;
      this.due = Infinity;
      this.fire();
    });
  }
}
