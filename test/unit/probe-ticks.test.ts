// TickClock (src/probe/ticks.ts) on a ManualClock, and on a clock whose timers fire
// late: timers coalesce on ticks (one base timer), time is quantised up and never
// goes back, the poll hook runs before the tick's timers, periodic timers keep
// their phase through a stall, stop() leaves nothing armed.
import t from 'tap';
import { ManualClock, type Clock, type Timer } from '../../src/util/clock.js';
import { TickClock } from '../../src/probe/ticks.js';

t.test('timers due within one tick fire together, from one base timer', async (t) => {
  const base = new ManualClock(1000);
  const tc = new TickClock(base, { tickMs: 5 });
  const fired: Array<[number, number]> = [];
  for (let i = 0; i < 50; i++) tc.setTimer(0.1 + (i % 10) * 0.45, () => fired.push([i, tc.now()]));
  t.equal(base.pending(), 1, 'one base timer for 50');
  t.equal(tc.pending(), 50);
  base.advance(4.9);
  t.equal(fired.length, 0, 'not before the tick');
  base.advance(0.1);
  t.equal(fired.length, 50, 'all at the tick');
  t.ok(fired.every(([, now]) => now === 1005), 'now() is the tick time');
  t.same(fired.map(([i]) => i), [...Array(50).keys()], 'in the order they were set (all due on one tick)');
  t.equal(base.pending(), 0, 'nothing armed when nothing is due');
});

t.test('now() is quantised up outside a tick and never goes back', async (t) => {
  const base = new ManualClock(1001);
  const tc = new TickClock(base, { tickMs: 5 });
  t.equal(tc.now(), 1005);
  t.equal(tc.exactNow(), 1001);
  base.advance(4);
  t.equal(tc.now(), 1005);
  base.advance(0.5);
  t.equal(tc.now(), 1010);
  let inside = 0;
  tc.setTimer(100, () => { inside = tc.now(); });
  base.advance(200);
  t.equal(inside, 1110, 'due 100 ms after the quantised now');
  const exact = new TickClock(new ManualClock(1001.25), { tickMs: 0 });
  t.equal(exact.now(), 1001.25, 'tickMs 0: not quantised');
});

t.test('timers in order of due time; zero-delay timers set in a tick run in that tick', async (t) => {
  const base = new ManualClock(0);
  const tc = new TickClock(base, { tickMs: 5 });
  const order: string[] = [];
  tc.setTimer(12, () => order.push('b@15'));
  tc.setTimer(3, () => { order.push('a@5'); tc.setTimer(0, () => order.push('a0@5')); tc.setTimer(5, () => order.push('a5@10')); });
  const c = tc.setTimer(7, () => order.push('c'));
  c.cancel();
  c.cancel();
  base.advance(100);
  t.same(order, ['a@5', 'a0@5', 'a5@10', 'b@15']);
  t.equal(tc.pending(), 0);
});

t.test('continuous: the hook runs every tick, before the timers of that tick; stop() disarms', async (t) => {
  const base = new ManualClock(0);
  const log: string[] = [];
  const tc = new TickClock(base, { tickMs: 5, continuous: true, beforeTick: () => log.push(`poll@${tc.now()}`) });
  tc.start();
  tc.setTimer(10, () => log.push(`timer@${tc.now()}`));
  base.advance(15);
  t.same(log, ['poll@5', 'poll@10', 'timer@10', 'poll@15']);
  tc.stop();
  t.equal(base.pending(), 0, 'nothing armed after stop');
  base.advance(100);
  t.equal(log.length, 4);
});

/** A clock whose timers fire only when told, possibly late (a busy event loop). */
class LateClock implements Clock {
  t = 0;
  private timers: Array<{ due: number; fn: () => void; live: boolean }> = [];
  now(): number { return this.t; }
  setTimer(ms: number, fn: () => void): Timer {
    const e = { due: this.t + Math.max(ms, 0), fn, live: true };
    this.timers.push(e);
    return { cancel: () => { e.live = false; } };
  }
  /** Jump to `t`, then fire what is due, each once, in due order. */
  runAt(t: number): void {
    this.t = t;
    for (;;) {
      const due = this.timers.filter((e) => e.live && e.due <= t).sort((a, b) => a.due - b.due);
      if (due.length === 0) return;
      const e = due[0]!;
      e.live = false;
      this.timers = this.timers.filter((x) => x !== e);
      e.fn();
    }
  }
}

t.test('a stall does not bunch periodic timers together: each keeps its phase', async (t) => {
  const base = new LateClock();
  const tc = new TickClock(base, { tickMs: 5 });
  const at = new Map<number, number[]>();
  for (let i = 0; i < 10; i++) {
    const fire = (): void => {
      at.set(i, [...(at.get(i) ?? []), tc.now()]);
      tc.setTimer(100, fire);
    };
    tc.setTimer(i * 10, fire);
  }
  // On time through 200 ms, then nothing runs until 437 (a 230 ms stall), then on time again.
  for (let x = 5; x <= 200; x += 5) base.runAt(x);
  base.runAt(437);
  for (let x = 440; x <= 1000; x += 5) base.runAt(x);
  const phases = [...at.entries()].map(([i, times]) => [i, new Set(times.filter((x) => x > 440).map((x) => x % 100))]);
  for (const [i, set] of phases) t.same([...(set as Set<number>)], [((i as number) * 10) % 100], `timer ${i} keeps its phase after the stall`);
  // During the stall each fired once (no burst of catch-up firings).
  for (const [i, times] of at) t.equal(times.filter((x) => x === 435).length, 1, `timer ${i}: once in the late tick`);
});
