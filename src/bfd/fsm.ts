// BFD session state machine, asynchronous mode (RFC 5880 §6.2, §6.8), without I/O.
//
// step(state, input, random) -> { state, outputs }. The shell (session.ts) carries
// out the outputs: sends packets, arms/cancels the two timers (periodic transmit and
// detection time) and, when a timer fires, feeds it back as one more input. All
// intervals are microseconds, the unit of the wire fields. Demand mode, the Echo
// function and authentication are not implemented (we always advertise Required
// Min Echo RX 0 and D=0, and never act on a remote D bit, §6.6).
//
//                             +--+
//                             |  | UP, ADMIN DOWN, TIMER
//                             |  V
//                     DOWN  +------+  INIT
//              +------------|      |------------+
//              |            | DOWN |            |
//              |  +-------->|      |<--------+  |
//              |  |         +------+         |  |
//              |  |                          |  |
//              |  |               ADMIN DOWN,|  |
//              |  |ADMIN DOWN,          DOWN,|  |
//              |  |TIMER                TIMER|  |
//              V  |                          |  V
//            +------+                      +------+
//       +----|      |                      |      |----+
//   DOWN|    | INIT |--------------------->|  UP  |    |INIT, UP
//       +--->|      | INIT, UP             |      |<---+
//            +------+                      +------+          (RFC 5880 §6.2)

import { Diag, type ControlPacket, type SessionState } from './packet.js';

export type { SessionState } from './packet.js';

/** §6.8.3: while not Up, bfd.DesiredMinTxInterval MUST be at least one second. */
export const SLOW_TX_US = 1_000_000;

/** Locally configured timer parameters (the operator's values, in microseconds). */
export interface BfdTimers {
  /** bfd.DesiredMinTxInterval when Up. */
  desiredMinTxUs: number;
  /** bfd.RequiredMinRxInterval; must be > 0 (we always want packets). */
  requiredMinRxUs: number;
  /** bfd.DetectMult, 1..255. */
  detectMult: number;
}

/** The RFC 5880 §6.8.1 state variables plus what the shell needs to run timers. */
export interface BfdFsmState {
  readonly sessionState: SessionState;
  readonly remoteSessionState: SessionState;
  readonly localDiscr: number;
  readonly remoteDiscr: number;
  readonly localDiag: Diag;
  /** Configured values; the advertised ones below follow from them and the state. */
  readonly config: BfdTimers;
  /** bfd.DesiredMinTxInterval as advertised (max(config, 1 s) while not Up, §6.8.3). */
  readonly desiredMinTxUs: number;
  /** bfd.RequiredMinRxInterval as advertised. */
  readonly requiredMinRxUs: number;
  readonly detectMult: number;
  /**
   * Desired Min TX used for our own transmit interval. Lags an *increase* of
   * desiredMinTxUs until the Poll Sequence ends (§6.8.3).
   */
  readonly txDesiredMinTxUs: number;
  /**
   * Required Min RX used for the Detection Time. Lags a *decrease* of
   * requiredMinRxUs until the Poll Sequence ends (§6.8.3).
   */
  readonly detectRequiredMinRxUs: number;
  /** bfd.RemoteMinRxInterval; initialised to 1 (§6.8.1). */
  readonly remoteMinRxUs: number;
  /** Last received Desired Min TX Interval (0 before any packet). */
  readonly remoteDesiredMinTxUs: number;
  /** Last received Detect Mult (0 before any packet). */
  readonly remoteDetectMult: number;
  /** A Poll Sequence is in progress: periodic packets carry P (§6.5). */
  readonly pollActive: boolean;
  /** Parameters changed again during a poll: start another when this one ends. */
  readonly pollPending: boolean;
  /** Periodic transmission started (start input seen). */
  readonly running: boolean;
  /** Interval the transmit timer is armed with, undefined when not armed. */
  readonly txArmedUs: number | undefined;
  /** Detection Time the detect timer is armed with, undefined when not armed. */
  readonly detectArmedUs: number | undefined;
}

export type BfdTimerName = 'tx' | 'detect';

export type BfdInput =
  /** Begin periodic transmission (session created, socket ready). */
  | { type: 'start' }
  /** A packet that passed decodeControl and was demultiplexed to this session. */
  | { type: 'receive'; packet: ControlPacket }
  | { type: 'timer'; timer: BfdTimerName }
  /** §6.8.16: operator takes the session down; `diag` defaults to AdministrativelyDown. */
  | { type: 'adminDown'; diag?: Diag }
  | { type: 'adminUp' }
  /** New configured timers; a Poll Sequence follows when Up (§6.8.3). */
  | { type: 'setTimers'; timers: BfdTimers };

export type BfdOutput =
  | { type: 'send'; packet: ControlPacket }
  | { type: 'armTimer'; timer: BfdTimerName; afterUs: number }
  | { type: 'cancelTimer'; timer: BfdTimerName }
  | { type: 'stateChange'; from: SessionState; to: SessionState; diag: Diag; remoteState: SessionState };

export interface BfdStep {
  state: BfdFsmState;
  outputs: BfdOutput[];
}

/** Uniform random number in [0, 1), injectable for tests. */
export type Random = () => number;

export function validateTimers(t: BfdTimers): void {
  const ok = (n: number, min: number, max: number): boolean => Number.isInteger(n) && n >= min && n <= max;
  if (!ok(t.desiredMinTxUs, 1, 0xffffffff)) throw new RangeError(`desiredMinTxUs ${t.desiredMinTxUs} out of range`);
  if (!ok(t.requiredMinRxUs, 1, 0xffffffff)) throw new RangeError(`requiredMinRxUs ${t.requiredMinRxUs} out of range`);
  if (!ok(t.detectMult, 1, 255)) throw new RangeError(`detectMult ${t.detectMult} out of range 1..255`);
}

/** A new session in Down (§6.8.1 initial values), not yet transmitting. */
export function initialState(localDiscr: number, timers: BfdTimers): BfdFsmState {
  validateTimers(timers);
  if (!Number.isInteger(localDiscr) || localDiscr < 1 || localDiscr > 0xffffffff) {
    throw new RangeError(`local discriminator ${localDiscr} must be a nonzero 32-bit value`); // §6.8.1
  }
  const desired = Math.max(timers.desiredMinTxUs, SLOW_TX_US);
  return {
    sessionState: 'Down',
    remoteSessionState: 'Down',
    localDiscr,
    remoteDiscr: 0,
    localDiag: Diag.NoDiagnostic,
    config: { ...timers },
    desiredMinTxUs: desired,
    requiredMinRxUs: timers.requiredMinRxUs,
    detectMult: timers.detectMult,
    txDesiredMinTxUs: desired,
    detectRequiredMinRxUs: timers.requiredMinRxUs,
    remoteMinRxUs: 1,
    remoteDesiredMinTxUs: 0,
    remoteDetectMult: 0,
    pollActive: false,
    pollPending: false,
    running: false,
    txArmedUs: undefined,
    detectArmedUs: undefined,
  };
}

/** §6.8.7: the periodic transmission interval, before jitter. */
export function txIntervalUs(s: BfdFsmState): number {
  return Math.max(s.txDesiredMinTxUs, s.remoteMinRxUs);
}

/** §6.8.4 (asynchronous mode): remote Detect Mult × max(our Required Min RX, remote Desired Min TX). */
export function detectionTimeUs(s: BfdFsmState): number {
  return s.remoteDetectMult * Math.max(s.detectRequiredMinRxUs, s.remoteDesiredMinTxUs);
}

/**
 * §6.8.7: each interval is reduced by a random 0-25% (to 75-100%); with Detect
 * Mult 1 it must lie in 75-90%.
 */
export function jitteredUs(intervalUs: number, detectMult: number, random: Random): number {
  const span = detectMult === 1 ? 0.15 : 0.25;
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.max(1, Math.floor(intervalUs * (0.75 + span * r)));
}

/** The packet this session would send now (§6.8.7 contents), with P/F as given. */
export function controlPacket(s: BfdFsmState, flags: { poll: boolean; final: boolean }): ControlPacket {
  return {
    diag: s.localDiag,
    state: s.sessionState,
    poll: flags.poll,
    final: flags.final,
    controlPlaneIndependent: false, // we share fate with the control plane
    demand: false,
    detectMult: s.detectMult,
    myDiscriminator: s.localDiscr,
    yourDiscriminator: s.remoteDiscr,
    desiredMinTxUs: s.desiredMinTxUs,
    requiredMinRxUs: s.requiredMinRxUs,
    requiredMinEchoRxUs: 0, // §6.8.7: zero when the Echo function is not supported
  };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Working copy plus collected outputs for one step. */
class Step {
  readonly s: Mutable<BfdFsmState>;
  readonly out: BfdOutput[] = [];
  private sendNow = false;
  constructor(prev: BfdFsmState, private readonly random: Random) {
    this.s = { ...prev };
  }

  /** Change bfd.SessionState and the advertised intervals that depend on it. */
  setSessionState(to: SessionState, diag: Diag): void {
    const from = this.s.sessionState;
    this.s.localDiag = diag;
    if (from === to) return;
    this.s.sessionState = to;
    this.out.push({ type: 'stateChange', from, to, diag, remoteState: this.s.remoteSessionState });
    // Implementations send promptly on a state change (FRR, BIRD), which shortens
    // the three-way handshake; §6.8.7 bounds only the periodic rate.
    this.sendNow = true;
    if (to === 'Up') {
      this.changeAdvertised(this.s.config.desiredMinTxUs, this.s.config.requiredMinRxUs, this.s.config.detectMult);
    } else if (from === 'Up') {
      // Leaving Up: back to the slow rate at once (§6.8.3); a poll is meaningless now.
      const slow = Math.max(this.s.config.desiredMinTxUs, SLOW_TX_US);
      this.s.desiredMinTxUs = slow;
      this.s.txDesiredMinTxUs = slow;
      this.s.detectRequiredMinRxUs = this.s.requiredMinRxUs;
      this.s.pollActive = false;
      this.s.pollPending = false;
    }
  }

  /**
   * §6.8.3: set new advertised values while Up. An increase of Desired Min TX takes
   * effect on our transmit rate, and a decrease of Required Min RX on our Detection
   * Time, only once the Poll Sequence has ended; the other directions apply now.
   */
  changeAdvertised(desiredMinTxUs: number, requiredMinRxUs: number, detectMult: number): void {
    const s = this.s;
    if (s.desiredMinTxUs === desiredMinTxUs && s.requiredMinRxUs === requiredMinRxUs && s.detectMult === detectMult) return;
    if (desiredMinTxUs <= s.txDesiredMinTxUs) s.txDesiredMinTxUs = desiredMinTxUs;
    if (requiredMinRxUs >= s.detectRequiredMinRxUs) s.detectRequiredMinRxUs = requiredMinRxUs;
    s.desiredMinTxUs = desiredMinTxUs;
    s.requiredMinRxUs = requiredMinRxUs;
    s.detectMult = detectMult;
    if (s.pollActive) {
      s.pollPending = true;
    } else {
      s.pollActive = true; // §6.5: parameters changed, start a Poll Sequence
      this.sendNow = true;
    }
  }

  /** §6.5: a packet with F ended our Poll Sequence; the deferred values now apply. */
  pollTerminated(): void {
    const s = this.s;
    if (!s.pollActive) return;
    s.txDesiredMinTxUs = s.desiredMinTxUs;
    s.detectRequiredMinRxUs = s.requiredMinRxUs;
    s.pollActive = s.pollPending; // the values changed again meanwhile: poll once more
    s.pollPending = false;
    if (s.pollActive) this.sendNow = true;
  }

  send(final: boolean): void {
    // §6.5: P and F never together; a Final is sent on its own packet.
    this.out.push({ type: 'send', packet: controlPacket(this.s, { poll: final ? false : this.s.pollActive, final }) });
  }

  armTx(): void {
    const us = jitteredUs(txIntervalUs(this.s), this.s.detectMult, this.random);
    this.s.txArmedUs = txIntervalUs(this.s);
    this.out.push({ type: 'armTimer', timer: 'tx', afterUs: us });
  }

  cancel(timer: BfdTimerName): void {
    if (timer === 'tx' ? this.s.txArmedUs === undefined : this.s.detectArmedUs === undefined) return;
    if (timer === 'tx') this.s.txArmedUs = undefined;
    else this.s.detectArmedUs = undefined;
    this.out.push({ type: 'cancelTimer', timer });
  }

  /** Send promptly if something asked for it, and keep the transmit timer consistent. */
  finish(): BfdStep {
    const s = this.s;
    // §6.8.7: no periodic transmission while bfd.RemoteMinRxInterval is zero.
    const mayTransmit = s.running && s.remoteMinRxUs !== 0;
    if (!mayTransmit) {
      this.cancel('tx');
    } else if (this.sendNow) {
      this.send(false);
      this.armTx();
    } else if (s.txArmedUs !== txIntervalUs(s)) {
      // Not armed yet, or the negotiated interval changed: use the new rate from now on.
      this.armTx();
    }
    return { state: s, outputs: this.out };
  }

  markSend(): void {
    this.sendNow = true;
  }
}

/** Advance the state machine by one input. Pure: no I/O, no clock; `random` drives jitter. */
export function step(prev: BfdFsmState, input: BfdInput, random: Random = Math.random): BfdStep {
  const st = new Step(prev, random);
  const s = st.s;
  switch (input.type) {
    case 'start':
      if (s.running) return { state: prev, outputs: [] };
      s.running = true;
      st.markSend();
      return st.finish();

    case 'timer':
      if (input.timer === 'tx') {
        if (s.txArmedUs === undefined) return { state: prev, outputs: [] }; // stale
        s.txArmedUs = undefined;
        st.send(false);
        if (s.running && s.remoteMinRxUs !== 0) st.armTx();
        return { state: s, outputs: st.out };
      }
      if (s.detectArmedUs === undefined) return { state: prev, outputs: [] }; // stale
      s.detectArmedUs = undefined;
      // §6.8.1: bfd.RemoteDiscr is reset when a Detection Time passes without packets.
      s.remoteDiscr = 0;
      // §6.8.4: Init or Up with no packet for a Detection Time -> Down, diag 1.
      if (s.sessionState === 'Init' || s.sessionState === 'Up') {
        st.setSessionState('Down', Diag.ControlDetectionTimeExpired);
      }
      return st.finish();

    case 'receive':
      return receive(st, input.packet, prev);

    case 'adminDown':
      if (s.sessionState === 'AdminDown') return { state: prev, outputs: [] };
      // §6.8.16: AdminDown with diag 7 (or the one given); the detection timer is moot.
      st.setSessionState('AdminDown', input.diag ?? Diag.AdministrativelyDown);
      st.cancel('detect');
      return st.finish();

    case 'adminUp':
      if (s.sessionState !== 'AdminDown') return { state: prev, outputs: [] };
      // §6.8.16: leaving AdminDown means entering Down.
      st.setSessionState('Down', Diag.NoDiagnostic);
      return st.finish();

    case 'setTimers': {
      validateTimers(input.timers);
      s.config = { ...input.timers };
      if (s.sessionState === 'Up') {
        st.changeAdvertised(input.timers.desiredMinTxUs, input.timers.requiredMinRxUs, input.timers.detectMult);
      } else {
        // Not Up: no poll needed; the slow-rate floor of §6.8.3 still applies.
        const desired = Math.max(input.timers.desiredMinTxUs, SLOW_TX_US);
        s.desiredMinTxUs = desired;
        s.txDesiredMinTxUs = desired;
        s.requiredMinRxUs = input.timers.requiredMinRxUs;
        s.detectRequiredMinRxUs = input.timers.requiredMinRxUs;
        s.detectMult = input.timers.detectMult;
      }
      return st.finish();
    }
  }
}

/** RFC 5880 §6.8.6, from "set bfd.RemoteDiscr" on (the packet-local checks ran in decodeControl). */
function receive(st: Step, p: ControlPacket, prev: BfdFsmState): BfdStep {
  const s = st.s;
  // Demultiplexing is the shell's job; a mismatch here is a bug there, drop it anyway.
  if (p.yourDiscriminator !== 0 && p.yourDiscriminator !== s.localDiscr) return { state: prev, outputs: [] };
  s.remoteDiscr = p.myDiscriminator;
  s.remoteSessionState = p.state;
  s.remoteMinRxUs = p.requiredMinRxUs;
  s.remoteDesiredMinTxUs = p.desiredMinTxUs;
  s.remoteDetectMult = p.detectMult;
  if (p.final) st.pollTerminated();

  // "If bfd.SessionState is AdminDown: Discard the packet."
  if (s.sessionState === 'AdminDown') return st.finish();

  if (p.state === 'AdminDown') {
    if (s.sessionState !== 'Down') st.setSessionState('Down', Diag.NeighborSignaledSessionDown);
  } else if (s.sessionState === 'Down') {
    if (p.state === 'Down') st.setSessionState('Init', Diag.NoDiagnostic);
    else if (p.state === 'Init') st.setSessionState('Up', Diag.NoDiagnostic);
  } else if (s.sessionState === 'Init') {
    if (p.state === 'Init' || p.state === 'Up') st.setSessionState('Up', Diag.NoDiagnostic);
  } else if (p.state === 'Down') {
    // Up
    st.setSessionState('Down', Diag.NeighborSignaledSessionDown);
  }

  // §6.8.7: answer a Poll at once with a Final, regardless of the transmit timer.
  if (p.poll) st.send(true);

  // §6.8.4: the packet counts as received; restart the Detection Time.
  const detect = detectionTimeUs(s);
  s.detectArmedUs = detect;
  st.out.push({ type: 'armTimer', timer: 'detect', afterUs: detect });
  return st.finish();
}
