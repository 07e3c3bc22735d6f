// One BFD session: the shell around the pure FSM (fsm.ts) that turns its outputs
// into packets (through the transmit socket the manager hands it), timers on an
// injected Clock, events and log lines. Sessions are created and fed by BfdManager
// (manager.ts); sockets are in udp.ts.

import { EventEmitter } from 'node:events';
import type { Clock, Timer } from '../util/clock.js';
import { diagName, encodeControl, type ControlPacket, type Diag, type SessionState } from './packet.js';
import { detectionTimeUs, initialState, step, txIntervalUs, type BfdFsmState, type BfdInput, type BfdOutput, type BfdTimerName, type Random } from './fsm.js';
import {
  BFD_MULTIHOP_PORT, BFD_SINGLE_HOP_PORT, canonicalAddress, toTimers,
  type BfdDownEvent, type BfdLog, type BfdOptions, type BfdPeerConfig, type BfdSessionEvents, type BfdSessionHandle, type BfdSessionInfo,
} from './types.js';
import type { BfdTxHandle } from './udp.js';

// Kept importable from here (src/agent/config.ts and others import them from this file).
export {
  BFD_DEFAULTS, BFD_MULTIHOP_PORT, BFD_SINGLE_HOP_PORT, BFD_SOURCE_PORT_MAX, BFD_SOURCE_PORT_MIN, BFD_TTL,
  canonicalAddress, sessionKey, toTimers,
  type BfdDownEvent, type BfdLog, type BfdOptions, type BfdPeerConfig, type BfdSessionEvents, type BfdSessionInfo,
} from './types.js';

/**
 * One BFD session, owned by a BfdManager. It never throws at its user and never
 * emits `down` unless it was Up: a peer that never answers leaves it Down, sending
 * one packet per second, with a single log line.
 */
export class BfdSession extends EventEmitter<BfdSessionEvents> implements BfdSessionHandle {
  readonly local: string;
  readonly remote: string;
  readonly multihop: boolean;
  readonly device: string | undefined;
  private fsm: BfdFsmState;
  private readonly timers = new Map<BfdTimerName, Timer>();
  private readonly queue: BfdInput[] = [];
  private running = false;
  private tx: BfdTxHandle | undefined;
  private closed = false;
  private sendFailing = false;
  private counters = { txPackets: 0, rxPackets: 0, txErrors: 0, upTransitions: 0, downTransitions: 0 };
  private lastUpAt: number | undefined;
  private lastDownAt: number | undefined;

  /** @internal created by BfdManager.add */
  constructor(
    cfg: BfdPeerConfig,
    localDiscr: number,
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly log: BfdLog,
    private readonly afterIo: ((fn: () => void) => void) | undefined = undefined,
  ) {
    super();
    this.local = canonicalAddress(cfg.local);
    this.remote = canonicalAddress(cfg.remote);
    this.multihop = cfg.multihop ?? false;
    this.device = cfg.device;
    this.fsm = initialState(localDiscr, toTimers(cfg));
  }

  get state(): SessionState { return this.fsm.sessionState; }
  get isUp(): boolean { return this.fsm.sessionState === 'Up'; }
  get localDiscriminator(): number { return this.fsm.localDiscr; }
  get remoteDiscriminator(): number { return this.fsm.remoteDiscr; }
  get diag(): Diag { return this.fsm.localDiag; }
  get port(): number { return this.multihop ? BFD_MULTIHOP_PORT : BFD_SINGLE_HOP_PORT; }

  /** §6.8.16: take the session administratively down (the peer sees AdminDown, diag 7). */
  adminDown(): void { this.input({ type: 'adminDown' }); }
  /** Leave AdminDown; the session comes back Up through the normal handshake. */
  adminUp(): void { this.input({ type: 'adminUp' }); }
  /** Change timers; when Up a Poll Sequence applies them without a flap (§6.8.3). */
  setOptions(o: BfdOptions): void { this.input({ type: 'setTimers', timers: toTimers(o) }); }

  snapshot(): BfdSessionInfo {
    const s = this.fsm;
    return {
      local: this.local,
      remote: this.remote,
      multihop: this.multihop,
      state: s.sessionState,
      remoteState: s.remoteSessionState,
      diag: s.localDiag,
      diagName: diagName(s.localDiag),
      localDiscriminator: s.localDiscr,
      remoteDiscriminator: s.remoteDiscr,
      txIntervalMs: txIntervalUs(s) / 1000,
      detectTimeMs: detectionTimeUs(s) / 1000,
      remoteMinRxMs: s.remoteMinRxUs / 1000,
      remoteMinTxMs: s.remoteDesiredMinTxUs / 1000,
      remoteMultiplier: s.remoteDetectMult,
      sourcePort: this.tx?.port ?? 0,
      lastUpAt: this.lastUpAt,
      lastDownAt: this.lastDownAt,
      counters: { ...this.counters },
    };
  }

  /** @internal the manager opened our transmit socket: start transmitting. */
  attach(tx: BfdTxHandle): void {
    if (this.closed) { tx.close(); return; }
    this.tx = tx;
    this.input({ type: 'start' });
  }

  /** @internal a packet demultiplexed to this session. */
  receive(packet: ControlPacket): void {
    this.counters.rxPackets++;
    this.input({ type: 'receive', packet });
  }

  /** @internal stop: optionally tell the peer AdminDown first (RFC 5882 §3.2), then release everything. */
  shutdown(sendAdminDown: boolean): void {
    if (this.closed) return;
    if (sendAdminDown && this.tx !== undefined && this.fsm.sessionState !== 'AdminDown') this.input({ type: 'adminDown' });
    this.closed = true;
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
    this.queue.length = 0;
    this.tx?.close();
    this.tx = undefined;
  }

  private input(i: BfdInput): void {
    if (this.closed) return;
    this.queue.push(i);
    if (this.running) return; // re-entered from an event handler: the loop below picks it up
    this.running = true;
    try {
      for (let next = this.queue.shift(); next !== undefined && !this.closed; next = this.queue.shift()) {
        const r = step(this.fsm, next, this.random);
        this.fsm = r.state;
        for (const o of r.outputs) this.apply(o);
      }
    } finally {
      this.running = false;
    }
  }

  private apply(o: BfdOutput): void {
    switch (o.type) {
      case 'send':
        this.send(o.packet);
        return;
      case 'armTimer': {
        this.timers.get(o.timer)?.cancel();
        const timer = o.timer;
        this.timers.set(timer, this.clock.setTimer(o.afterUs / 1000, () => {
          this.timers.delete(timer);
          if (timer === 'detect' && this.afterIo) {
            // A detection timer that fires after our own event loop was busy may find
            // the peer's packets still unread in the socket: let pending I/O run first
            // (setImmediate runs after the poll phase). A packet read meanwhile re-arms
            // the timer; only a detection time without any packet takes the session down.
            this.afterIo(() => {
              if (!this.closed && !this.timers.has('detect')) this.input({ type: 'timer', timer });
            });
            return;
          }
          this.input({ type: 'timer', timer });
        }));
        return;
      }
      case 'cancelTimer':
        this.timers.get(o.timer)?.cancel();
        this.timers.delete(o.timer);
        return;
      case 'stateChange':
        this.onStateChange(o.from, o.to, o.diag, o.remoteState);
        return;
    }
  }

  private onStateChange(from: SessionState, to: SessionState, diag: Diag, remoteState: SessionState): void {
    const now = this.clock.now();
    const fields = { local: this.local, remote: this.remote, from, to, diag: diagName(diag), remoteState };
    if (to === 'Up') {
      this.counters.upTransitions++;
      this.lastUpAt = now;
      this.log.info(fields, 'bfd session up');
    } else if (from === 'Up') {
      this.counters.downTransitions++;
      this.lastDownAt = now;
      this.log.warn(fields, 'bfd session down');
    } else {
      this.log.debug(fields, 'bfd state change');
    }
    this.emit('stateChange', from, to, diag);
    if (to === 'Up') this.emit('up');
    else if (from === 'Up' && to === 'Down') {
      const ev: BfdDownEvent = { diag, diagName: diagName(diag), upForMs: this.lastUpAt === undefined ? 0 : now - this.lastUpAt };
      if (remoteState === 'AdminDown') this.emit('peerAdminDown', ev);
      else this.emit('down', ev);
    }
    if (to === 'AdminDown') this.emit('adminDown');
  }

  private send(packet: ControlPacket): void {
    const tx = this.tx;
    if (tx === undefined) return;
    const bytes = encodeControl(packet);
    tx.send(bytes, this.remote + (this.device && this.remote.startsWith('fe80:') ? `%${this.device}` : ''), this.port, (err) => {
      if (err) {
        this.counters.txErrors++;
        // One warning per failing streak (e.g. no route while the uplink is down), not one per packet.
        if (!this.sendFailing) this.log.warn({ local: this.local, remote: this.remote, err: err.message }, 'bfd send failing');
        this.sendFailing = true;
      } else {
        this.counters.txPackets++;
        if (this.sendFailing) this.log.info({ local: this.local, remote: this.remote }, 'bfd send recovered');
        this.sendFailing = false;
      }
    });
  }
}
