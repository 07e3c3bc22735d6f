// The route reflector process: one TCP listener, a passive BgpSession per client
// accepted from a listen range (FRR's `bgp listen range`), an active one per
// configured neighbor, BFD per peer when configured, and the ReflectorRib.
//
// Dynamic clients live as long as their session: when it falls back to Idle the
// session, its BFD session and its RIB peer are removed, and the next connection
// from that address makes a new one. A connection from an address that already
// has a session is handed to it (RFC 4271 §6.8 collision rules in BgpSession).
import { ipVersion } from '../wire/addr.js';
import { EventEmitter } from 'node:events';
import { pino, type Logger } from 'pino';
import { BfdManager } from '../bfd/manager.js';
import type { BfdSession } from '../bfd/session.js';
import { BgpSession, type BgpSessionOptions, type StateName } from '../bgp/session.js';
import { uplinkAuth } from '../config/security.js';
import type { BgpConnection, BgpListener, BgpTransport, TransportAddress } from '../bgp/transport.js';
import type { TcpAuth, TcpKey } from '../net/sockopt.js';
import type { Clock } from '../util/clock.js';
import { inRange, type ListenRange, type ReflectorConfig } from './config.js';
import { ReflectorRib, type RibPeerView } from './rib.js';
import { CeaseSubcode } from '../bgp/errors.js';
import '../evpn/nlri.js'; // registers the L2VPN/EVPN NLRI codec with bgp/ (RFC 7432 §7)


export interface ReflectorOptions {
  config: ReflectorConfig;
  /** The listener's and the sessions' connections (tcp.ts: kernel TCP). */
  transport: BgpTransport;
  logger?: Logger;
  clock?: Clock;
  /** BFD sessions are added here (default: a BfdManager on real UDP sockets, created when config.bfd is set). */
  bfd?: BfdManager;
}

export interface ReflectorPeerView extends RibPeerView {
  state: StateName;
  /** Accepted from a listen range (not a configured neighbor). */
  dynamic: boolean;
  bfd: string | null;
}

export interface ReflectorEvents {
  listening: [address: TransportAddress];
  peerUp: [address: string];
  peerDown: [address: string];
  /** A connection was refused (not in any listen range). */
  refused: [address: string];
}

interface Peer {
  address: string;
  asn: number;
  dynamic: boolean;
  session: BgpSession;
  bfd: BfdSession | null;
  disposed: boolean;
}

function isWildcard(a: string): boolean {
  return a === '0.0.0.0' || a === '::';
}

export class Reflector extends EventEmitter<ReflectorEvents> {
  readonly rib: ReflectorRib;
  readonly config: ReflectorConfig;
  private readonly log: Logger;
  private readonly clock: Clock | undefined;
  private readonly byAddress = new Map<string, Peer>();
  private readonly transport: BgpTransport;
  private server: BgpListener | null = null;
  private bfd: BfdManager | null;
  private readonly ownBfd: boolean;
  private stopping = false;

  constructor(opts: ReflectorOptions) {
    super();
    const c = opts.config;
    this.config = c;
    this.log = opts.logger ?? pino({ level: 'silent' });
    this.clock = opts.clock;
    this.transport = opts.transport;
    this.rib = new ReflectorRib({ localAs: c.asn, routerId: c.routerId, clusterId: c.clusterId, logger: this.log.child({ component: 'rib' }) });
    this.ownBfd = c.bfd !== null && opts.bfd === undefined;
    this.bfd = opts.bfd ?? (c.bfd ? new BfdManager({ logger: this.log.child({ component: 'bfd' }), ...(this.clock ? { clock: this.clock } : {}) }) : null);
  }

  /** Bind the listener and start the configured neighbors. Rejects if the listener cannot bind. */
  async start(): Promise<TransportAddress> {
    const { address, port } = this.config.listen;
    // TCP-MD5 / TCP-AO keys live on the listener, per listen range (a prefix) and per
    // neighbor; an accepted connection inherits the key that matched its peer.
    const keys = this.listenerKeys(address);
    const bound = await new Promise<TransportAddress>((resolve, reject) => {
      let up = false;
      this.server = this.transport.listen({ host: address, port, security: keys.length ? { keys, ttlSecurity: null } : null }, {
        connection: (c) => this.onConnection(c),
        listening: (a) => { up = true; resolve(a); },
        error: (e) => {
          if (up) this.log.error({ err: e }, 'listener error');
          else reject(e);
        },
      });
    });
    this.log.info({ address: bound.address, port: bound.port, routerId: this.config.routerId, asn: this.config.asn,
      clusterId: this.config.clusterId, listenRanges: this.config.listenRanges.map(rangeText),
      neighbors: this.config.neighbors.length, bfd: this.config.bfd !== null }, 'route reflector listening');
    this.emit('listening', bound);
    for (const n of this.config.neighbors) {
      const local = isWildcard(address) ? undefined : address;
      const peer = this.addPeer(n.address, n.asn, false, local, n.port, uplinkAuth(n));
      peer.session.start();
    }
    return bound;
  }

  /** The listener's keys: one per listen range and neighbor with a password or tcpAo. */
  private listenerKeys(listenAddress: string): TcpKey[] {
    const v4Only = ipVersion(listenAddress) === 4;
    const keys: TcpKey[] = [];
    for (const r of this.config.listenRanges) {
      const auth = uplinkAuth(r);
      if (!auth) continue;
      if (v4Only && r.family === 'ipv6') {
        this.log.warn(`listen range ${rangeText(r)}: an IPv4 listener (${listenAddress}) cannot take its key; listen on :: for IPv6 clients`);
        continue;
      }
      keys.push({ address: r.network, prefixLength: r.length, auth });
    }
    for (const n of this.config.neighbors) {
      const auth = uplinkAuth(n);
      if (auth && !(v4Only && ipVersion(n.address) === 6)) keys.push({ address: n.address, auth });
    }
    return keys;
  }

  /** The bound listener address (null before start / after stop). */
  address(): TransportAddress | null {
    return this.server?.address() ?? null;
  }

  peers(): ReflectorPeerView[] {
    const rib = new Map(this.rib.peerViews().map((v) => [v.address, v]));
    return [...this.byAddress.values()].map((p) => {
      const v = rib.get(p.address) ?? { address: p.address, asn: p.asn, ebgp: p.asn !== this.config.asn, up: false, bgpId: null, received: 0, sent: 0 };
      return { ...v, state: p.session.state, dynamic: p.dynamic, bfd: p.bfd ? p.bfd.state : null };
    });
  }

  /** Cease (Administrative Shutdown) every session, close the listener and BFD. */
  async stop(reason = 'route reflector shutting down'): Promise<void> {
    this.stopping = true;
    const server = this.server;
    this.server = null;
    const waits: Array<Promise<void>> = [];
    if (server) waits.push(server.close());
    for (const p of [...this.byAddress.values()]) waits.push(this.dispose(p, reason));
    await Promise.all(waits);
    if (this.ownBfd) this.bfd?.close();
  }

  // --- connections -----------------------------------------------------------

  private onConnection(socket: BgpConnection): void {
    const from = socket.remoteAddress;
    if (this.stopping) {
      socket.destroy();
      return;
    }
    const existing = this.byAddress.get(from);
    if (existing) {
      existing.session.acceptConnection(socket);
      return;
    }
    const range = this.config.listenRanges.find((r) => inRange(r, from));
    if (!range) {
      this.log.warn(`connection from ${from} refused: not in a listen range`);
      socket.destroy();
      this.emit('refused', from);
      return;
    }
    const local = socket.local()?.address ?? '';
    this.log.info({ range: rangeText(range), asn: range.asn }, `new client ${from} (listen range ${rangeText(range)})`);
    const peer = this.addPeer(from, range.asn, true, local || undefined, 179, uplinkAuth(range));
    peer.session.start();
    peer.session.acceptConnection(socket);
  }

  private addPeer(address: string, asn: number, dynamic: boolean, localAddress: string | undefined, port: number,
    auth: TcpAuth | null): Peer {
    const c = this.config;
    const opts: BgpSessionOptions = {
      transport: this.transport, peerAddress: address, peerPort: port, localAs: c.asn, peerAs: asn, routerId: c.routerId,
      holdTime: c.holdTime, keepalive: c.keepalive, passive: dynamic, listen: false, reflection: true,
      logger: this.log.child({ component: 'bgp' }), auth,
    };
    if (c.holdTime === 0) delete opts.keepalive;
    if (localAddress !== undefined) opts.localAddress = localAddress;
    if (this.clock) opts.clock = this.clock;
    const session = new BgpSession(opts);
    const peer: Peer = { address, asn, dynamic, session, bfd: null, disposed: false };
    this.byAddress.set(address, peer);
    this.rib.addPeer({ address, asn, sink: session });

    session.on('established', (n) => {
      this.rib.peerUp(address, n.peerRouterId);
      this.emit('peerUp', address);
    });
    session.on('update', (u) => {
      if (u.attrErrors?.length) this.log.warn({ peer: address, attrErrors: u.attrErrors }, 'UPDATE with attribute errors (RFC 7606)');
      this.rib.receive(address, u);
    });
    session.on('state', (from: StateName, to: StateName) => {
      if (from === 'Established') {
        this.rib.peerDown(address);
        this.emit('peerDown', address);
      }
      if (to === 'Idle' && peer.dynamic && !peer.disposed) void this.dispose(peer, null);
    });

    if (c.bfd && this.bfd) {
      if (localAddress === undefined) {
        this.log.warn({ peer: address }, 'no BFD: the local address is not known (set listen.address)');
      } else {
        const bfd = this.bfd.add({ local: localAddress, remote: address, ...c.bfd });
        peer.bfd = bfd;
        bfd.on('down', (ev) => {
          // RFC 5882 §4.1: the path failed; do not wait for the hold timer.
          if (session.state === 'Established') session.reset(`BFD down (${ev.diagName})`, CeaseSubcode.BfdDown);
        });
      }
    }
    return peer;
  }

  /** Stop a peer's session (Cease with `reason`, or silently when it is already down) and forget it. */
  private async dispose(peer: Peer, reason: string | null): Promise<void> {
    if (peer.disposed) return;
    peer.disposed = true;
    if (this.byAddress.get(peer.address) === peer) this.byAddress.delete(peer.address);
    this.rib.removePeer(peer.address);
    if (peer.bfd) {
      peer.bfd.removeAllListeners('down');
      this.bfd?.remove(peer.bfd);
    }
    if (reason === null) this.log.info({ peer: peer.address }, 'dynamic client gone');
    await peer.session.stop(reason ?? undefined);
    peer.session.removeAllListeners();
  }
}

function rangeText(r: ListenRange): string {
  return `${r.network}/${r.length}`;
}
