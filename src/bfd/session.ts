// BFD sessions on UDP: the only BFD file that touches sockets and timers. Runs the
// pure FSM (fsm.ts) on an injected Clock and demultiplexes received packets.
//
// Transport (RFC 5881 single hop, RFC 5883 multihop):
//  * Control packets go to UDP port 3784 (single hop, RFC 5881 §4) or 4784
//    (multihop, RFC 5883 §5), from a source port in 49152-65535 that stays the
//    same for the life of the session (RFC 5881 §4), one per session.
//  * TTL / Hop Limit 255 on transmit (RFC 5881 §5; RFC 5883 §5 leaves it to
//    the implementation, 255 is what FRR sends). On receive, RFC 5881 §5: a
//    single-hop packet with a TTL / Hop Limit below 255 is discarded. Node's dgram
//    cannot read the received TTL and Linux applies IP_MINTTL to TCP only, so the
//    single-hop receive socket is made by src/net/sockopt.ts with a BPF socket
//    filter that lets only TTL 255 through (the kernel drops the rest before
//    they reach the socket); see docs/bfd.md.
//  * Sockets are bound to the local address; Node has no SO_BINDTODEVICE, so
//    `device` is only used as the IPv6 scope of link-local addresses.

import { EventEmitter } from 'node:events';
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { pino, type Logger } from 'pino';
import { systemClock, type Clock, type Timer } from '../util/clock.js';
import { ttl255UdpFd } from '../net/sockopt.js';
import { BfdPacketError, decodeControl, diagName, encodeControl, type ControlPacket, type Diag, type SessionState } from './packet.js';
import { detectionTimeUs, initialState, step, txIntervalUs, type BfdFsmState, type BfdInput, type BfdOutput, type BfdTimerName, type BfdTimers, type Random } from './fsm.js';

/** RFC 5881 §4: destination port of single-hop Control packets. */
export const BFD_SINGLE_HOP_PORT = 3784;
/** RFC 5883 §5: destination port of multihop Control packets. */
export const BFD_MULTIHOP_PORT = 4784;
/** RFC 5881 §4: source port range. */
export const BFD_SOURCE_PORT_MIN = 49152;
export const BFD_SOURCE_PORT_MAX = 65535;
/** RFC 5881 §5: single-hop packets are sent with TTL / Hop Limit 255. */
export const BFD_TTL = 255;

/** The uplink `bfd:` block (docs/bfd.md). Intervals in milliseconds. */
export interface BfdOptions {
  /** Desired Min TX Interval once Up, ms (default 300). */
  minTx?: number;
  /** Required Min RX Interval, ms (default 300). */
  minRx?: number;
  /** Detect Mult (default 3). */
  multiplier?: number;
}

export const BFD_DEFAULTS: Readonly<Required<BfdOptions>> = { minTx: 300, minRx: 300, multiplier: 3 };

export interface BfdPeerConfig extends BfdOptions {
  /** Local address the session's sockets bind to (the uplink's address). */
  local: string;
  /** The peer's address (the route reflector). */
  remote: string;
  /** RFC 5883 multihop (port 4784) instead of RFC 5881 single hop (port 3784). */
  multihop?: boolean;
  /** Interface; used only as the scope of IPv6 link-local addresses (no SO_BINDTODEVICE in Node). */
  device?: string;
}

/** Convert the ms options into FSM timers (µs), filling defaults. */
export function toTimers(o: BfdOptions): BfdTimers {
  const minTx = o.minTx ?? BFD_DEFAULTS.minTx;
  const minRx = o.minRx ?? BFD_DEFAULTS.minRx;
  const multiplier = o.multiplier ?? BFD_DEFAULTS.multiplier;
  for (const [k, v] of [['minTx', minTx], ['minRx', minRx]] as const) {
    if (!Number.isFinite(v) || v < 1 || v > 4_294_967) throw new RangeError(`bfd.${k} ${v} ms out of range 1..4294967`);
  }
  if (!Number.isInteger(multiplier) || multiplier < 1 || multiplier > 255) {
    throw new RangeError(`bfd.multiplier ${multiplier} out of range 1..255`);
  }
  return { desiredMinTxUs: Math.round(minTx * 1000), requiredMinRxUs: Math.round(minRx * 1000), detectMult: multiplier };
}

// ---------------------------------------------------------------------------
// Transport: real UDP sockets, or a fake in unit tests.

export interface BfdRxHandle { close(): void }
export interface BfdTxHandle {
  /** Source port actually bound. */
  readonly port: number;
  send(packet: Buffer, address: string, port: number, cb: (err: Error | null) => void): void;
  close(): void;
}
export type BfdRxHandler = (packet: Buffer, from: { address: string; port: number }) => void;

export interface BfdTransport {
  /** Listen on local:port for Control packets (port 3784 or 4784). */
  openRx(local: string, port: number, onPacket: BfdRxHandler): Promise<BfdRxHandle>;
  /** A transmit socket on local and a free source port in 49152-65535, TTL 255. */
  openTx(local: string, random: Random): Promise<BfdTxHandle>;
}

/** Bind to address:port, or take an fd that is bound already. */
function bindSocket(sock: Socket, address: string, port: number, fd?: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => { sock.removeListener('listening', onListening); reject(e); };
    const onListening = (): void => { sock.removeListener('error', onError); resolve(); };
    sock.once('error', onError);
    sock.once('listening', onListening);
    sock.bind(fd !== undefined ? { fd } : { address, port, exclusive: true });
  });
}

function closeQuietly(sock: Socket): void {
  try { sock.close(); } catch { /* already closed */ }
}

/** The real transport on node:dgram. */
export function udpTransport(log: Logger): BfdTransport {
  return {
    async openRx(local, port, onPacket) {
      // RFC 5881 §5 receive check for single hop, in the kernel (throws EADDRINUSE etc. like bind).
      const fd = port === BFD_SINGLE_HOP_PORT ? ttl255UdpFd(local, port) : undefined;
      const sock = createSocket({ type: isIPv6(local.split('%')[0]!) ? 'udp6' : 'udp4' });
      sock.on('message', (msg, rinfo) => onPacket(msg, { address: rinfo.address, port: rinfo.port }));
      try {
        await bindSocket(sock, local, port, fd);
      } catch (e) {
        closeQuietly(sock);
        throw e;
      }
      sock.on('error', (e) => log.debug({ err: e, local, port }, 'bfd rx socket error'));
      return { close: () => closeQuietly(sock) };
    },
    async openTx(local, random) {
      const span = BFD_SOURCE_PORT_MAX - BFD_SOURCE_PORT_MIN + 1;
      let lastErr: unknown;
      for (let attempt = 0; attempt < 32; attempt++) {
        const port = BFD_SOURCE_PORT_MIN + Math.floor(random() * span) % span;
        const sock = createSocket({ type: isIPv6(local) ? 'udp6' : 'udp4' });
        try {
          await bindSocket(sock, local, port);
        } catch (e) {
          closeQuietly(sock);
          lastErr = e;
          if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') continue;
          throw e;
        }
        sock.setTTL(BFD_TTL); // RFC 5881 §5 (IP_TTL / IPV6_UNICAST_HOPS)
        sock.on('error', (e) => log.debug({ err: e, local, port }, 'bfd tx socket error'));
        // Nothing is expected on the transmit socket; drain anything that arrives.
        sock.on('message', () => {});
        // close() lets sends already handed to dgram finish (e.g. the final AdminDown packet).
        let inFlight = 0;
        let closing = false;
        return {
          port,
          send: (packet, address, dport, cb) => {
            if (closing) return;
            inFlight++;
            sock.send(packet, dport, address, (err) => {
              inFlight--;
              if (closing && inFlight === 0) closeQuietly(sock);
              cb(err ?? null);
            });
          },
          close: () => {
            closing = true;
            if (inFlight === 0) closeQuietly(sock);
          },
        };
      }
      throw lastErr instanceof Error ? lastErr : new Error('no free BFD source port');
    },
  };
}

// ---------------------------------------------------------------------------
// One session

/** Canonical text of an address for keys: lower-case, IPv6 compressed, IPv4-mapped unwrapped, no scope. */
export function canonicalAddress(a: string): string {
  let s = a.trim().toLowerCase();
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  if (s.startsWith('::ffff:') && !isIPv6(s.slice(7)) && s.slice(7).includes('.')) return s.slice(7);
  if (isIPv6(s)) return new URL(`http://[${s}]/`).hostname.slice(1, -1);
  return s;
}

export interface BfdDownEvent {
  diag: Diag;
  /** Operator-facing diag name, e.g. ControlDetectionTimeExpired. */
  diagName: string;
  /** How long the session had been Up, ms. */
  upForMs: number;
}

export interface BfdSessionInfo {
  local: string;
  remote: string;
  multihop: boolean;
  state: SessionState;
  remoteState: SessionState;
  diag: Diag;
  diagName: string;
  localDiscriminator: number;
  remoteDiscriminator: number;
  /** Negotiated transmit interval (before jitter), ms. */
  txIntervalMs: number;
  /** Current Detection Time, ms (0 before any packet was received). */
  detectTimeMs: number;
  remoteMinRxMs: number;
  remoteMinTxMs: number;
  remoteMultiplier: number;
  /** Source port of our packets (0 while the sockets are not open). */
  sourcePort: number;
  /** Clock time of the last transition to Up / out of Up (undefined if never). */
  lastUpAt: number | undefined;
  lastDownAt: number | undefined;
  counters: { txPackets: number; rxPackets: number; txErrors: number; upTransitions: number; downTransitions: number };
}

export interface BfdSessionEvents {
  /** Entered Up. */
  up: [];
  /**
   * Left Up for Down because the path failed (detection time expired, or the peer
   * reported Down): the client protocol (BGP) should go down at once (RFC 5882 §4.1).
   */
  down: [BfdDownEvent];
  /**
   * Left Up because the peer signalled AdminDown (diag NeighborSignaledSessionDown,
   * remote state AdminDown): not a path failure, so per RFC 5882 §3.2 the client
   * should NOT be taken down. Emitted instead of `down`.
   */
  peerAdminDown: [BfdDownEvent];
  /** Local AdminDown (adminDown() or close()). */
  adminDown: [];
  /** Every state transition, for logging and observability. */
  stateChange: [from: SessionState, to: SessionState, diag: Diag];
}

/**
 * One BFD session, owned by a BfdManager. It never throws at its user and never
 * emits `down` unless it was Up: a peer that never answers leaves it Down, sending
 * one packet per second, with a single log line.
 */
export class BfdSession extends EventEmitter<BfdSessionEvents> {
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
    private readonly log: Logger,
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

// ---------------------------------------------------------------------------
// The manager: sessions keyed by (local, remote, multihop), shared receive sockets.

export interface BfdManagerOptions {
  clock?: Clock;
  transport?: BfdTransport;
  logger?: Logger;
  /** Randomness for jitter, discriminators and source ports (default Math.random). */
  random?: Random;
  /** Retry delay when a socket cannot be opened (address not yet configured, port busy), ms. Default 5000. */
  retryMs?: number;
  /**
   * How an expired detection timer waits for pending I/O before it counts (see
   * BfdSession). Default: setImmediate with the system clock; none (at once) with an
   * injected clock, so tests on a ManualClock stay synchronous.
   */
  afterIo?: ((fn: () => void) => void) | null;
}

interface RxEntry {
  handle: BfdRxHandle | undefined;
  refs: number;
  opening: Promise<void> | undefined;
}

export function sessionKey(local: string, remote: string, multihop = false): string {
  return `${canonicalAddress(local)}|${canonicalAddress(remote)}|${multihop ? 'mh' : 'sh'}`;
}

/** Counters of packets the demultiplexer dropped, by reason. */
export type BfdDropCounters = Record<string, number>;

export class BfdManager {
  private readonly clock: Clock;
  private readonly transport: BfdTransport;
  private readonly log: Logger;
  private readonly random: Random;
  private readonly retryMs: number;
  private readonly afterIo: ((fn: () => void) => void) | undefined;
  private readonly byKey = new Map<string, BfdSession>();
  private readonly byDiscr = new Map<number, BfdSession>();
  private readonly rx = new Map<string, RxEntry>();
  private readonly retries = new Map<BfdSession, Timer>();
  private readonly openFailures = new Set<BfdSession>();
  private readonly holdsRx = new Set<BfdSession>();
  readonly drops: BfdDropCounters = {};

  constructor(opts: BfdManagerOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? pino({ level: 'silent' });
    this.transport = opts.transport ?? udpTransport(this.log);
    this.random = opts.random ?? Math.random;
    this.retryMs = opts.retryMs ?? 5000;
    this.afterIo = opts.afterIo === undefined ? (opts.clock ? undefined : (fn) => { setImmediate(fn); }) : opts.afterIo ?? undefined;
  }

  /** Create (or return the existing) session to `cfg.remote` from `cfg.local`. Sockets open in the background. */
  add(cfg: BfdPeerConfig): BfdSession {
    const key = sessionKey(cfg.local, cfg.remote, cfg.multihop);
    const existing = this.byKey.get(key);
    if (existing) {
      existing.setOptions(cfg);
      return existing;
    }
    const session = new BfdSession(cfg, this.newDiscriminator(), this.clock, this.random, this.log, this.afterIo);
    this.byKey.set(key, session);
    this.byDiscr.set(session.localDiscriminator, session);
    this.open(session);
    return session;
  }

  get(local: string, remote: string, multihop = false): BfdSession | undefined {
    return this.byKey.get(sessionKey(local, remote, multihop));
  }

  sessions(): BfdSession[] {
    return [...this.byKey.values()];
  }

  /** Remove a session; by default the peer is told AdminDown first so it does not see a failure. */
  remove(session: BfdSession, opts: { adminDown?: boolean } = {}): void {
    const key = sessionKey(session.local, session.remote, session.multihop);
    if (this.byKey.get(key) !== session) return;
    this.byKey.delete(key);
    this.byDiscr.delete(session.localDiscriminator);
    this.retries.get(session)?.cancel();
    this.retries.delete(session);
    this.openFailures.delete(session);
    session.shutdown(opts.adminDown ?? true);
    if (this.holdsRx.delete(session)) this.releaseRx(session.local, session.port);
  }

  close(opts: { adminDown?: boolean } = {}): void {
    for (const s of this.sessions()) this.remove(s, opts);
  }

  /** Feed one received datagram (exposed for tests and for a shell that owns its own sockets). */
  handlePacket(local: string, port: number, bytes: Buffer, from: { address: string; port: number }): void {
    let packet: ControlPacket;
    try {
      packet = decodeControl(bytes);
    } catch (e) {
      if (!(e instanceof BfdPacketError)) throw e;
      this.drop(e.kind, from.address, e.message);
      return;
    }
    const src = canonicalAddress(from.address);
    const loc = canonicalAddress(local);
    const multihop = port === BFD_MULTIHOP_PORT;
    let session: BfdSession | undefined;
    if (packet.yourDiscriminator !== 0) {
      // §6.8.6: select the session by Your Discriminator; none -> discard.
      session = this.byDiscr.get(packet.yourDiscriminator);
      if (session === undefined) { this.drop('unknownDiscriminator', src); return; }
      // RFC 5881 §3 / RFC 5883 §3: the discriminator must belong to this address pair.
      if (session.remote !== src || session.local !== loc || session.multihop !== multihop) {
        this.drop('addressMismatch', src);
        return;
      }
    } else {
      // §6.8.6: Your Discriminator zero: select by addresses (RFC 5881 §3, RFC 5883 §3).
      session = this.byKey.get(sessionKey(loc, src, multihop));
      if (session === undefined) { this.drop('noSession', src); return; }
    }
    session.receive(packet);
  }

  private drop(reason: string, from: string, detail?: string): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
    this.log.debug({ from, reason, detail }, 'bfd packet discarded');
  }

  private newDiscriminator(): number {
    for (;;) {
      const d = (Math.floor(this.random() * 0xffffffff) >>> 0) + 1; // §6.8.1: nonzero, unique
      if (d <= 0xffffffff && !this.byDiscr.has(d)) return d;
    }
  }

  private bindAddress(session: BfdSession): string {
    // IPv6 link-local needs its scope; that is the only use of `device` (no SO_BINDTODEVICE in Node).
    return session.device !== undefined && session.local.startsWith('fe80:') ? `${session.local}%${session.device}` : session.local;
  }

  private isCurrent(session: BfdSession): boolean {
    return this.byKey.get(sessionKey(session.local, session.remote, session.multihop)) === session;
  }

  private open(session: BfdSession): void {
    const { local, port } = session;
    void (async () => {
      try {
        await this.acquireRx(this.bindAddress(session), local, port);
        if (!this.isCurrent(session)) { this.releaseRx(local, port); return; }
        this.holdsRx.add(session);
        const tx = await this.transport.openTx(this.bindAddress(session), this.random);
        if (!this.isCurrent(session)) { tx.close(); return; }
        if (this.openFailures.delete(session)) this.log.info({ local, remote: session.remote }, 'bfd sockets open');
        session.attach(tx);
      } catch (e) {
        if (this.holdsRx.delete(session)) this.releaseRx(local, port);
        if (!this.isCurrent(session)) return;
        // Address not (yet) configured, port taken: retry quietly; log once per failing streak.
        const msg = e instanceof Error ? e.message : String(e);
        if (!this.openFailures.has(session)) this.log.warn({ local, remote: session.remote, err: msg }, 'bfd cannot open sockets, retrying');
        else this.log.debug({ local, remote: session.remote, err: msg }, 'bfd cannot open sockets, retrying');
        this.openFailures.add(session);
        this.retries.set(session, this.clock.setTimer(this.retryMs, () => {
          this.retries.delete(session);
          if (this.isCurrent(session)) this.open(session);
        }));
      }
    })();
  }

  private async acquireRx(bindAddr: string, local: string, port: number): Promise<void> {
    const key = `${local}|${port}`;
    let entry = this.rx.get(key);
    if (entry === undefined) {
      entry = { handle: undefined, refs: 0, opening: undefined };
      this.rx.set(key, entry);
    }
    entry.refs++;
    if (entry.handle !== undefined) return;
    if (entry.opening === undefined) {
      const e = entry;
      e.opening = this.transport.openRx(bindAddr, port, (bytes, from) => this.handlePacket(local, port, bytes, from))
        .then((h) => {
          if (e.refs === 0) { h.close(); this.rx.delete(key); return; }
          e.handle = h;
        })
        .finally(() => { e.opening = undefined; });
    }
    try {
      await entry.opening;
    } catch (err) {
      this.releaseRx(local, port);
      throw err;
    }
  }

  private releaseRx(local: string, port: number): void {
    const key = `${local}|${port}`;
    const entry = this.rx.get(key);
    if (entry === undefined) return;
    entry.refs = Math.max(0, entry.refs - 1);
    if (entry.refs > 0) return;
    if (entry.handle !== undefined) {
      entry.handle.close();
      this.rx.delete(key);
    } else if (entry.opening === undefined) {
      this.rx.delete(key);
    }
  }
}
