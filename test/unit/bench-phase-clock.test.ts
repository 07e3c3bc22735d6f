// bench/lib/phase-clock.ts: the kernel counter's change time across re-seeds and
// the end of a bench phase (never negative, never before the phase's start).
import t from 'tap';
import { ChangeClock, phaseEnd } from '../../bench/lib/phase-clock.js';

t.test('events date changes; a re-seed that finds the same state keeps the last event time', async (t) => {
  const c = new ChangeClock();
  c.changed(100);
  c.changed(90); // out of order: never back
  t.equal(c.lastChangeAt, 100);
  c.seedStart('A');
  c.seedEnd(500, 'A');
  t.equal(c.lastChangeAt, 100);
  t.equal(c.epoch, 1);
  t.equal(c.repairs, 0);
});

t.test('a re-seed that finds another state dates the change at its end, not its start', async (t) => {
  const c = new ChangeClock();
  c.changed(100);
  c.seedStart('A'); // a dump starts at 200 ...
  // ... a phase starts at 300; the dump ends at 900 with the state the phase made
  c.seedEnd(900, 'B');
  t.equal(c.lastChangeAt, 900);
  t.equal(c.repairs, 1);
  t.equal(c.epoch, 1);
  const end = phaseEnd(300, { t0: 950, t1: c.lastChangeAt });
  t.same(end, { at: 900, stale: false });
});

t.test('events during a re-seed keep their times when later than its end', async (t) => {
  const c = new ChangeClock();
  c.seedStart('A');
  c.changed(400);
  c.seedEnd(350, 'A'); // clocks of the two sockets: the event is later
  t.equal(c.lastChangeAt, 400);
  c.seedStart('A');
  c.changed(600);
  c.seedEnd(700, 'B');
  t.equal(c.lastChangeAt, 700);
  t.equal(c.epoch, 2);
});

t.test('the old defect: a phase starting during a seed that ends with the same summary', async (t) => {
  // The withdraw with an alternative started at 1000 while a seed (started at 800)
  // ran; the seed found the summary it started from, so the change time stays 700:
  // the phase ends at the time the completing count was taken, flagged stale.
  const c = new ChangeClock();
  c.changed(700);
  c.seedStart('A');
  c.seedEnd(1200, 'A');
  const end = phaseEnd(1000, { t0: 1300, t1: c.lastChangeAt });
  t.same(end, { at: 1300, stale: true });
  t.ok(end.at - 1000 >= 0);
});

t.test('phaseEnd is never before since', async (t) => {
  for (const [since, t0, t1] of [[1000, 1500, 1400], [1000, 1500, 999], [1000, 1000, 0], [1000, 900, 800]] as const) {
    const e = phaseEnd(since, { t0, t1 });
    t.ok(e.at >= since, `since ${since} t0 ${t0} t1 ${t1} -> ${e.at}`);
    t.equal(e.stale, t1 < since);
  }
});
