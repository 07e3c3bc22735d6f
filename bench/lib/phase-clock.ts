// Timing of bench phases from the kernel counter (bench/lib/kcount-child.ts), robust
// to the counter's re-seeds. Pure: the times are passed in.
//
// The counter keeps its state from rtnetlink events and re-seeds it with a dump
// when its event socket overflows (or events went missing). A dump is a snapshot,
// not a list of changes: the state it finds was reached at some time before the
// dump ended, unknown. So a re-seed that finds another state dates the change at
// the dump's end (late, never early), and one that finds the same state keeps the
// time of the last change seen before. Each re-seed bumps an epoch.
//
// A phase (install, failover, withdraw ...) starts at `since` and ends at the
// change time (t1) of the count that completes it. A t1 before `since` means the
// counted state had not moved since before the phase although the phase moved it:
// the count was stale (events lost, a seed under way when the phase began). Such a
// phase ends at the time the completing count was taken (t0: late, never early),
// so no figure is negative or earlier than its phase's start.

/** When the counted state last changed, kept across re-seeds. */
export class ChangeClock {
  /** Time of the last change (an event; or the end of a re-seed that found another state). */
  lastChangeAt = 0;
  /** Re-seeds completed. */
  epoch = 0;
  /** Re-seeds that found another state than the events had built (events lost). */
  repairs = 0;
  private seed: { changedAt: number; signature: string } | null = null;

  /** An event changed the counted state at `now`. */
  changed(now: number): void {
    if (now > this.lastChangeAt) this.lastChangeAt = now;
  }

  /** A re-seed starts: `signature` summarises the state the events had built. */
  seedStart(signature: string): void {
    this.seed = { changedAt: this.lastChangeAt, signature };
  }

  /**
   * The re-seed's dumps ended at `now` with the state summarised by `signature`.
   * Events seen during the dumps keep their times; the dumped entries have none.
   */
  seedEnd(now: number, signature: string): void {
    const s = this.seed;
    this.seed = null;
    this.epoch++;
    if (s === null) return;
    if (signature !== s.signature) {
      this.repairs++;
      this.lastChangeAt = Math.max(this.lastChangeAt, now);
    }
  }

  get seeding(): boolean { return this.seed !== null; }
}

export interface PhaseStamp {
  /** When the count was taken. */
  t0: number;
  /** When the counted state last changed. */
  t1: number;
}

export interface PhaseEnd {
  /** End of the phase: never before `since`. */
  at: number;
  /** True when the completing count was stale and `at` is the time it was taken. */
  stale: boolean;
}

/** End of a phase started at `since`, from the count that completed it. */
export function phaseEnd(since: number, c: PhaseStamp): PhaseEnd {
  if (c.t1 >= since) return { at: c.t1, stale: false };
  return { at: Math.max(c.t0, since), stale: true };
}
