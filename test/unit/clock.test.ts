import t from 'tap';
import { ManualClock, createSystemClock, systemClock } from '../../src/util/clock.js';

t.test('ManualClock fires due timers in time order, with now() at the due time', (t) => {
  const c = new ManualClock(1000);
  const log: Array<[string, number]> = [];
  c.setTimer(30, () => log.push(['c', c.now()]));
  c.setTimer(10, () => log.push(['a', c.now()]));
  c.setTimer(20, () => log.push(['b', c.now()]));
  t.equal(c.pending(), 3);
  c.advance(25);
  t.same(log, [['a', 1010], ['b', 1020]]);
  t.equal(c.now(), 1025);
  t.equal(c.pending(), 1);
  c.advance(5);
  t.same(log.at(-1), ['c', 1030]);
  t.equal(c.pending(), 0);
  t.end();
});

t.test('ties fire in the order set; zero delay fires on advance(0)', (t) => {
  const c = new ManualClock();
  const log: string[] = [];
  c.setTimer(5, () => log.push('1'));
  c.setTimer(5, () => log.push('2'));
  c.setTimer(0, () => log.push('0'));
  c.setTimer(-3, () => log.push('neg'));
  c.advance(0);
  t.same(log, ['0', 'neg']);
  c.advance(5);
  t.same(log, ['0', 'neg', '1', '2']);
  t.end();
});

t.test('timers set by callbacks fire within the same advance when due', (t) => {
  const c = new ManualClock();
  const at: number[] = [];
  const tick = (): void => {
    at.push(c.now());
    c.setTimer(100, tick);
  };
  c.setTimer(100, tick);
  c.advance(350);
  t.same(at, [100, 200, 300]);
  t.equal(c.pending(), 1);
  t.equal(c.nextDueAt(), 400);
  t.equal(c.now(), 350);
  t.end();
});

t.test('a callback scheduling an earlier timer than the next pending one', (t) => {
  const c = new ManualClock();
  const log: string[] = [];
  c.setTimer(10, () => {
    log.push(`a@${c.now()}`);
    c.setTimer(5, () => log.push(`b@${c.now()}`));
  });
  c.setTimer(20, () => log.push(`c@${c.now()}`));
  c.advance(100);
  t.same(log, ['a@10', 'b@15', 'c@20']);
  t.end();
});

t.test('cancel: before firing, twice, after firing, from another callback', (t) => {
  const c = new ManualClock();
  let fired = 0;
  const a = c.setTimer(10, () => fired++);
  a.cancel();
  a.cancel();
  t.equal(c.pending(), 0);
  const b = c.setTimer(10, () => fired++);
  const d = c.setTimer(20, () => fired++);
  c.setTimer(15, () => d.cancel());
  c.advance(30);
  t.equal(fired, 1);
  b.cancel();
  t.equal(c.pending(), 0);
  t.end();
});

t.test('runNext jumps to the next timer; advance rejects negative; runaway loop is an error', (t) => {
  const c = new ManualClock();
  t.equal(c.runNext(), false);
  let n = 0;
  c.setTimer(42, () => n++);
  t.equal(c.runNext(), true);
  t.equal(c.now(), 42);
  t.equal(n, 1);
  t.throws(() => c.advance(-1), RangeError);
  t.throws(() => c.setTimer(NaN, () => {}), RangeError);
  const loop = (): void => { c.setTimer(0, loop); };
  c.maxFiresPerAdvance = 100;
  c.setTimer(0, loop);
  t.throws(() => c.advance(0), /more than 100 timers/);
  t.end();
});

t.test('systemClock: monotonic now(); timers can be set and cancelled (no real waiting)', (t) => {
  const a = systemClock.now();
  const b = systemClock.now();
  t.ok(b >= a);
  const c = createSystemClock({ unref: true });
  c.setTimer(1, () => t.fail('cancelled timer fired')).cancel();
  c.setTimer(2 ** 31 + 5, () => t.fail('long timer fired')).cancel();
  c.setTimer(Infinity, () => t.fail('infinite timer fired')).cancel();
  t.throws(() => c.setTimer(NaN, () => {}), RangeError);
  t.end();
});
