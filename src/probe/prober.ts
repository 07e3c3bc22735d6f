// VTEP data-path liveness: every `interval` ms a probe request goes to each remote
// VTEP a best or backup path uses, encapsulated in VXLAN from our VTEP address on
// that network (packet.ts), so it crosses exactly the underlay path the traffic
// takes; the remote evpn-ha answers the same way from its own VTEP address on the
// same network. Both directions of the VTEP-to-VTEP path are thereby checked.
//
// This file is the shell: timers on ticks of the injected Clock (ticks.ts), the
// transport (polled at every tick when it has no wake-up of its own), request
// encoding, reply validation and demultiplexing, the responder, the set of targets.
// Each target's state (unknown / up / down / holddown), its detection deadline and
// hold-down are decided by the pure state machine in fsm.ts; the shell feeds it
// inputs (replies, timer expiries, activation, removal) and carries out its actions.
//
// The prober is also the responder: requests that reach the probe port are answered
// from our VTEP address on the requester's network.
import { randomBytes } from 'node:crypto';
import pino, { type Logger } from 'pino';
import type { Clock, Timer } from '../util/clock.js';
import {
  DEFAULT_PROBE_PORT,
  PROBE_FIXED_LENGTH,
  PROBE_FIXED_LENGTH_IPV6,
  PROBE_MAGIC,
  PROBE_VERSION,
  PROBE_VERSION_IPV6,
  ProbeTypeCode,
  ProbeRequestTemplate,
  decodeProbeFrame,
  decodeProbeMessage,
  encodeProbeFrame,
  encodeProbeMessage,
  parseIpv4,
  parseMac,
  parseVtep,
  type ProbeErrorKind,
  type ProbeMessage,
} from './packet.js';
import type { ProbeTransport } from './transport.js';
import { TickClock } from './ticks.js';
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
} from './fsm.js';

export type { ProbeState, ProbeTransitionReason, ProberTimers } from './fsm.js';

/** A remote next hop to probe. The agent supplies one per (network, remote VTEP) in use. */
export interface ProbeTarget {
  /** Underlay network name; both ends must use the same names ("net1"). */
  network: string;
  /** Our VTEP (uplink) address on that network: the source of the probe. */
  localVtep: string;
  /** The remote VTEP address (the route's next hop). */
  remoteVtep: string;
  /** Remote br-vxlan MAC (the route's MAC): inner Ethernet destination. */
  remoteMac: string;
  /** Remote service address (the route's IP): inner IPv4 destination. */
  remoteServiceIp: string;
  /**
   * Whether the path carries a best path (traffic). Default true. An inactive path
   * (a backup) is probed every `idleInterval` ms instead of every `interval` ms,
   * and declared down after `multiplier x idleInterval` ms of silence.
   */
  active?: boolean;
}

/** One of our uplinks: what the responder answers from. */
export interface LocalUplink {
  network: string;
  address: string;
}

/**
 * Defaults: detection after 200-300 ms of silence (median 250 ms), i.e. failover
 * well under the 500 ms median / 1 s maximum budget including kernel programming;
 * 10 requests/s per target (about 1.1 kbit/s each way); 3 s of clean replies before
 * failing back, so a flapping path does not drag traffic back and forth.
 */
export const DEFAULT_PROBER_TIMERS: Readonly<Omit<ProberTimers, 'idleInterval'>> = { interval: 100, multiplier: 3, holdDown: 3000 };

/** The reply cap's floor (VtepProberOptions.maxRepliesPerSecond). */
export const DEFAULT_MAX_REPLIES_PER_SECOND = 5000;

/** Default idleInterval: backups (no best path through them) are probed once a second (docs/probe.md). */
export const DEFAULT_IDLE_INTERVAL = 1000;

export interface VtepProberOptions extends Partial<ProberTimers> {
  clock: Clock;
  transport: ProbeTransport;
  /** VNI of vxlan0 (the probe must be accepted by the remote vxlan0). */
  vni: number;
  /** Our br-vxlan address (inner source of everything we send). */
  serviceIp: string;
  /** Our br-vxlan MAC (inner Ethernet source). */
  bridgeMac: string;
  /** Our uplinks, one per network. */
  uplinks: LocalUplink[];
  /** Inner UDP port of the probe socket, same on all servers. Default 4799. */
  probePort?: number;
  /**
   * Cap on replies sent per second (a reflection guard). Default: the larger of
   * DEFAULT_MAX_REPLIES_PER_SECOND and twice the rate of our own requests (probing is
   * symmetric: the servers we probe probe us about as often), updated with the targets.
   */
  maxRepliesPerSecond?: number;
  logger?: Logger;
  /** Uniform [0, 1): spreads first transmissions over one interval. Default Math.random. */
  random?: () => number;
  /** 64-bit nonce identifying this prober instance in requests. Default from crypto.randomBytes. */
  nonce?: bigint;
  /**
   * Length of the scheduling tick in ms (ticks.ts): every timer falls due on a tick
   * and all requests of a tick leave together. Default DEFAULT_TICK_MS when the
   * interval, idle interval and hold-down are multiples of it, else 1; 0: exact timers.
   */
  tickMs?: number;
}

/** The default tick: 200 wake-ups a second, detection at most one tick later than exact timers (docs/probe.md). */
export const DEFAULT_TICK_MS = 5;

export interface ProbeStateEvent {
  network: string;
  localVtep: string;
  remoteVtep: string;
  from: ProbeState;
  to: ProbeState;
  reason: ProbeTransitionReason;
  /** Round-trip time of the latest reply (ms), if any. */
  rttMs: number | undefined;
  /** clock.now() of the change. */
  at: number;
  /** Whether the next hop is eligible after this change. */
  eligible: boolean;
}

export interface ProbeTargetStatus extends ProbeTarget {
  state: ProbeState;
  eligible: boolean;
  rttMs: number | undefined;
  /** Smoothed RTT (RFC 6298-style, alpha 1/8). */
  srttMs: number | undefined;
  lastReplyAt: number | undefined;
  /** clock.now() of the last state change (creation for 'unknown'). */
  since: number;
  sent: number;
  replies: number;
}

export type DropReason =
  | ProbeErrorKind
  | 'foreign-nonce'       // a reply to someone else's request (or to a previous instance)
  | 'unknown-target'      // a reply from a VTEP we do not probe
  | 'stale-sequence'      // not an outstanding request of that target (duplicate, too late)
  | 'echo-mismatch'       // echoed transmit time differs from what we sent
  | 'no-uplink'           // a request for a network we have no uplink on
  | 'rate-limited';

export interface ProberCounters {
  requestsSent: number;
  repliesReceived: number;
  requestsAnswered: number;
  dropped: Partial<Record<DropReason, number>>;
}

interface Entry {
  target: ProbeTarget;
  /** State, deadlines and RTT: fsm.ts decides, the shell only stores. */
  fsm: ProbeFsm;
  sent: number;
  replies: number;
  /**
   * Outstanding requests, oldest first: a ring of `keep` (2 x multiplier) sequence
   * numbers and transmit times (exact clock), `count` of them from `head`.
   */
  outSeq: Float64Array;
  outTx: Float64Array;
  outHead: number;
  outCount: number;
  /** Remote VTEP address and network name as the reply carries them (the fast path's match). */
  remoteBytes: Uint8Array;
  nameBytes: Uint8Array;
  /** The timer callbacks, made once. */
  fire: Record<ProbeTimerName, () => void>;
  /** The request frame, encoded once (rebuilt when the target's addresses change). */
  template: ProbeRequestTemplate;
  templateKey: string;
  timers: Record<ProbeTimerName, Timer | undefined>;
}

export type ProbeStateListener = (ev: ProbeStateEvent) => void;

/** A timer's expiry, as the state machine's input. */
const TIMER_INPUT: Record<ProbeTimerName, ProbeInput> = {
  send: { type: 'send-due' },
  detect: { type: 'detect-due' },
  hold: { type: 'hold-due' },
};

/** What the request template depends on besides the key. */
function templateKey(t: ProbeTarget): string {
  return `${t.localVtep}|${t.remoteMac}|${t.remoteServiceIp}`;
}

function targetKey(network: string, remoteVtep: string): string {
  return `${network}|${remoteVtep}`;
}

/** The last 4 bytes of an IPv4 or IPv6 address as a number: the fast path's map key. */
function addressTail(b: Uint8Array, end: number): number {
  return ((b[end - 4]! << 24) | (b[end - 3]! << 16) | (b[end - 2]! << 8) | b[end - 1]!) >>> 0;
}

const utf8 = new TextEncoder();

function randomNonce(): bigint {
  return randomBytes(8).readBigUInt64BE();
}

function validTarget(t: ProbeTarget): string | undefined {
  if (t.network.length === 0) return 'empty network name';
  const local = parseVtep(t.localVtep);
  const remote = parseVtep(t.remoteVtep);
  if (local === undefined) return `bad localVtep ${t.localVtep}`;
  if (remote === undefined) return `bad remoteVtep ${t.remoteVtep}`;
  if (local.length !== remote.length) return `localVtep ${t.localVtep} and remoteVtep ${t.remoteVtep} are of different families`;
  if (parseIpv4(t.remoteServiceIp) === undefined) return `bad remoteServiceIp ${t.remoteServiceIp}`;
  if (parseMac(t.remoteMac) === undefined) return `bad remoteMac ${t.remoteMac}`;
  return undefined;
}

export class VtepProber {
  readonly timers: Readonly<ProberTimers>;
  readonly probePort: number;
  /** The schedule: the state machine's time and timers, on ticks. */
  private readonly clock: TickClock;
  private readonly transport: ProbeTransport;
  private readonly log: Logger;
  private readonly random: () => number;
  private readonly nonce: bigint;
  private readonly nonceBytes: Uint8Array;
  /** Targets by the last 4 bytes of their remote VTEP address (the fast reply path). */
  private byTail = new Map<number, Entry[]>();
  /** Scratch for reading a binary64 field of a reply (made once, not per reply). */
  private readonly f64Bytes = new Uint8Array(8);
  private readonly f64View = new DataView(this.f64Bytes.buffer);
  private readonly vni: number;
  private readonly serviceIp: string;
  private readonly bridgeMac: string;
  private uplinks: LocalUplink[];
  private uplinkByAddress = new Map<string, LocalUplink>();
  /** The first uplink of each network (the responder's fallback source). */
  private uplinkByNetwork = new Map<string, LocalUplink>();
  private readonly entries = new Map<string, Entry>();
  /**
   * Targets removed after they had answered (key -> local VTEP): re-added, they
   * start 'down', so traffic returns to them only after a reply and the hold-down.
   */
  private readonly removed = new Map<string, string>();
  private readonly listeners = new Set<ProbeStateListener>();
  private nextSeq = 1;
  private running = false;
  private readonly replyBudget: { tokens: number; refilledAt: number; perSecond: number };
  /** The reply cap follows our own request rate (no maxRepliesPerSecond given). */
  private readonly autoReplyCap: boolean;
  private readonly stats: ProberCounters = { requestsSent: 0, repliesReceived: 0, requestsAnswered: 0, dropped: {} };

  constructor(opts: VtepProberOptions) {
    const timers: ProberTimers = {
      interval: opts.interval ?? DEFAULT_PROBER_TIMERS.interval,
      multiplier: opts.multiplier ?? DEFAULT_PROBER_TIMERS.multiplier,
      holdDown: opts.holdDown ?? DEFAULT_PROBER_TIMERS.holdDown,
      idleInterval: opts.idleInterval ?? Math.max(DEFAULT_IDLE_INTERVAL, opts.interval ?? DEFAULT_PROBER_TIMERS.interval),
    };
    if (!(timers.interval > 0)) throw new RangeError(`interval must be > 0: ${timers.interval}`);
    if (!Number.isInteger(timers.multiplier) || timers.multiplier < 1) throw new RangeError(`multiplier must be an integer >= 1: ${timers.multiplier}`);
    if (!(timers.holdDown >= 0)) throw new RangeError(`holdDown must be >= 0: ${timers.holdDown}`);
    if (!(timers.idleInterval >= timers.interval)) throw new RangeError(`idleInterval must be >= interval: ${timers.idleInterval}`);
    if (parseIpv4(opts.serviceIp) === undefined) throw new RangeError(`bad serviceIp ${opts.serviceIp}`);
    if (parseMac(opts.bridgeMac) === undefined) throw new RangeError(`bad bridgeMac ${opts.bridgeMac}`);
    if (!Number.isInteger(opts.vni) || opts.vni < 0 || opts.vni > 0xffffff) throw new RangeError(`bad vni ${opts.vni}`);
    this.timers = Object.freeze(timers);
    this.probePort = opts.probePort ?? DEFAULT_PROBE_PORT;
    const onTick = (ms: number): boolean => timers.interval % ms === 0 && timers.idleInterval % ms === 0 && timers.holdDown % ms === 0;
    const tickMs = opts.tickMs ?? (onTick(DEFAULT_TICK_MS) ? DEFAULT_TICK_MS : 1);
    if (!(tickMs >= 0)) throw new RangeError(`tickMs must be >= 0: ${tickMs}`);
    this.transport = opts.transport;
    const transport = opts.transport;
    // A transport without a wake-up of its own is read at the start of every tick.
    this.clock = transport.poll !== undefined
      ? new TickClock(opts.clock, { tickMs: tickMs || DEFAULT_TICK_MS, beforeTick: () => { if (this.running) transport.poll!(); }, continuous: true })
      : new TickClock(opts.clock, { tickMs });
    this.log = (opts.logger ?? pino({ level: 'silent' })).child({ component: 'probe' });
    this.random = opts.random ?? Math.random;
    this.nonce = opts.nonce ?? randomNonce();
    this.nonceBytes = new Uint8Array(8);
    new DataView(this.nonceBytes.buffer).setBigUint64(0, this.nonce);
    this.vni = opts.vni;
    this.serviceIp = opts.serviceIp;
    this.bridgeMac = opts.bridgeMac.toLowerCase();
    this.uplinks = [];
    this.setUplinks(opts.uplinks);
    this.autoReplyCap = opts.maxRepliesPerSecond === undefined;
    const perSecond = opts.maxRepliesPerSecond ?? DEFAULT_MAX_REPLIES_PER_SECOND;
    this.replyBudget = { tokens: perSecond, refilledAt: this.clock.exactNow(), perSecond };
  }

  /** Start answering requests and probing the targets. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.transport.onReceive((payload, from) => this.receive(payload, from));
    this.clock.start();
    for (const e of this.entries.values()) this.startProbing(e);
  }

  /** Stop all timers and close the transport. Targets keep their last state. */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    for (const e of this.entries.values()) this.input(e, { type: 'stop' });
    this.clock.stop();
    this.transport.close();
  }

  onStateChange(fn: ProbeStateListener): () => void {
    this.listeners.add(fn);
    return () => { this.listeners.delete(fn); };
  }

  /** Replace our uplinks (the responder's source address per network). */
  setUplinks(uplinks: LocalUplink[]): void {
    for (const u of uplinks) {
      if (parseVtep(u.address) === undefined) throw new RangeError(`bad uplink address ${u.address}`);
    }
    this.uplinks = uplinks.map((u) => ({ ...u }));
    this.uplinkByAddress = new Map(this.uplinks.map((u) => [u.address, u]));
    this.uplinkByNetwork = new Map();
    for (const u of this.uplinks) if (!this.uplinkByNetwork.has(u.network)) this.uplinkByNetwork.set(u.network, u);
  }

  /**
   * The full set of next hops to probe. New ones start 'unknown'; kept ones keep
   * their state (a changed local VTEP makes it a new path: back to 'unknown');
   * missing ones stop being probed. A missing one that had answered is remembered
   * as 'down' (an 'up' one reports up -> down, reason 'target-removed'): when it
   * comes back (e.g. the BGP session over that network is re-established) it is
   * ineligible until it answers and the hold-down has passed, so traffic fails
   * back only over a verified path. Invalid targets are logged and skipped.
   */
  setTargets(targets: Iterable<ProbeTarget>): void {
    const wanted = new Map<string, ProbeTarget>();
    for (const t of targets) {
      const bad = validTarget(t);
      if (bad !== undefined) {
        this.log.warn({ target: t, problem: bad }, 'probe target ignored');
        continue;
      }
      wanted.set(targetKey(t.network, t.remoteVtep), { ...t, remoteMac: t.remoteMac.toLowerCase() });
    }
    if (this.autoReplyCap) {
      // 1,000 remote servers on two networks send us ~11,000 requests/s at the
      // default timers (active paths every interval, idle ones every idleInterval):
      // a fixed 5,000/s would make every remote prober see paths go down.
      let rate = 0;
      for (const t of wanted.values()) rate += 1000 / (t.active === false ? this.timers.idleInterval : this.timers.interval);
      this.replyBudget.perSecond = Math.max(DEFAULT_MAX_REPLIES_PER_SECOND, Math.ceil(2 * rate));
    }
    const now = this.clock.now();
    for (const [key, e] of this.entries) {
      const t = wanted.get(key);
      if (t !== undefined && t.localVtep === e.target.localVtep) continue;
      this.entries.delete(key);
      this.log.debug({ network: e.target.network, remoteVtep: e.target.remoteVtep }, 'probe target removed');
      if (t === undefined) {
        const r = step(e.fsm, { type: 'removed' }, now, this.timers);
        // One that had answered comes back 'down' (fsm.ts: the 'removed' input).
        if (r.state.state === 'down') this.removed.set(key, e.target.localVtep);
        this.apply(e, r.state, r.actions);
      } else {
        // Re-made below as a new target, 'unknown'.
        this.input(e, { type: 'new-path' });
      }
    }
    for (const [key, t] of wanted) {
      const e = this.entries.get(key);
      if (e !== undefined) {
        e.target = t;
        this.refreshTemplate(e);
        this.input(e, { type: 'set-active', active: t.active !== false });
        continue;
      }
      const was = this.removed.get(key);
      this.removed.delete(key);
      const active = t.active !== false;
      const keep = 2 * this.timers.multiplier;
      const entry: Entry = {
        target: t, fsm: createProbeFsm(now, active, was === t.localVtep ? 'down' : 'unknown'),
        sent: 0, replies: 0, outSeq: new Float64Array(keep), outTx: new Float64Array(keep), outHead: 0, outCount: 0,
        remoteBytes: parseVtep(t.remoteVtep)!, nameBytes: utf8.encode(t.network),
        template: this.buildTemplate(t), templateKey: templateKey(t),
        timers: { send: undefined, detect: undefined, hold: undefined },
        fire: { send: () => {}, detect: () => {}, hold: () => {} },
      };
      for (const name of ['send', 'detect', 'hold'] as const) {
        const inp = TIMER_INPUT[name];
        entry.fire[name] = () => { entry.timers[name] = undefined; this.input(entry, inp); };
      }
      this.entries.set(key, entry);
      if (was !== undefined && was !== t.localVtep) {
        // A remembered target on another path: reported 'down' when it was removed, now 'unknown'.
        const r = step(createProbeFsm(now, active, 'down'), { type: 'new-path' }, now, this.timers);
        this.apply(entry, r.state, r.actions);
      }
      this.log.debug({ network: t.network, localVtep: t.localVtep, remoteVtep: t.remoteVtep, state: entry.fsm.state }, 'probe target added');
      if (this.running) this.startProbing(entry);
    }
    this.byTail = new Map();
    for (const e of this.entries.values()) {
      const k = addressTail(e.remoteBytes, e.remoteBytes.length);
      const list = this.byTail.get(k);
      if (list === undefined) this.byTail.set(k, [e]);
      else list.push(e);
    }
  }

  /** Probe state of a next hop, or undefined if it is not a target. */
  state(network: string, remoteVtep: string): ProbeState | undefined {
    return this.entries.get(targetKey(network, remoteVtep))?.fsm.state;
  }

  /**
   * May paths through this next hop be used? True for 'up' and 'unknown' and for
   * next hops that are not probed at all; false for 'down' and 'holddown'.
   */
  eligible(network: string, remoteVtep: string): boolean {
    const s = this.state(network, remoteVtep);
    return s === undefined || isEligible(s);
  }

  status(): ProbeTargetStatus[] {
    return [...this.entries.values()].map((e) => ({
      ...e.target,
      state: e.fsm.state,
      eligible: isEligible(e.fsm.state),
      rttMs: e.fsm.rttMs,
      srttMs: e.fsm.srttMs,
      lastReplyAt: e.fsm.lastReplyAt,
      since: e.fsm.since,
      sent: e.sent,
      replies: e.replies,
    }));
  }

  /** Replies per second the responder sends at most now. */
  replyCap(): number {
    return this.replyBudget.perSecond;
  }

  counters(): ProberCounters {
    return { ...this.stats, dropped: { ...this.stats.dropped } };
  }

  // -------------------------------------------------------------------------
  // Requester

  private startProbing(e: Entry): void {
    this.input(e, { type: 'start', jitter: this.random() });
  }

  /** Run one input through the target's state machine and carry out what it says. */
  private input(e: Entry, input: ProbeInput): void {
    const r = step(e.fsm, input, this.clock.now(), this.timers);
    this.apply(e, r.state, r.actions);
  }

  private apply(e: Entry, next: ProbeFsm, actions: readonly ProbeAction[]): void {
    e.fsm = next;
    for (const a of actions) {
      switch (a.type) {
        case 'send':
          this.sendRequest(e);
          break;
        case 'arm':
          this.arm(e, a.timer, a.ms);
          break;
        case 'cancel':
          e.timers[a.timer]?.cancel();
          e.timers[a.timer] = undefined;
          break;
        case 'transition':
          this.report(e, a.from, a.to, a.reason, a.eligible, a.rttMs);
          break;
      }
    }
  }

  private arm(e: Entry, timer: ProbeTimerName, ms: number): void {
    e.timers[timer]?.cancel();
    e.timers[timer] = this.clock.setTimer(ms, e.fire[timer]);
  }

  private sendRequest(e: Entry): void {
    const t = e.target;
    const seq = this.nextSeq;
    this.nextSeq = this.nextSeq >= 0xffffffff ? 1 : this.nextSeq + 1;
    // The exact time (not the tick's): the round-trip time is measured from it.
    const txTime = this.clock.exactNow();
    // A reply later than 2 x multiplier intervals no longer counts: the ring drops the oldest.
    const keep = e.outSeq.length;
    if (e.outCount === keep) {
      e.outHead = (e.outHead + 1) % keep;
      e.outCount--;
    }
    const at = (e.outHead + e.outCount) % keep;
    e.outSeq[at] = seq;
    e.outTx[at] = txTime;
    e.outCount++;
    e.sent++;
    this.stats.requestsSent++;
    // The template's buffer is reused: the transport sends it before this target's next tick.
    this.transport.send(t.localVtep, t.remoteVtep, e.template.stamp(seq, txTime));
  }

  private buildTemplate(t: ProbeTarget): ProbeRequestTemplate {
    return new ProbeRequestTemplate(
      { vni: this.vni, dstMac: t.remoteMac, srcMac: this.bridgeMac, srcIp: this.serviceIp, dstIp: t.remoteServiceIp, srcPort: this.probePort, dstPort: this.probePort },
      { nonce: this.nonce, senderVtep: t.localVtep, targetVtep: t.remoteVtep, senderMac: this.bridgeMac, network: t.network },
    );
  }

  private refreshTemplate(e: Entry): void {
    const k = templateKey(e.target);
    if (k === e.templateKey) return;
    e.template = this.buildTemplate(e.target);
    e.templateKey = k;
  }

  private frame(dstMac: string, dstIp: string, msg: ProbeMessage): Uint8Array {
    return encodeProbeFrame({
      vni: this.vni, dstMac, srcMac: this.bridgeMac, srcIp: this.serviceIp, dstIp,
      srcPort: this.probePort, dstPort: this.probePort, payload: encodeProbeMessage(msg),
    });
  }

  private onReply(msg: ProbeMessage): void {
    if (msg.nonce !== this.nonce) return this.drop('foreign-nonce');
    const e = this.entries.get(targetKey(msg.network, msg.senderVtep));
    if (e === undefined) return this.drop('unknown-target');
    const i = this.outstandingIndex(e, msg.sequence);
    if (i < 0) return this.drop('stale-sequence');
    if (e.outTx[(e.outHead + i) % e.outSeq.length] !== msg.echoTime) return this.drop('echo-mismatch');
    this.settle(e, i);
  }

  /** Position (from the oldest) of the outstanding request `seq` of `e`, or -1. */
  private outstandingIndex(e: Entry, seq: number): number {
    const keep = e.outSeq.length;
    for (let i = 0; i < e.outCount; i++) if (e.outSeq[(e.outHead + i) % keep] === seq) return i;
    return -1;
  }

  /** A valid reply to the outstanding request at position i: it and every older one are settled. */
  private settle(e: Entry, i: number): void {
    const keep = e.outSeq.length;
    const txTime = e.outTx[(e.outHead + i) % keep]!;
    e.outHead = (e.outHead + i + 1) % keep;
    e.outCount -= i + 1;
    e.replies++;
    this.stats.repliesReceived++;
    this.input(e, { type: 'reply', rttMs: this.clock.exactNow() - txTime });
  }

  /**
   * The common case, a valid reply to one of our outstanding requests, checked on
   * the bytes without decoding them (no strings, no message object): the fields
   * and offsets of docs/probe.md "Wire format" (packet.ts). Magic, version, type
   * Reply, our nonce, a target's remote VTEP address and network name, an
   * outstanding sequence number and its echoed transmit time. A reply to a request
   * carries them exactly as the request had them (an older responder too: it copies
   * Sequence, Nonce and Transmit Time and names the network it was asked about).
   * False for anything else: the full decode then classifies it (and counts the drop).
   */
  private fastReply(b: Uint8Array): boolean {
    if (b.length < PROBE_FIXED_LENGTH || b[5] !== ProbeTypeCode.reply) return false;
    const version = b[4];
    const alen = version === PROBE_VERSION ? 4 : version === PROBE_VERSION_IPV6 ? 16 : 0;
    if (alen === 0) return false;
    const fixed = alen === 4 ? PROBE_FIXED_LENGTH : PROBE_FIXED_LENGTH_IPV6;
    const nameLength = b[6]!;
    if (b.length < fixed + nameLength) return false;
    if (((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0 !== PROBE_MAGIC) return false;
    const nonce = this.nonceBytes;
    for (let i = 0; i < 8; i++) if (b[12 + i] !== nonce[i]) return false;
    const list = this.byTail.get(addressTail(b, 36 + alen));
    if (list === undefined) return false;
    let e: Entry | undefined;
    for (const c of list) {
      if (c.remoteBytes.length !== alen || c.nameBytes.length !== nameLength) continue;
      let same = true;
      for (let i = 0; i < alen && same; i++) same = b[36 + i] === c.remoteBytes[i];
      for (let i = 0; i < nameLength && same; i++) same = b[fixed + i] === c.nameBytes[i];
      if (same) { e = c; break; }
    }
    if (e === undefined) return false;
    const seq = ((b[8]! << 24) | (b[9]! << 16) | (b[10]! << 8) | b[11]!) >>> 0;
    const i = this.outstandingIndex(e, seq);
    if (i < 0) return false;
    // Echoed Time: binary64, big-endian, at 28.
    const fb = this.f64Bytes;
    for (let k = 0; k < 8; k++) fb[k] = b[28 + k]!;
    if (e.outTx[(e.outHead + i) % e.outSeq.length] !== this.f64View.getFloat64(0)) return false;
    this.settle(e, i);
    return true;
  }

  /** A state change: logged, and told to the listeners. */
  private report(e: Entry, from: ProbeState, to: ProbeState, reason: ProbeTransitionReason, eligible: boolean, rttMs: number | undefined): void {
    const ev: ProbeStateEvent = {
      network: e.target.network, localVtep: e.target.localVtep, remoteVtep: e.target.remoteVtep,
      from, to, reason, rttMs, at: this.clock.now(), eligible,
    };
    const fields = { network: ev.network, localVtep: ev.localVtep, remoteVtep: ev.remoteVtep, from, to, reason, rttMs: ev.rttMs };
    if (to === 'down' && reason !== 'target-removed') this.log.warn(fields, 'VTEP path down');
    else if (reason === 'target-removed') this.log.info(fields, 'VTEP path no longer used: to be verified again before use');
    else this.log.info(fields, `VTEP path ${to}`);
    for (const fn of [...this.listeners]) {
      try {
        fn(ev);
      } catch (err) {
        this.log.error({ err }, 'probe state listener threw');
      }
    }
  }

  // -------------------------------------------------------------------------
  // Responder and demultiplexing

  /** An inner UDP payload that reached the probe port, from inner source `from`. */
  private receive(payload: Uint8Array, from: string): void {
    if (!this.running) return;
    if (this.fastReply(payload)) return;
    const d = decodeProbeMessage(payload);
    if (!d.ok) return this.drop(d.error.kind);
    try {
      if (d.value.type === 'reply') this.onReply(d.value);
      else this.onRequest(d.value, from);
    } catch (err) {
      // Only a malformed field we copy into a reply (e.g. a non-IPv4 `from`) gets here.
      this.log.debug({ err, from }, 'probe packet not handled');
    }
  }

  private onRequest(req: ProbeMessage, from: string): void {
    // Prefer the address the request was sent to, then our uplink on its network.
    const uplink = this.uplinkByAddress.get(req.targetVtep) ?? this.uplinkByNetwork.get(req.network);
    if (uplink === undefined) return this.drop('no-uplink');
    if (!this.takeReplyToken()) return this.drop('rate-limited');
    const reply: ProbeMessage = {
      type: 'reply', sequence: req.sequence, nonce: req.nonce, txTime: this.clock.exactNow(), echoTime: req.txTime,
      senderVtep: uplink.address, targetVtep: req.senderVtep, senderMac: this.bridgeMac, network: req.network,
    };
    this.stats.requestsAnswered++;
    this.transport.send(uplink.address, req.senderVtep, this.frame(req.senderMac, from, reply));
  }

  private takeReplyToken(): boolean {
    const b = this.replyBudget;
    const now = this.clock.exactNow();
    b.tokens = Math.min(b.perSecond, b.tokens + ((now - b.refilledAt) * b.perSecond) / 1000);
    b.refilledAt = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  private drop(reason: DropReason): void {
    this.stats.dropped[reason] = (this.stats.dropped[reason] ?? 0) + 1;
    this.log.trace({ reason }, 'probe packet dropped');
  }
}

/**
 * Decode a whole probe datagram (VXLAN header on) as a transport that captures the
 * outer payload would see it: for tests and diagnostics.
 */
export function describeDatagram(datagram: Uint8Array): string {
  const f = decodeProbeFrame(datagram);
  if (!f.ok) return `invalid frame: ${f.error.kind} (${f.error.detail})`;
  const m = decodeProbeMessage(f.value.payload);
  const inner = `vni ${f.value.vni} ${f.value.srcMac} > ${f.value.dstMac} ${f.value.srcIp}.${f.value.srcPort} > ${f.value.dstIp}.${f.value.dstPort}`;
  if (!m.ok) return `${inner}: invalid probe: ${m.error.kind}`;
  return `${inner}: ${m.value.type} ${m.value.network} seq ${m.value.sequence} ${m.value.senderVtep} -> ${m.value.targetVtep}`;
}
