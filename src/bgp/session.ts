// One BGP session: the shell around the pure FSM (fsm.ts). It carries out the
// FSM's outputs (connect, send, close, timers on an injected Clock) on an
// injected BgpTransport (transport.ts; tcp.ts is the real one), frames and
// decodes what arrives, keeps the Adj-RIB-Out and sends it whole (+ End-of-RIB,
// RFC 4724 §2) after each establishment, and reports events to its user.
import { ipVersion } from '../wire/addr.js';
import { EventEmitter } from 'node:events';
import { pino, type Logger } from 'pino';
import { systemClock, type Clock, type Timer } from '../util/clock.js';
import { BgpError, ErrorCode, describeNotification } from './errors.js';
import type { TcpAuth } from '../net/sockopt.js';
import { connectionSecurity, endSocket, newConn, noAnswerText, plainAddress, writeNotification, type Conn } from './connection.js';
import { decodeMessage, encodeMessage } from './message.js';
import { AdjRibOut } from './adj-rib-out.js';
import { endOfRib, isEndOfRib } from './pack.js';
import {
  createFsm, describeNotificationInfo, messageInput, step,
  type Fsm, type FsmInput, type FsmOutput, type NotificationInfo, type StateName, type TimerName,
} from './fsm.js';
import { DEFAULT_FAMILIES, familyName, type Negotiated } from './negotiate.js';
import type { BgpConnection, BgpListener, BgpTransport, ConnectionHandlers, ConnectRequest, TransportAddress } from './transport.js';
import type {
  CodecContext, Family, Message, NlriRoute, OutRoute,
  RouteRefreshMessage, UpdateMessage,
} from './types.js';

export type { Negotiated } from './negotiate.js';
export type { StateName } from './fsm.js';
export type { OutRoute } from './types.js';
export { exportAttributes } from './adj-rib-out.js';

export interface BgpSessionOptions {
  /** How connections to the peer are made and accepted (tcp.ts: kernel TCP). */
  transport: BgpTransport;
  peerAddress: string;
  /** Default 179. */
  peerPort?: number;
  /** Source address for connect(), and the listen address when listening. */
  localAddress?: string;
  localAs: number;
  peerAs: number;
  routerId: string;
  /** Seconds; default 90. 0 disables hold timer and keepalives; 1 and 2 are invalid. */
  holdTime?: number;
  /** Seconds; the negotiated interval is min(this, hold / 3). */
  keepalive?: number;
  /** Only accept the peer's connection, never connect. Implies listening. */
  passive?: boolean;
  /** Backoff between attempts, ms (default 1000 → 30000, ×0.75..1 jitter). */
  connectRetry?: { min: number; max: number };
  /** Timeout of one TCP connect, ms (default 30000). */
  connectTimeout?: number;
  /** Default [L2VPN EVPN]. */
  families?: Family[];
  /**
   * The family of the routes given to advertise() / withdraw(); its NLRI codec
   * must be registered (nlri.ts; importing evpn/nlri.ts registers L2VPN EVPN).
   * Default the first of DEFAULT_FAMILIES (L2VPN EVPN).
   */
  family?: Family;
  /** RFC 4724 capability; not advertised unless given. */
  gracefulRestart?: { restartTime: number; families?: Family[] } | false;
  /** RFC 7313 capability; default true. */
  enhancedRouteRefresh?: boolean;
  clock?: Clock;
  logger?: Logger;
  /**
   * Listen for the peer's connections on (localAddress or 0.0.0.0):port (default 179; 0 = ephemeral).
   * false: never listen, not even when passive; the owner of a shared listener hands
   * the peer's connections in with acceptConnection() (a route reflector's listen range).
   */
  listen?: { port?: number } | false;
  /**
   * RFC 4456 route reflector: ORIGINATOR_ID and CLUSTER_LIST given in advertise()
   * are sent to an iBGP peer (never to an eBGP one). Default false: never sent.
   */
  reflection?: boolean;
  /** Jitter source in [0, 1) (tests). */
  random?: () => number;
  /** TCP-MD5 (RFC 2385) or TCP-AO (RFC 5925) with the peer, on our connections and our listener. */
  auth?: TcpAuth | null;
  /** RFC 5082 GTSM: the peer is at most this many hops away (send TTL 255, accept >= 256 - hops). */
  ttlSecurity?: number | null;
}

export interface DownEvent {
  reason: string;
  notification?: NotificationInfo;
}

export interface LastError {
  code: number | null;
  subcode: number | null;
  text: string;
}

export interface BgpSessionEvents {
  state: [from: StateName, to: StateName];
  established: [negotiated: Negotiated];
  /** The session left Established (connection attempts that fail are only logged). */
  down: [info: DownEvent];
  update: [update: UpdateMessage];
  eor: [family: Family];
  routeRefresh: [message: RouteRefreshMessage];
  /** The listening socket is bound (see listenAddress()). */
  listening: [address: TransportAddress];
}

const TIMER_INPUT: Record<TimerName, FsmInput> = {
  connectRetry: { type: 'ConnectRetryTimerExpires' },
  hold: { type: 'HoldTimerExpires' },
  keepalive: { type: 'KeepaliveTimerExpires' },
  idleHold: { type: 'IdleHoldTimerExpires' },
};

function sameFamily(a: Family, b: Family): boolean {
  return a.afi === b.afi && a.safi === b.safi;
}

export class BgpSession extends EventEmitter<BgpSessionEvents> {
  private fsm: Fsm;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly opts: BgpSessionOptions;
  private readonly timers = new Map<TimerName, Timer>();
  /** The connection the FSM runs on (ours or the peer's). */
  private conn: Conn | null = null;
  /** The peer's second connection while the FSM settles a collision (RFC 4271 §6.8; fsm.ts). */
  private candidate: Conn | null = null;
  /** Accepted connections the FSM has not decided on yet, by number. */
  private readonly accepted = new Map<number, Conn>();
  private server: BgpListener | null = null;
  private readonly adjOut: AdjRibOut;
  /** The family of the Adj-RIB-Out's routes. */
  private readonly family: Family;
  private queue: FsmInput[] = [];
  private busy = false;
  private closing = new Set<Promise<void>>();

  private negotiatedValue: Negotiated | null = null;
  private uptimeSinceValue: number | null = null;
  private lastErrorValue: LastError | null = null;

  constructor(opts: BgpSessionOptions) {
    super();
    if (ipVersion(opts.peerAddress) === 0) throw new RangeError(`peer address is not an IP address: ${opts.peerAddress}`);
    if (opts.localAddress !== undefined && ipVersion(opts.localAddress) === 0) {
      throw new RangeError(`local address is not an IP address: ${opts.localAddress}`);
    }
    this.opts = opts;
    this.family = opts.family ?? DEFAULT_FAMILIES[0]!;
    this.adjOut = new AdjRibOut(this.family);
    this.clock = opts.clock ?? systemClock;
    this.log = (opts.logger ?? pino({ level: 'silent' })).child({ peer: opts.peerAddress });
    const fsmOpts: Parameters<typeof createFsm>[0] = {
      localAs: opts.localAs,
      peerAs: opts.peerAs,
      routerId: opts.routerId,
      holdTime: opts.holdTime ?? 90,
      families: opts.families ?? DEFAULT_FAMILIES,
      gracefulRestart: opts.gracefulRestart ?? false,
      enhancedRouteRefresh: opts.enhancedRouteRefresh ?? true,
    };
    if (opts.keepalive !== undefined) fsmOpts.keepalive = opts.keepalive;
    if (opts.connectRetry !== undefined) fsmOpts.connectRetry = opts.connectRetry;
    if (opts.connectTimeout !== undefined) fsmOpts.connectRetryTime = opts.connectTimeout;
    if (opts.random !== undefined) fsmOpts.random = opts.random;
    this.fsm = createFsm(fsmOpts);
  }

  get state(): StateName {
    return this.fsm.state;
  }

  /** What the OPEN exchange settled; null while not Established. */
  get negotiated(): Negotiated | null {
    return this.negotiatedValue;
  }

  /** clock.now() when the session last became Established; null while not Established. */
  get uptimeSince(): number | null {
    return this.uptimeSinceValue;
  }

  /** Why the last connection or attempt ended (NOTIFICATION code/subcode when there was one). */
  get lastError(): LastError | null {
    return this.lastErrorValue;
  }

  /** The bound listening address, once 'listening' was emitted. */
  listenAddress(): TransportAddress | null {
    return this.server?.address() ?? null;
  }

  /**
   * A connection from the peer accepted by someone else's listener (listen: false).
   * Handled as if our own listener had accepted it: taken when waiting for the peer,
   * collision detection in Connect/OpenSent/OpenConfirm (RFC 4271 §6.8), refused
   * when Idle or Established; a connection from another address is destroyed.
   */
  acceptConnection(c: BgpConnection): void {
    this.onAccept(c);
  }

  /** Routes currently in the Adj-RIB-Out. */
  advertised(): OutRoute[] {
    return this.adjOut.all();
  }

  start(): void {
    const passive = this.opts.passive ?? false;
    if (this.opts.listen !== false && (passive || this.opts.listen) && !this.server) this.listen();
    this.input({ type: 'ManualStart', passive });
  }

  /** Cease (Administrative Shutdown, with `reason` as RFC 8203 text) and close; resolves when closed. */
  async stop(reason?: string): Promise<void> {
    const input: FsmInput = { type: 'ManualStop' };
    if (reason !== undefined) input.reason = reason;
    this.input(input);
    // If called from an event handler the stop is queued behind the current input; let it run.
    await Promise.resolve();
    const server = this.server;
    this.server = null;
    const waits = [...this.closing];
    if (server) waits.push(server.close());
    await Promise.all(waits);
  }

  /** Drop the session now (Cease, Administrative Reset or `subcode`), then reconnect after the backoff. */
  reset(reason: string, subcode?: number): void {
    const input: FsmInput = { type: 'Reset', reason };
    if (subcode !== undefined) input.subcode = subcode;
    this.input(input);
  }

  /** Add or replace routes in the Adj-RIB-Out; sent at once while Established. */
  advertise(routes: OutRoute[]): void {
    const changed = this.adjOut.set(routes);
    if (this.fsm.state === 'Established' && changed.length > 0) this.sendRoutes(changed);
  }

  /** Remove routes from the Adj-RIB-Out; withdrawn at once while Established. */
  withdraw(routes: NlriRoute[]): void {
    const gone = this.adjOut.delete(routes);
    if (this.fsm.state === 'Established' && gone.length > 0 && this.familyNegotiated()) {
      for (const u of this.adjOut.withdrawals(gone, this.ctx())) this.send(u);
    }
  }

  /**
   * Ask the peer to send its routes again (ROUTE-REFRESH, RFC 2918). Returns false
   * when not Established or the peer did not advertise the capability or family.
   */
  refresh(family: Family = this.family): boolean {
    const n = this.negotiated;
    if (this.fsm.state !== 'Established' || !n?.routeRefresh || !n.families.some((f) => sameFamily(f, family))) return false;
    this.send({ type: 'route-refresh', afi: family.afi, safi: family.safi, subtype: 0 });
    return true;
  }

  get peerAddress(): string {
    return this.opts.peerAddress;
  }

  // --- FSM driving -------------------------------------------------------

  private input(i: FsmInput): void {
    this.queue.push(i);
    if (this.busy) return;
    this.busy = true;
    try {
      for (let next = this.queue.shift(); next !== undefined; next = this.queue.shift()) this.apply(next);
    } finally {
      this.busy = false;
    }
  }

  private apply(i: FsmInput): void {
    // An input from a connection that is no longer ours (queued before it was closed).
    if ('conn' in i && i.conn !== undefined && i.type !== 'TcpConnectionConfirmed' &&
        i.conn !== this.conn?.id && i.conn !== this.candidate?.id) return;
    const from = this.fsm.state;
    if (i.type === 'ConnectRetryTimerExpires' && from === 'Connect' && this.conn?.direction === 'out' && !this.conn.connected) {
      // The connect attempt got no answer at all (no SYN-ACK, no RST, no ICMP).
      const text = noAnswerText(this.opts, this.fsm.config.connectRetryTime);
      if (this.lastErrorValue?.text !== text) this.log.warn(text);
      this.lastErrorValue = { code: null, subcode: null, text };
    }
    const r = step(this.fsm, i);
    this.fsm = r.state;
    if (r.state.state !== from) {
      this.log.debug({ from, to: r.state.state, input: i.type }, 'state change');
      this.emit('state', from, r.state.state);
    }
    let down: Extract<FsmOutput, { type: 'down' }> | null = null;
    let retryMs: number | null = null;
    for (const o of r.outputs) {
      switch (o.type) {
        case 'connect': this.connect(); break;
        case 'send': this.send(o.message); break;
        case 'close': this.close(o.conn, o.abort ?? false); break;
        case 'accept': this.accept(o.conn, o.as, from); break;
        case 'adopt': this.adopt(o.conn, o.why); break;
        case 'reject': this.reject(o.conn, o.notification.code, o.notification.subcode, o.why); break;
        case 'armTimer':
          this.arm(o.timer, o.ms);
          if (o.timer === 'idleHold') retryMs = o.ms;
          break;
        case 'cancelTimer':
          this.timers.get(o.timer)?.cancel();
          this.timers.delete(o.timer);
          break;
        case 'established': this.onEstablished(o.negotiated); break;
        case 'down': down = o; break;
        case 'deliver': this.deliver(o.message); break;
      }
    }
    if (this.fsm.candidate === null) this.candidate = null;
    if (down) this.onDown(down, retryMs);
  }

  private arm(timer: TimerName, ms: number): void {
    this.timers.get(timer)?.cancel();
    this.timers.set(timer, this.clock.setTimer(ms, () => {
      this.timers.delete(timer);
      this.input(TIMER_INPUT[timer]);
    }));
  }

  private onEstablished(n: Negotiated): void {
    this.negotiatedValue = n;
    this.uptimeSinceValue = this.clock.now();
    this.lastErrorValue = null;
    this.log.info({ peerAs: n.peerAs, peerRouterId: n.peerRouterId, holdTime: n.holdTime,
      families: n.families.map(familyName), notes: n.notes }, 'established');
    // The whole Adj-RIB-Out, then End-of-RIB per family (RFC 4724 §2), before the
    // event: what a listener advertises in response follows as ordinary updates.
    if (this.familyNegotiated()) this.sendRoutes(this.adjOut.all());
    for (const f of n.families) this.send(endOfRib(f));
    this.emit('established', n);
  }

  private onDown(d: Extract<FsmOutput, { type: 'down' }>, retryMs: number | null): void {
    const n = d.notification;
    this.lastErrorValue = { code: n?.code ?? null, subcode: n?.subcode ?? null, text: d.reason };
    const retry = retryMs === null ? '' : `; next attempt in ${(retryMs / 1000).toFixed(1)} s`;
    const level = d.wasEstablished || n ? 'warn' : 'info';
    this.log[level]({ failures: this.fsm.failures }, `${d.reason}${retry}`);
    this.negotiatedValue = null;
    this.uptimeSinceValue = null;
    if (d.wasEstablished) {
      const ev: DownEvent = { reason: d.reason };
      if (n) ev.notification = n;
      this.emit('down', ev);
    }
  }

  private deliver(m: UpdateMessage | RouteRefreshMessage): void {
    if (m.type === 'update') {
      const fam = isEndOfRib(m);
      if (fam) this.emit('eor', fam);
      else this.emit('update', m);
      return;
    }
    const n = this.negotiated;
    // RFC 2918 §4: ignore a refresh for a family we did not advertise; RFC 7313 §4: only subtype 0 asks for routes.
    if (!n || m.subtype !== 0 || !n.families.some((f) => sameFamily(f, m))) {
      this.log.debug({ afi: m.afi, safi: m.safi, subtype: m.subtype }, 'ROUTE-REFRESH ignored');
      return;
    }
    this.emit('routeRefresh', m);
    const enhanced = n.enhancedRouteRefresh;
    if (enhanced) this.send({ type: 'route-refresh', afi: m.afi, safi: m.safi, subtype: 1 });
    if (sameFamily(m, this.family)) this.sendRoutes(this.adjOut.all());
    if (enhanced) this.send({ type: 'route-refresh', afi: m.afi, safi: m.safi, subtype: 2 });
  }

  private familyNegotiated(): boolean {
    const family = this.family;
    return this.negotiated?.families.some((f) => sameFamily(f, family)) ?? false;
  }

  private sendRoutes(routes: OutRoute[]): void {
    if (!this.familyNegotiated() || routes.length === 0) return;
    const { localAs, peerAs } = this.opts;
    let updates: UpdateMessage[];
    try {
      updates = this.adjOut.announcements(routes, localAs, peerAs, this.opts.reflection ?? false, this.ctx());
    } catch (e) {
      this.log.error({ err: e }, 'cannot pack routes; not sent');
      return;
    }
    for (const u of updates) this.send(u);
  }

  // --- sockets -----------------------------------------------------------

  private ctx(): CodecContext {
    return { fourOctetAs: this.fsm.negotiated?.fourOctetAs ?? false };
  }

  private send(m: Message): void {
    const c = this.conn;
    if (!c) return;
    let bytes: Uint8Array;
    try {
      bytes = encodeMessage(m, this.ctx());
    } catch (e) {
      // A bug or an oversized route: do not take the session down for it.
      this.log.error({ err: e, messageType: m.type }, 'cannot encode message; not sent');
      return;
    }
    if (m.type === 'notification') {
      this.log.info({ code: m.code, subcode: m.subcode },
        describeNotificationInfo({ ...m, direction: 'sent' }));
    }
    c.socket.write(bytes);
  }

  private connect(): void {
    const { peerAddress, localAddress } = this.opts;
    const port = this.opts.peerPort ?? 179;
    const req: ConnectRequest = { peerAddress, peerPort: port, security: connectionSecurity(this.opts) };
    if (localAddress !== undefined) req.localAddress = localAddress;
    let c: Conn;
    try {
      // The transport calls no handler before connect() returns, so `c` is set by then.
      c = newConn(this.opts.transport.connect(req, this.handlers(() => c)), 'out');
    } catch (e) {
      // A kernel without the option (config validation checks it first) or out of fds.
      this.log.error({ err: e }, 'cannot set up the TCP socket');
      this.input({ type: 'TcpConnectionFails', reason: `cannot set up the TCP socket: ${(e as Error).message}` });
      return;
    }
    this.conn = c;
    this.log.info({ localAddress: localAddress ?? null, port }, `connecting to ${peerAddress}:${port}`);
  }

  /** The session's handlers for one connection (ours or accepted). */
  private handlers(conn: () => Conn): ConnectionHandlers {
    return {
      connected: () => {
        const c = conn();
        if (this.conn !== c) return;
        c.connected = true;
        const l = c.socket.local();
        this.log.debug({ local: l ? `${l.address}:${l.port}` : null }, 'TCP connected');
        this.input({ type: 'TcpConnectionAcknowledged', conn: c.id });
      },
      data: (chunk) => this.onData(conn(), chunk),
      closed: (error) => {
        const c = conn();
        if (error !== null) c.lastError = error;
        this.accepted.delete(c.id);
        c.onClosed?.();
        if (this.candidate === c) {
          this.input({ type: 'TcpConnectionFails', reason: 'closed by peer', conn: c.id });
          return;
        }
        if (this.conn !== c) return;
        const why = c.lastError ?? (c.connected ? 'closed by peer' : 'connection closed');
        this.input({ type: 'TcpConnectionFails', reason: why, conn: c.id });
      },
    };
  }

  /** The FSM's `close`: the current connection, or connection `id`. */
  private close(id: number | undefined, abort: boolean): void {
    let c: Conn | null | undefined;
    if (id === undefined || id === this.conn?.id) {
      c = this.conn;
      this.conn = null;
    } else if (id === this.candidate?.id) {
      c = this.candidate;
      this.candidate = null;
    } else {
      c = this.accepted.get(id);
      this.accepted.delete(id);
    }
    if (!c) return;
    if (abort) c.socket.destroy();
    else this.endSocket(c);
  }

  /** Flush what was written (a NOTIFICATION), then close. */
  private endSocket(c: Conn): void {
    endSocket(c, this.clock, this.closing);
  }

  private onData(c: Conn, chunk: Uint8Array): void {
    if (this.conn !== c && this.candidate !== c) return;
    let frames: Uint8Array[];
    try {
      frames = c.framer.push(chunk);
    } catch (e) {
      this.decodeFailed(c, e);
      return;
    }
    for (const f of frames) {
      if (this.conn !== c && this.candidate !== c) return;
      let m: Message;
      try {
        m = decodeMessage(f, this.ctx());
      } catch (e) {
        this.decodeFailed(c, e);
        return;
      }
      this.input(messageInput(m, c.id));
    }
  }

  private decodeFailed(c: Conn, e: unknown): void {
    const err = e instanceof BgpError ? e : new BgpError(ErrorCode.Cease, 0, new Uint8Array(0), `internal error: ${String(e)}`);
    if (!(e instanceof BgpError)) this.log.error({ err: e }, 'decoder failed');
    this.input({ type: 'DecodeError', error: err, conn: c.id });
  }

  // --- listening and accepting ------------------------------------------------

  private listen(): void {
    const host = this.opts.localAddress ?? (ipVersion(this.opts.peerAddress) === 6 ? '::' : '0.0.0.0');
    const port = (this.opts.listen || undefined)?.port ?? 179;
    this.server = this.opts.transport.listen({ host, port, security: connectionSecurity(this.opts) }, {
      connection: (c) => this.onAccept(c),
      listening: (a) => {
        this.log.info({ address: a.address, port: a.port }, 'listening');
        this.emit('listening', a);
      },
      error: (e: NodeJS.ErrnoException) => {
        this.lastErrorValue = { code: null, subcode: null, text: `listen failed: ${e.code ?? e.message}` };
        this.log.error({ err: e }, 'listen failed');
      },
    });
  }

  /** A connection from the peer's address goes to the FSM, which decides its fate (RFC 4271 §6.8). */
  private onAccept(socket: BgpConnection): void {
    const from = socket.remoteAddress;
    if (from !== plainAddress(this.opts.peerAddress)) {
      this.log.warn(`connection from ${from} refused: not the configured peer`);
      socket.destroy();
      return;
    }
    const c = newConn(socket, 'in');
    socket.attach(this.handlers(() => c));
    this.accepted.set(c.id, c);
    this.input({ type: 'TcpConnectionConfirmed', conn: c.id });
  }

  /** The FSM's `accept`: connection `id` becomes the current one or the collision candidate. */
  private accept(id: number, as: 'current' | 'candidate', state: StateName): void {
    const c = this.accepted.get(id);
    if (!c) return;
    this.accepted.delete(id);
    if (as === 'current') {
      this.conn = c;
      this.log.info(`accepted connection from ${c.socket.remoteAddress}`);
    } else {
      this.candidate = c;
      this.log.info(`connection from ${c.socket.remoteAddress} while ${state}: waiting for its OPEN (collision detection)`);
    }
  }

  /** The FSM's `adopt`: the candidate replaces the current connection. */
  private adopt(id: number, why: 'peer-first' | 'collision'): void {
    const c = this.candidate;
    if (!c || c.id !== id) return;
    this.candidate = null;
    this.conn = c;
    this.log.info(why === 'peer-first' ? 'peer connected first: using its connection' : 'collision: keeping the peer\'s connection, closing ours');
  }

  /** The FSM's `reject`: NOTIFICATION on a connection that is not the current one, then close it. */
  private reject(id: number, code: number, subcode: number, why: string): void {
    let c = this.accepted.get(id);
    this.accepted.delete(id);
    if (!c && this.candidate?.id === id) {
      c = this.candidate;
      this.candidate = null;
    }
    if (!c) return;
    this.log.info(`rejecting connection from ${c.socket.remoteAddress}: ${why} (${describeNotification(code, subcode)})`);
    writeNotification(c, code, subcode);
    this.endSocket(c);
  }
}
