// The per-target VTEP probe state machine, pure: step(state, input, now, timers)
// returns the next state and the actions (send a request, arm/cancel a timer at a
// deadline, report a transition) that the shell (prober.ts) carries out. Timer
// expiries come back as inputs, so a test makes a timer "fire" as one more input.
// Transport, reply validation (nonce, sequence, echoed time) and the responder are
// the shell's business; a reply reaches step() only once it has been validated.
//
//   unknown --reply--> up --no reply for multiplier x interval--> down
//                       ^                                          |
//                       |                                        reply
//                 holdDown ms                                      v
//                 elapsed  +------------------------------------ holddown
//                                                                  |
//                          down <--no reply for multiplier x interval
//
// 'unknown' (never answered: not an evpn-ha, or probing disabled there) is
// eligible, like 'up'; only 'down' and 'holddown' make a next hop ineligible.
//
// Timers per target:
// * send: the next request. `interval` ms apart, `idleInterval` ms for a target
//   that carries no best path (active false); the first one `jitter x interval`
//   after start, so the targets' requests spread over one interval.
// * detect: the detection deadline `detectAt`, moved to `multiplier x interval`
//   (or `multiplier x idleInterval`) from each reply. The timer is not moved on
//   every reply; when it fires early it re-arms for the remainder (one timer
//   operation per detection window, not per reply).
// * hold: `holdDown` ms after the first reply following 'down'.

export type ProbeState = 'unknown' | 'up' | 'down' | 'holddown';

/** Why a state changed (shown to operators). */
export type ProbeTransitionReason =
  | 'first-reply'        // unknown -> up
  | 'detect-timeout'     // up/holddown -> down: no reply for multiplier x interval
  | 'reply-after-down'   // down -> holddown (or -> up when holdDown is 0)
  | 'holddown-expired'   // holddown -> up
  | 'target-removed'     // up -> down: no longer a target; it must answer again (and pass the hold-down) before it is used
  | 'new-path';          // down/holddown -> unknown: a remembered target now leaves from another local VTEP address

export interface ProberTimers {
  /** Milliseconds between requests to one target. */
  interval: number;
  /** Consecutive intervals without a reply that make an answering target 'down'. */
  multiplier: number;
  /** Milliseconds of uninterrupted replies before a 'down' target is eligible again. */
  holdDown: number;
  /** Milliseconds between requests to a target marked `active: false` (>= interval). */
  idleInterval: number;
}

/** One target's state. Times are clock.now() values (ms). */
export interface ProbeFsm {
  readonly state: ProbeState;
  /** Time of the last state change (creation for a new target). */
  readonly since: number;
  /** Carries a best path: probed every `interval`, else every `idleInterval`. */
  readonly active: boolean;
  /** The send timer runs (between 'start' and 'stop' or the target's end). */
  readonly probing: boolean;
  /** Detection deadline: no reply by then makes an answering target 'down'. */
  readonly detectAt: number;
  /** The detect timer is armed (it may be due before detectAt: it then re-arms). */
  readonly detectArmed: boolean;
  /** The hold-down timer is armed. */
  readonly holdArmed: boolean;
  /** Round-trip time of the latest reply (ms). */
  readonly rttMs: number | undefined;
  /** Smoothed RTT (RFC 6298-style, alpha 1/8). */
  readonly srttMs: number | undefined;
  readonly lastReplyAt: number | undefined;
}

export type ProbeTimerName = 'send' | 'detect' | 'hold';

export type ProbeInput =
  /** Start probing; `jitter` in [0, 1) places the first request within one interval. */
  | { type: 'start'; jitter: number }
  /** Stop probing: every timer is cancelled, the state is kept. */
  | { type: 'stop' }
  /** The target now carries a best path (true) or no longer does (false). */
  | { type: 'set-active'; active: boolean }
  /** A valid reply to one of our outstanding requests, `rttMs` after it was sent. */
  | { type: 'reply'; rttMs: number }
  | { type: 'send-due' }
  | { type: 'detect-due' }
  | { type: 'hold-due' }
  /**
   * No longer a target. The resulting state is what is worth remembering: 'down'
   * for a target that had answered (it must answer and pass the hold-down before
   * it is used again), 'unknown' for one that never did.
   */
  | { type: 'removed' }
  /** The target now leaves from another local VTEP address: a path never probed, 'unknown'. */
  | { type: 'new-path' };

export interface ProbeTransition {
  type: 'transition';
  from: ProbeState;
  to: ProbeState;
  reason: ProbeTransitionReason;
  /** Whether the next hop is eligible after this change. */
  eligible: boolean;
  /** Round-trip time of the target's latest reply (ms), if any. */
  rttMs: number | undefined;
}

export type ProbeAction =
  /** Send one request to the target now. */
  | { type: 'send' }
  /**
   * (Re-)arm `timer` to fire at clock time `at`, `ms` from now; its expiry is the
   * input `<timer>-due`. The shell passes `ms` to Clock.setTimer: for the detect
   * timer it is `detectAt - now`, for the others the configured delay itself (not
   * `at - now`, which floating point may make 99.99999999999999 of a 100 ms interval).
   */
  | { type: 'arm'; timer: ProbeTimerName; at: number; ms: number }
  | { type: 'cancel'; timer: ProbeTimerName }
  | ProbeTransition;

export interface ProbeStep {
  state: ProbeFsm;
  actions: ProbeAction[];
}

/** Paths through a next hop may be used in 'up' and 'unknown' (and when it is not probed at all). */
export function isEligible(state: ProbeState): boolean {
  return state === 'up' || state === 'unknown';
}

/**
 * A new target: 'unknown', or 'down' when it is a remembered one (it had answered
 * before it was removed) coming back on the same path. Not probing until 'start'.
 */
export function createProbeFsm(now: number, active: boolean, state: 'unknown' | 'down' = 'unknown'): ProbeFsm {
  return {
    state, since: now, active, probing: false, detectAt: 0, detectArmed: false, holdArmed: false,
    rttMs: undefined, srttMs: undefined, lastReplyAt: undefined,
  };
}

/**
 * Request interval of a target: `interval`, or `idleInterval` when it carries no best
 * path. A target in hold-down is probed at `interval` whatever it carries: it is the
 * path a failback is about to return to, and a flap during the hold-down must be seen
 * within `multiplier x interval` (docs/probe.md).
 */
export function requestInterval(s: Pick<ProbeFsm, 'active' | 'state'>, timers: ProberTimers): number {
  return s.active || s.state === 'holddown' ? timers.interval : timers.idleInterval;
}

/** Arm `timer` `ms` from now. */
function arm(timer: ProbeTimerName, now: number, ms: number): ProbeAction {
  return { type: 'arm', timer, at: now + ms, ms };
}

/** Arm `timer` for the deadline `at`. */
function armAt(timer: ProbeTimerName, now: number, at: number): ProbeAction {
  return { type: 'arm', timer, at, ms: at - now };
}

/**
 * `s` with the fields of `patch`. Built field by field rather than by spreading:
 * this runs for every request and reply (20,000 a second at 2,000 paths), and a
 * spread of the readonly state went through V8's slow object-clone path.
 */
function with_(s: ProbeFsm, patch: Partial<ProbeFsm>): ProbeFsm {
  return {
    state: patch.state ?? s.state,
    since: patch.since ?? s.since,
    active: patch.active ?? s.active,
    probing: patch.probing ?? s.probing,
    detectAt: patch.detectAt ?? s.detectAt,
    detectArmed: patch.detectArmed ?? s.detectArmed,
    holdArmed: patch.holdArmed ?? s.holdArmed,
    rttMs: 'rttMs' in patch ? patch.rttMs : s.rttMs,
    srttMs: 'srttMs' in patch ? patch.srttMs : s.srttMs,
    lastReplyAt: 'lastReplyAt' in patch ? patch.lastReplyAt : s.lastReplyAt,
  };
}

const NO_ACTIONS: readonly ProbeAction[] = Object.freeze([]);

function transition(s: ProbeFsm, to: ProbeState, reason: ProbeTransitionReason, now: number): ProbeStep {
  return {
    state: with_(s, { state: to, since: now }),
    actions: [{ type: 'transition', from: s.state, to, reason, eligible: isEligible(to), rttMs: s.rttMs }],
  };
}

/** Cancel every armed timer (in the order send, detect, hold). */
function cancelAll(s: ProbeFsm): ProbeAction[] {
  const out: ProbeAction[] = [];
  if (s.probing) out.push({ type: 'cancel', timer: 'send' });
  if (s.detectArmed) out.push({ type: 'cancel', timer: 'detect' });
  if (s.holdArmed) out.push({ type: 'cancel', timer: 'hold' });
  return out;
}

const SEND: ProbeAction = Object.freeze({ type: 'send' });

function unchanged(s: ProbeFsm): ProbeStep {
  return { state: s, actions: [] };
}

function start(s: ProbeFsm, jitter: number, now: number, timers: ProberTimers): ProbeStep {
  if (s.probing) return unchanged(s);
  const phase = Math.min(Math.max(jitter, 0), 1) * timers.interval;
  return { state: with_(s, { probing: true }), actions: [arm('send', now, phase)] };
}

/**
 * An idle target now carries a best path: probe it at once and at the fast rate,
 * and give it one fast detection window from now (not from its last idle reply).
 */
function setActive(s: ProbeFsm, active: boolean, now: number, timers: ProberTimers): ProbeStep {
  if (active === s.active) return unchanged(s);
  const next = with_(s, { active });
  if (!active || !s.probing) return { state: next, actions: [] };
  const actions: ProbeAction[] = [{ type: 'cancel', timer: 'send' }, arm('send', now, 0)];
  if (!s.detectArmed) return { state: next, actions };
  const detectAt = now + timers.interval * timers.multiplier;
  actions.push({ type: 'cancel', timer: 'detect' }, armAt('detect', now, detectAt));
  return { state: with_(next, { detectAt }), actions };
}

/** A reply: the detection deadline moves to multiplier x (idle) interval from now. */
function reply(s: ProbeFsm, rttMs: number, now: number, timers: ProberTimers): ProbeStep {
  const entersHolddown = s.state === 'down' && timers.holdDown !== 0;
  const detectAt = now + requestInterval(entersHolddown ? { active: s.active, state: 'holddown' } : s, timers) * timers.multiplier;
  const measured = with_(s, {
    rttMs,
    srttMs: s.srttMs === undefined ? rttMs : s.srttMs + (rttMs - s.srttMs) / 8,
    lastReplyAt: now,
    detectAt,
    detectArmed: true,
  });
  // The common case, a reply on a path that is up (or in hold-down) with its
  // detection timer armed: only the measurements and the deadline move.
  if ((s.state === 'up' || s.state === 'holddown') && s.detectArmed) return { state: measured, actions: NO_ACTIONS as ProbeAction[] };
  const actions: ProbeAction[] = s.detectArmed ? [] : [armAt('detect', now, detectAt)];
  let r: ProbeStep;
  switch (s.state) {
    case 'unknown':
      r = transition(measured, 'up', 'first-reply', now);
      break;
    case 'down':
      if (timers.holdDown === 0) {
        r = transition(measured, 'up', 'reply-after-down', now);
      } else {
        r = transition(measured, 'holddown', 'reply-after-down', now);
        const fast: ProbeAction[] = !s.active && s.probing
          ? [{ type: 'cancel', timer: 'send' }, arm('send', now, timers.interval)] // idle rate -> hold-down rate
          : [];
        r = { state: with_(r.state, { holdArmed: true }), actions: [...r.actions, arm('hold', now, timers.holdDown), ...fast] };
      }
      break;
    case 'up':
    case 'holddown':
      r = unchanged(measured);
      break;
  }
  return { state: r.state, actions: [...actions, ...r.actions] };
}

function detectDue(s: ProbeFsm, now: number): ProbeStep {
  const fired = with_(s, { detectArmed: false });
  if (now < s.detectAt) {
    // Replies moved the deadline since the timer was armed: wait for the remainder.
    return { state: with_(fired, { detectArmed: true }), actions: [armAt('detect', now, s.detectAt)] };
  }
  if (s.state !== 'up' && s.state !== 'holddown') return unchanged(fired);
  const actions: ProbeAction[] = s.holdArmed ? [{ type: 'cancel', timer: 'hold' }] : [];
  const r = transition(with_(fired, { holdArmed: false }), 'down', 'detect-timeout', now);
  return { state: r.state, actions: [...actions, ...r.actions] };
}

function holdDue(s: ProbeFsm, now: number): ProbeStep {
  const fired = with_(s, { holdArmed: false });
  return s.state === 'holddown' ? transition(fired, 'up', 'holddown-expired', now) : unchanged(fired);
}

function removed(s: ProbeFsm, now: number): ProbeStep {
  const actions = cancelAll(s);
  const quiet = with_(s, { probing: false, detectArmed: false, holdArmed: false });
  switch (s.state) {
    case 'unknown':
      return { state: quiet, actions };
    case 'up': {
      // Was eligible: say it is not any more.
      const r = transition(quiet, 'down', 'target-removed', now);
      return { state: r.state, actions: [...actions, ...r.actions] };
    }
    case 'down':
    case 'holddown':
      // Ineligible already: nothing to report.
      return { state: with_(quiet, { state: 'down' }), actions };
  }
}

function newPath(s: ProbeFsm, now: number): ProbeStep {
  const actions = cancelAll(s);
  const fresh = createProbeFsm(now, s.active);
  if (s.state === 'down' || s.state === 'holddown') {
    // Becomes eligible ('unknown'): say so, or the next hop stays ineligible.
    const t = transition(s, 'unknown', 'new-path', now);
    actions.push(...t.actions);
  }
  return { state: fresh, actions };
}

/** One step of a target's state machine. Pure: the same arguments always give the same result. */
export function step(s: ProbeFsm, input: ProbeInput, now: number, timers: ProberTimers): ProbeStep {
  switch (input.type) {
    case 'start': return start(s, input.jitter, now, timers);
    case 'stop': return { state: with_(s, { probing: false, detectArmed: false, holdArmed: false }), actions: cancelAll(s) };
    case 'set-active': return setActive(s, input.active, now, timers);
    case 'reply': return reply(s, input.rttMs, now, timers);
    case 'send-due':
      // Armed before the request goes out, as a timer callback re-arms itself first.
      if (!s.probing) return unchanged(s);
      return { state: s, actions: [arm('send', now, requestInterval(s, timers)), SEND] };
    case 'detect-due': return detectDue(s, now);
    case 'hold-due': return holdDue(s, now);
    case 'removed': return removed(s, now);
    case 'new-path': return newPath(s, now);
  }
}
