// The per-target VTEP probe state machine (src/probe/fsm.ts) without a prober,
// clock or transport: one row per (state, input), the expected state and the exact
// actions. Timer expiries are ordinary inputs.
import t from 'tap';
import { ManualClock, type Timer } from '../../src/util/clock.js';
import {
  createProbeFsm,
  isEligible,
  step,
  type ProbeAction,
  type ProbeFsm,
  type ProbeInput,
  type ProbeState,
  type ProbeTimerName,
  type ProbeTransitionReason,
  type ProberTimers,
} from '../../src/probe/fsm.js';

const T: ProberTimers = { interval: 100, multiplier: 3, holdDown: 3000, idleInterval: 1000 };

/** A probing, active target created at 0, with `patch` on top. */
function st(patch: Partial<ProbeFsm> = {}): ProbeFsm {
  return { ...createProbeFsm(0, true), probing: true, ...patch };
}

/** An answering target: a reply at 900 with a 2 ms RTT, detection deadline 1200 (active). */
const answered: Partial<ProbeFsm> = { rttMs: 2, srttMs: 2, lastReplyAt: 900, detectAt: 1200, detectArmed: true };

const arm = (timer: ProbeTimerName, at: number, ms: number): ProbeAction => ({ type: 'arm', timer, at, ms });
const cancel = (timer: ProbeTimerName): ProbeAction => ({ type: 'cancel', timer });
const send: ProbeAction = { type: 'send' };
function transition(from: ProbeState, to: ProbeState, reason: ProbeTransitionReason, rttMs: number | undefined): ProbeAction {
  return { type: 'transition', from, to, reason, eligible: isEligible(to), rttMs };
}

interface Row {
  name: string;
  from: ProbeFsm;
  input: ProbeInput;
  now: number;
  timers?: ProberTimers;
  /** Fields of the resulting state that must have these values (the rest must be unchanged unless listed). */
  state: Partial<ProbeFsm>;
  actions: ProbeAction[];
  /** The result is a fresh target (new-path): compare with createProbeFsm instead of `from`. */
  fresh?: boolean;
}

const rows: Row[] = [
  // --- start / stop / sending --------------------------------------------------
  {
    name: 'start: first request jitter x interval from now',
    from: st({ probing: false }), input: { type: 'start', jitter: 0.5 }, now: 1000,
    state: { probing: true }, actions: [arm('send', 1050, 50)],
  },
  {
    name: 'start: jitter clamped to [0, 1]',
    from: st({ probing: false }), input: { type: 'start', jitter: 7 }, now: 1000,
    state: { probing: true }, actions: [arm('send', 1100, 100)],
  },
  {
    name: 'start: an idle target also starts within one (fast) interval',
    from: st({ probing: false, active: false }), input: { type: 'start', jitter: -1 }, now: 1000,
    state: { probing: true }, actions: [arm('send', 1000, 0)],
  },
  {
    name: 'start: already probing, nothing to do',
    from: st(), input: { type: 'start', jitter: 0.5 }, now: 1000,
    state: {}, actions: [],
  },
  {
    name: 'send-due, active: next request after interval, then this one',
    from: st(), input: { type: 'send-due' }, now: 1000,
    state: {}, actions: [arm('send', 1100, 100), send],
  },
  {
    name: 'send-due, idle: next request after idleInterval',
    from: st({ active: false }), input: { type: 'send-due' }, now: 1000,
    state: {}, actions: [arm('send', 2000, 1000), send],
  },
  {
    name: 'stop: every armed timer cancelled, the state kept',
    from: st({ ...answered, state: 'holddown', holdArmed: true }), input: { type: 'stop' }, now: 1000,
    state: { probing: false, detectArmed: false, holdArmed: false }, actions: [cancel('send'), cancel('detect'), cancel('hold')],
  },

  // --- replies -------------------------------------------------------------------
  {
    name: 'reply in unknown: up (first-reply), active detection window multiplier x interval',
    from: st(), input: { type: 'reply', rttMs: 2 }, now: 1000,
    state: { state: 'up', since: 1000, rttMs: 2, srttMs: 2, lastReplyAt: 1000, detectAt: 1300, detectArmed: true },
    actions: [arm('detect', 1300, 300), transition('unknown', 'up', 'first-reply', 2)],
  },
  {
    name: 'reply in unknown, idle: detection window multiplier x idleInterval',
    from: st({ active: false }), input: { type: 'reply', rttMs: 2 }, now: 1000,
    state: { state: 'up', since: 1000, rttMs: 2, srttMs: 2, lastReplyAt: 1000, detectAt: 4000, detectArmed: true },
    actions: [arm('detect', 4000, 3000), transition('unknown', 'up', 'first-reply', 2)],
  },
  {
    name: 'reply in up: the deadline moves, the armed timer stays (lazy), SRTT smoothed by 1/8',
    from: st({ ...answered, state: 'up' }), input: { type: 'reply', rttMs: 10 }, now: 1000,
    state: { rttMs: 10, srttMs: 3, lastReplyAt: 1000, detectAt: 1300 }, actions: [],
  },
  {
    name: 'reply in up, idle: the deadline moves by multiplier x idleInterval',
    from: st({ ...answered, state: 'up', active: false }), input: { type: 'reply', rttMs: 2 }, now: 1000,
    state: { lastReplyAt: 1000, detectAt: 4000 }, actions: [],
  },
  {
    name: 'reply in down: holddown (reply-after-down), hold-down armed',
    from: st({ ...answered, state: 'down', detectArmed: false }), input: { type: 'reply', rttMs: 4 }, now: 5000,
    state: { state: 'holddown', since: 5000, rttMs: 4, srttMs: 2.25, lastReplyAt: 5000, detectAt: 5300, detectArmed: true, holdArmed: true },
    actions: [arm('detect', 5300, 300), transition('down', 'holddown', 'reply-after-down', 4), arm('hold', 8000, 3000)],
  },
  {
    name: 'reply in down, idle: holddown at the fast rate (the failback path: a flap must be seen within multiplier x interval)',
    from: st({ ...answered, state: 'down', detectArmed: false, active: false }), input: { type: 'reply', rttMs: 4 }, now: 5000,
    state: { state: 'holddown', since: 5000, rttMs: 4, srttMs: 2.25, lastReplyAt: 5000, detectAt: 5300, detectArmed: true, holdArmed: true },
    actions: [
      arm('detect', 5300, 300), transition('down', 'holddown', 'reply-after-down', 4), arm('hold', 8000, 3000),
      cancel('send'), arm('send', 5100, 100),
    ],
  },
  {
    name: 'send-due, idle in holddown: next request after interval',
    from: st({ active: false, state: 'holddown' }), input: { type: 'send-due' }, now: 1000,
    state: {}, actions: [arm('send', 1100, 100), send],
  },
  {
    name: 'reply in down, holdDown 0: straight up (reply-after-down)',
    from: st({ ...answered, state: 'down', detectArmed: false }), input: { type: 'reply', rttMs: 2 }, now: 5000,
    timers: { ...T, holdDown: 0 },
    state: { state: 'up', since: 5000, lastReplyAt: 5000, detectAt: 5300, detectArmed: true },
    actions: [arm('detect', 5300, 300), transition('down', 'up', 'reply-after-down', 2)],
  },
  {
    name: 'reply in down for a remembered target (never replied in this life): holddown',
    from: { ...createProbeFsm(0, true, 'down'), probing: true }, input: { type: 'reply', rttMs: 2 }, now: 100,
    state: { state: 'holddown', since: 100, rttMs: 2, srttMs: 2, lastReplyAt: 100, detectAt: 400, detectArmed: true, holdArmed: true },
    actions: [arm('detect', 400, 300), transition('down', 'holddown', 'reply-after-down', 2), arm('hold', 3100, 3000)],
  },
  {
    name: 'reply in holddown: no change, the deadline moves',
    from: st({ ...answered, state: 'holddown', holdArmed: true }), input: { type: 'reply', rttMs: 2 }, now: 1000,
    state: { lastReplyAt: 1000, detectAt: 1300 }, actions: [],
  },

  // --- detection deadline ----------------------------------------------------------
  {
    name: 'detect-due before the deadline (replies moved it): re-armed for the remainder',
    from: st({ ...answered, state: 'up' }), input: { type: 'detect-due' }, now: 1100,
    state: {}, actions: [arm('detect', 1200, 100)],
  },
  {
    name: 'detect-due at the deadline in up: down (detect-timeout)',
    from: st({ ...answered, state: 'up' }), input: { type: 'detect-due' }, now: 1200,
    state: { state: 'down', since: 1200, detectArmed: false },
    actions: [transition('up', 'down', 'detect-timeout', 2)],
  },
  {
    name: 'detect-due at the deadline in holddown: hold-down cancelled, down (detect-timeout)',
    from: st({ ...answered, state: 'holddown', holdArmed: true }), input: { type: 'detect-due' }, now: 1200,
    state: { state: 'down', since: 1200, detectArmed: false, holdArmed: false },
    actions: [cancel('hold'), transition('holddown', 'down', 'detect-timeout', 2)],
  },
  {
    name: 'detect-due in down: nothing more to detect',
    from: st({ ...answered, state: 'down' }), input: { type: 'detect-due' }, now: 1200,
    state: { detectArmed: false }, actions: [],
  },
  {
    name: 'detect-due in unknown: never answered, stays unknown',
    from: st({ detectAt: 1200, detectArmed: true }), input: { type: 'detect-due' }, now: 1200,
    state: { detectArmed: false }, actions: [],
  },

  // --- hold-down -----------------------------------------------------------------
  {
    name: 'hold-due in holddown: up (holddown-expired)',
    from: st({ ...answered, state: 'holddown', holdArmed: true }), input: { type: 'hold-due' }, now: 1100,
    state: { state: 'up', since: 1100, holdArmed: false },
    actions: [transition('holddown', 'up', 'holddown-expired', 2)],
  },
  {
    name: 'hold-due outside holddown: nothing',
    from: st({ ...answered, state: 'down', holdArmed: true }), input: { type: 'hold-due' }, now: 1100,
    state: { holdArmed: false }, actions: [],
  },

  // --- activation -----------------------------------------------------------------
  {
    name: 'set-active true: a request at once and one fast detection window from now (not from the idle deadline)',
    from: st({ ...answered, state: 'up', active: false, detectAt: 3900 }), input: { type: 'set-active', active: true }, now: 1000,
    state: { active: true, detectAt: 1300 },
    actions: [cancel('send'), arm('send', 1000, 0), cancel('detect'), arm('detect', 1300, 300)],
  },
  {
    name: 'set-active true without a detect timer (never answered): a request at once',
    from: st({ active: false }), input: { type: 'set-active', active: true }, now: 1000,
    state: { active: true }, actions: [cancel('send'), arm('send', 1000, 0)],
  },
  {
    name: 'set-active true while not probing: remembered for later, nothing armed',
    from: st({ ...answered, state: 'up', active: false, probing: false, detectArmed: false }), input: { type: 'set-active', active: true }, now: 1000,
    state: { active: true }, actions: [],
  },
  {
    name: 'set-active false: the slower rate from the next request on, the deadline untouched',
    from: st({ ...answered, state: 'up' }), input: { type: 'set-active', active: false }, now: 1000,
    state: { active: false }, actions: [],
  },
  {
    name: 'set-active unchanged: nothing',
    from: st({ ...answered, state: 'up', active: false }), input: { type: 'set-active', active: false }, now: 1000,
    state: {}, actions: [],
  },

  // --- removal and new paths -------------------------------------------------------
  {
    name: 'removed in up: timers cancelled, down (target-removed), to be remembered',
    from: st({ ...answered, state: 'up' }), input: { type: 'removed' }, now: 1000,
    state: { state: 'down', since: 1000, probing: false, detectArmed: false },
    actions: [cancel('send'), cancel('detect'), transition('up', 'down', 'target-removed', 2)],
  },
  {
    name: 'removed in holddown: ineligible already, no event; remembered as down',
    from: st({ ...answered, state: 'holddown', holdArmed: true }), input: { type: 'removed' }, now: 1000,
    state: { state: 'down', probing: false, detectArmed: false, holdArmed: false },
    actions: [cancel('send'), cancel('detect'), cancel('hold')],
  },
  {
    name: 'removed in down: no event, remembered as down',
    from: st({ ...answered, state: 'down', detectArmed: false }), input: { type: 'removed' }, now: 1000,
    state: { probing: false }, actions: [cancel('send')],
  },
  {
    name: 'removed in unknown: no event, forgotten (stays unknown)',
    from: st(), input: { type: 'removed' }, now: 1000,
    state: { probing: false }, actions: [cancel('send')],
  },
  {
    name: 'new-path in down: unknown (new-path), a fresh target',
    from: st({ ...answered, state: 'down', detectArmed: false }), input: { type: 'new-path' }, now: 1000,
    fresh: true, state: {}, actions: [cancel('send'), transition('down', 'unknown', 'new-path', 2)],
  },
  {
    name: 'new-path in holddown: unknown (new-path), a fresh target',
    from: st({ ...answered, state: 'holddown', holdArmed: true }), input: { type: 'new-path' }, now: 1000,
    fresh: true, state: {}, actions: [cancel('send'), cancel('detect'), cancel('hold'), transition('holddown', 'unknown', 'new-path', 2)],
  },
  {
    name: 'new-path for a remembered target (not probing yet): down -> unknown',
    from: createProbeFsm(1000, true, 'down'), input: { type: 'new-path' }, now: 1000,
    fresh: true, state: {}, actions: [transition('down', 'unknown', 'new-path', undefined)],
  },
  {
    name: 'new-path in up: eligible before and after, no event',
    from: st({ ...answered, state: 'up' }), input: { type: 'new-path' }, now: 1000,
    fresh: true, state: {}, actions: [cancel('send'), cancel('detect')],
  },
  {
    name: 'new-path in unknown: no event',
    from: st({ active: false }), input: { type: 'new-path' }, now: 1000,
    fresh: true, state: { active: false }, actions: [cancel('send')],
  },
];

function deepFreeze<X>(x: X): X {
  if (typeof x === 'object' && x !== null) {
    for (const v of Object.values(x)) deepFreeze(v);
    Object.freeze(x);
  }
  return x;
}

const TIMER_OF: Partial<Record<ProbeInput['type'], ProbeTimerName>> = { 'send-due': 'send', 'detect-due': 'detect', 'hold-due': 'hold' };

for (const row of rows) {
  t.test(row.name, async (t) => {
    const from = deepFreeze({ ...row.from });
    const r = step(from, deepFreeze({ ...row.input }), row.now, deepFreeze({ ...(row.timers ?? T) }));
    const base = row.fresh ? createProbeFsm(row.now, from.active) : from;
    t.same(r.state, { ...base, ...row.state }, 'state');
    t.same(r.actions, row.actions, 'actions');
    t.same(step(from, row.input, row.now, row.timers ?? T), r, 'pure: the same arguments, the same result');

    // The armed flags follow the timer actions: a due input means that timer has fired.
    const armed: Record<ProbeTimerName, boolean> = { send: from.probing, detect: from.detectArmed, hold: from.holdArmed };
    const fired = TIMER_OF[row.input.type];
    if (fired !== undefined) armed[fired] = false;
    for (const a of r.actions) {
      if (a.type === 'arm') {
        t.equal(a.ms, a.at - row.now, `arm ${a.timer}: ms is the delay to at`);
        armed[a.timer] = true;
      } else if (a.type === 'cancel') {
        t.ok(armed[a.timer], `cancel ${a.timer}: only an armed timer`);
        armed[a.timer] = false;
      }
    }
    t.same(armed, { send: r.state.probing, detect: r.state.detectArmed, hold: r.state.holdArmed }, 'armed flags match the actions');

    // A transition says where the state went, and eligibility is the state's.
    const moves = r.actions.filter((a) => a.type === 'transition');
    t.ok(moves.length <= 1, 'at most one transition per step');
    for (const m of moves) {
      t.equal(m.from, from.state);
      t.equal(m.to, r.state.state);
      t.equal(m.eligible, isEligible(m.to));
    }
    if (moves.length === 0 && r.state.state !== from.state) {
      // Removal (holddown -> down) and new paths (up -> unknown): listeners would learn nothing.
      t.equal(isEligible(r.state.state), isEligible(from.state), 'a change without a transition keeps eligibility');
      t.ok(row.input.type === 'removed' || row.input.type === 'new-path', 'only when the target ends');
    }
  });
}

t.test('the table covers every input, every transition reason and every edge', async (t) => {
  const inputs: Record<ProbeInput['type'], true> = {
    start: true, stop: true, 'set-active': true, reply: true, 'send-due': true, 'detect-due': true, 'hold-due': true, removed: true, 'new-path': true,
  };
  const reasons: Record<ProbeTransitionReason, true> = {
    'first-reply': true, 'detect-timeout': true, 'reply-after-down': true, 'holddown-expired': true, 'target-removed': true, 'new-path': true,
  };
  t.same(new Set(rows.map((r) => r.input.type)), new Set(Object.keys(inputs)), 'inputs');
  const seen = rows.flatMap((r) => r.actions).flatMap((a) => (a.type === 'transition' ? [a] : []));
  t.same(new Set(seen.map((a) => a.reason)), new Set(Object.keys(reasons)), 'reasons');
  t.same(new Set(seen.map((a) => `${a.from}->${a.to}:${a.reason}`)), new Set([
    'unknown->up:first-reply',
    'up->down:detect-timeout', 'holddown->down:detect-timeout',
    'down->holddown:reply-after-down', 'down->up:reply-after-down',
    'holddown->up:holddown-expired',
    'up->down:target-removed',
    'down->unknown:new-path', 'holddown->unknown:new-path',
  ]), 'edges');
  const states: ProbeState[] = ['unknown', 'up', 'down', 'holddown'];
  t.same(states.filter(isEligible), ['unknown', 'up']);
});

/** Feed `steps` to one target; returns the transitions with their times. */
function run(s: ProbeFsm, steps: Array<[number, ProbeInput]>, timers: ProberTimers = T): { state: ProbeFsm; moves: string[]; actions: ProbeAction[][] } {
  const moves: string[] = [];
  const actions: ProbeAction[][] = [];
  for (const [now, input] of steps) {
    const r = step(s, input, now, timers);
    s = r.state;
    actions.push(r.actions);
    for (const a of r.actions) if (a.type === 'transition') moves.push(`${now} ${a.from}->${a.to} ${a.reason}`);
  }
  return { state: s, moves, actions };
}

t.test('idle vs active detection windows, and activation giving a fast window', async (t) => {
  // Idle: replies every second keep it up; silence is found 3 s after the last reply.
  const idle = run(st({ active: false }), [
    [1000, { type: 'reply', rttMs: 1 }], [2000, { type: 'reply', rttMs: 1 }],
    [4000, { type: 'detect-due' }], [5000, { type: 'detect-due' }],
  ]);
  t.same(idle.moves, ['1000 unknown->up first-reply', '5000 up->down detect-timeout']);
  t.same(idle.actions[2], [arm('detect', 5000, 1000)], 'the first expiry comes early and re-arms for the remainder');

  // The same silence on an active target is found 300 ms after the last reply.
  const active = run(st(), [[1000, { type: 'reply', rttMs: 1 }], [1300, { type: 'detect-due' }]]);
  t.same(active.moves, ['1000 unknown->up first-reply', '1300 up->down detect-timeout']);

  // Idle, last reply at 1000 (deadline 4000); activated at 1500: down at 1800, not 4000.
  const act = run(st({ active: false }), [
    [1000, { type: 'reply', rttMs: 1 }], [1500, { type: 'set-active', active: true }], [1800, { type: 'detect-due' }],
  ]);
  t.same(act.moves, ['1000 unknown->up first-reply', '1800 up->down detect-timeout']);
  // Activated and answering: the fast window moves with each reply, no false down.
  const ok = run(st({ active: false }), [
    [1000, { type: 'reply', rttMs: 1 }], [1500, { type: 'set-active', active: true }], [1502, { type: 'reply', rttMs: 2 }],
    [1602, { type: 'reply', rttMs: 2 }], [1702, { type: 'reply', rttMs: 2 }], [1800, { type: 'detect-due' }],
  ]);
  t.same(ok.moves, ['1000 unknown->up first-reply']);
  t.same(ok.actions[5], [arm('detect', 2002, 202)]);
  t.equal(ok.state.detectAt, 2002);
});

/**
 * A minimal shell on a ManualClock: carries out the actions and answers each
 * request 1 ms later (2 ms RTT) while `answering`. What VtepProber does, minus
 * the packets.
 */
class Shell {
  s: ProbeFsm;
  answering = true;
  sent = 0;
  readonly moves: string[] = [];
  private readonly timers = new Map<ProbeTimerName, Timer>();
  constructor(readonly clock: ManualClock, active = true, readonly timerCfg: ProberTimers = T) {
    this.s = createProbeFsm(clock.now(), active);
  }

  input(i: ProbeInput): void {
    const r = step(this.s, i, this.clock.now(), this.timerCfg);
    this.s = r.state;
    for (const a of r.actions) {
      switch (a.type) {
        case 'send':
          this.sent++;
          if (this.answering) this.clock.setTimer(2, () => this.input({ type: 'reply', rttMs: 2 }));
          break;
        case 'arm':
          this.timers.get(a.timer)?.cancel();
          this.timers.set(a.timer, this.clock.setTimer(a.ms, () => {
            this.timers.delete(a.timer);
            this.input({ type: `${a.timer}-due` });
          }));
          break;
        case 'cancel':
          this.timers.get(a.timer)?.cancel();
          this.timers.delete(a.timer);
          break;
        case 'transition':
          this.moves.push(`${this.clock.now()} ${a.from}->${a.to} ${a.reason}`);
          break;
      }
    }
  }
}

t.test('the full cycle on a clock: unknown -> up -> down -> holddown -> down -> holddown -> up', async (t) => {
  const clock = new ManualClock(1000);
  const sh = new Shell(clock);
  sh.input({ type: 'start', jitter: 0 });
  clock.advance(50);
  sh.answering = false;
  clock.advance(1000);
  sh.answering = true;
  clock.advance(1000); // holddown
  sh.answering = false;
  clock.advance(1000); // a loss in holddown reaching the detection time: down again
  sh.answering = true;
  clock.advance(3500);
  t.same(sh.moves, [
    '1002 unknown->up first-reply',
    '1302 up->down detect-timeout', // last reply at 1002 (request at 1000), none after 1050
    '2102 down->holddown reply-after-down',
    '3302 holddown->down detect-timeout',
    '4102 down->holddown reply-after-down',
    '7102 holddown->up holddown-expired',
  ]);
  t.equal(sh.sent, 66, 'a request every 100 ms from 1000 to 7500');
  sh.input({ type: 'stop' });
  t.equal(clock.pending(), 0, 'stop cancels every timer');
});
