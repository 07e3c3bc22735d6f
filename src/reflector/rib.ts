// The route reflector's RIB (RFC 4456): per EVPN route the path learned from each
// peer, the best of them (bestpath.ts), and what each peer has been sent. Pure:
// peers are RouteSinks (a BgpSession, or a fake in tests); every change is
// computed for all routes it touches first and handed to each sink in one
// advertise() and one withdraw() call, so that the session packs them.
//
// Reflection (RFC 4456 §6, every iBGP peer being a client): the best path of a
// route goes to every peer except the one it came from. Towards an iBGP client a
// path learned from an iBGP client carries ORIGINATOR_ID (set when absent to the
// BGP Identifier of the client it came from) and CLUSTER_LIST with our cluster ID
// prepended (§8); next hop and other attributes are unchanged. eBGP peers get
// normal eBGP treatment (the session prepends our AS, drops LOCAL_PREF and the
// reflection attributes; the EVPN next hop is unchanged).
import { pino, type Logger } from 'pino';
import type { OutRoute } from '../bgp/types.js';
import { AFI, SAFI, type PathAttributes, type UpdateMessage } from '../bgp/types.js';
import { describeRoute, routeKey } from '../evpn/route.js';
import type { EvpnRoute } from '../evpn/types.js';
import { bestPath, type BestPathReason, type Path } from './bestpath.js';

export type { Path, BestPathReason } from './bestpath.js';

/** What the RIB needs of a session: BgpSession's Adj-RIB-Out methods. */
export interface RouteSink {
  advertise(routes: OutRoute[]): void;
  withdraw(routes: EvpnRoute[]): void;
}

export interface RibPeerSpec {
  address: string;
  asn: number;
  sink: RouteSink;
}

export interface ReflectorRibOptions {
  localAs: number;
  /** Our BGP Identifier (RFC 4456 §8 loop check on ORIGINATOR_ID). */
  routerId: string;
  /** RFC 4456 §7; default routerId. */
  clusterId?: string;
  logger?: Logger;
}

/** Why a received path was not accepted. */
export type LoopReason = 'originator-id' | 'cluster-list' | 'as-path';

export interface ReceiveResult {
  announced: number;
  withdrawn: number;
  /** Dropped by loop prevention (each also withdraws the peer's previous path). */
  looped: number;
}

export interface RibCounters {
  /** Paths dropped by loop prevention, by reason. */
  looped: Record<LoopReason, number>;
}

/** One route as shown to operators. */
export interface RibRouteView {
  key: string;
  route: EvpnRoute;
  description: string;
  best: Path | null;
  reason: BestPathReason | null;
  paths: Path[];
}

export interface RibPeerView {
  address: string;
  asn: number;
  ebgp: boolean;
  up: boolean;
  bgpId: string | null;
  /** Paths learned from the peer. */
  received: number;
  /** Routes in its Adj-RIB-Out, as far as the RIB has sent them. */
  sent: number;
}

interface PeerState {
  address: string;
  asn: number;
  ebgp: boolean;
  sink: RouteSink;
  bgpId: string | null;
  up: boolean;
  received: number;
  /** routeKey → the path last advertised to this peer. */
  sent: Map<string, Path>;
}

interface Entry {
  route: EvpnRoute;
  paths: Map<string, Path>;
  best: Path | null;
  reason: BestPathReason | null;
}

/** Optional (0x80) and Transitive (0x40) / Partial (0x20) flags, RFC 4271 §4.3. */
const TRANSITIVE = 0x40;
const PARTIAL = 0x20;

export class ReflectorRib {
  readonly localAs: number;
  readonly routerId: string;
  readonly clusterId: string;
  readonly counters: RibCounters = { looped: { 'originator-id': 0, 'cluster-list': 0, 'as-path': 0 } };
  private readonly log: Logger;
  private readonly peers = new Map<string, PeerState>();
  private readonly entries = new Map<string, Entry>();
  /** Per path: the attributes sent to iBGP / eBGP peers (computed once). */
  private readonly outCache = new WeakMap<Path, { ibgp?: OutRoute; ebgp?: OutRoute }>();

  constructor(opts: ReflectorRibOptions) {
    this.localAs = opts.localAs;
    this.routerId = opts.routerId;
    this.clusterId = opts.clusterId ?? opts.routerId;
    this.log = opts.logger ?? pino({ level: 'silent' });
  }

  /**
   * Register a peer and fill its sink with the whole table (a session not yet
   * Established sends it, then End-of-RIB, when it comes up).
   */
  addPeer(spec: RibPeerSpec): void {
    if (this.peers.has(spec.address)) throw new Error(`peer ${spec.address} already in the RIB`);
    const peer: PeerState = { address: spec.address, asn: spec.asn, ebgp: spec.asn !== this.localAs, sink: spec.sink,
      bgpId: null, up: false, received: 0, sent: new Map() };
    this.peers.set(spec.address, peer);
    this.sync([...this.entries.keys()], [peer]);
  }

  /** The peer's session is Established; `bgpId` is its BGP Identifier (ORIGINATOR_ID of what it sends). */
  peerUp(address: string, bgpId: string): void {
    const p = this.peers.get(address);
    if (!p) throw new Error(`peer ${address} not in the RIB`);
    p.up = true;
    p.bgpId = bgpId;
  }

  /**
   * The peer's session went down: withdraw every path learned from it, from
   * everyone, in one pass (its own Adj-RIB-Out is kept for the next session).
   * Returns the number of routes it had sent.
   */
  peerDown(address: string): number {
    const p = this.peers.get(address);
    if (!p) return 0;
    p.up = false;
    p.bgpId = null;
    return this.dropPaths(address);
  }

  /** Forget the peer (a dynamic neighbour that is gone) and withdraw its paths from everyone else. */
  removePeer(address: string): number {
    if (!this.peers.delete(address)) return 0;
    return this.dropPaths(address);
  }

  private dropPaths(address: string): number {
    const p = this.peers.get(address);
    if (p) p.received = 0;
    const dirty: string[] = [];
    for (const [key, e] of this.entries) if (e.paths.delete(address)) dirty.push(key);
    if (dirty.length > 0) this.log.info({ peer: address, routes: dirty.length }, 'peer gone: withdrawing its routes');
    this.sync(dirty);
    return dirty.length;
  }

  /** Apply one UPDATE received from `address` (EVPN NLRI in MP_REACH / MP_UNREACH). */
  receive(address: string, u: UpdateMessage): ReceiveResult {
    const res: ReceiveResult = { announced: 0, withdrawn: 0, looped: 0 };
    const p = this.peers.get(address);
    if (!p || !p.up || p.bgpId === null) {
      this.log.warn({ peer: address }, 'UPDATE from a peer that is not up: ignored');
      return res;
    }
    const dirty: string[] = [];
    const remove = (r: EvpnRoute): void => {
      const key = routeKey(r);
      if (this.entries.get(key)?.paths.delete(address)) {
        p.received--;
        dirty.push(key);
      }
    };
    const unreach = u.attributes.mpUnreach;
    if (unreach && isEvpn(unreach) && unreach.nlri.kind === 'evpn') {
      for (const r of unreach.nlri.routes) { remove(r); res.withdrawn++; }
    }
    const reach = u.attributes.mpReach;
    if (reach && isEvpn(reach) && reach.nlri.kind === 'evpn' && reach.nlri.routes.length > 0) {
      const routes = reach.nlri.routes;
      // RFC 7606 §2 treat-as-withdraw.
      const treatAsWithdraw = (u.attrErrors ?? []).some((e) => e.action === 'withdraw');
      const loop = treatAsWithdraw ? null : this.loopReason(p, u.attributes);
      const nextHop = reach.nextHop[0];
      if (treatAsWithdraw || loop !== null || nextHop === undefined) {
        for (const r of routes) remove(r);
        if (loop !== null) {
          this.counters.looped[loop] += routes.length;
          res.looped += routes.length;
          this.log.debug({ peer: address, loop, routes: routes.length }, 'routes dropped by loop prevention (RFC 4456 §8)');
        } else {
          res.withdrawn += routes.length;
        }
      } else {
        const attributes = storedAttributes(u.attributes, p.ebgp);
        for (const route of routes) {
          const key = routeKey(route);
          let e = this.entries.get(key);
          if (!e) {
            e = { route, paths: new Map(), best: null, reason: null };
            this.entries.set(key, e);
          }
          if (!e.paths.has(address)) p.received++;
          e.paths.set(address, { peer: address, peerAs: p.asn, peerBgpId: p.bgpId, ebgp: p.ebgp, route, nextHop, attributes });
          dirty.push(key);
          res.announced++;
        }
      }
    }
    this.sync(dirty);
    return res;
  }

  routes(): RibRouteView[] {
    return [...this.entries].map(([key, e]) => ({ key, route: e.route, description: describeRoute(e.route),
      best: e.best, reason: e.reason, paths: [...e.paths.values()] }));
  }

  peerViews(): RibPeerView[] {
    return [...this.peers.values()].map((p) => ({ address: p.address, asn: p.asn, ebgp: p.ebgp, up: p.up, bgpId: p.bgpId,
      received: p.received, sent: p.sent.size }));
  }

  /** Number of routes (keys with at least one path). */
  get size(): number {
    return this.entries.size;
  }

  // --- internals -------------------------------------------------------------

  /** RFC 4456 §8 on iBGP; RFC 4271 §9.1.2 (own AS in AS_PATH) on eBGP. */
  private loopReason(p: PeerState, a: PathAttributes): LoopReason | null {
    if (p.ebgp) {
      return (a.asPath ?? []).some((s) => s.asns.includes(this.localAs)) ? 'as-path' : null;
    }
    if (a.originatorId === this.routerId) return 'originator-id';
    if (a.clusterList?.includes(this.clusterId)) return 'cluster-list';
    return null;
  }

  /**
   * Recompute the best path of `keys` and bring the peers' Adj-RIBs-Out in line,
   * one advertise() and one withdraw() per peer.
   */
  private sync(keys: readonly string[], only?: readonly PeerState[]): void {
    if (keys.length === 0) return;
    const unique = new Set(keys);
    if (!only) {
      for (const key of unique) {
        const e = this.entries.get(key);
        if (!e) continue;
        const b = bestPath([...e.paths.values()]);
        e.best = b?.best ?? null;
        e.reason = b?.reason ?? null;
      }
    }
    for (const peer of only ?? this.peers.values()) {
      const advertise: OutRoute[] = [];
      const withdraw: EvpnRoute[] = [];
      for (const key of unique) {
        const e = this.entries.get(key);
        const want = e?.best && e.best.peer !== peer.address ? e.best : null;
        const had = peer.sent.get(key);
        if (want === had || (!want && !had)) continue;
        if (want) {
          peer.sent.set(key, want);
          advertise.push(this.outRoute(want, peer.ebgp));
        } else if (had) {
          peer.sent.delete(key);
          withdraw.push(had.route);
        }
      }
      if (withdraw.length > 0) peer.sink.withdraw(withdraw);
      if (advertise.length > 0) peer.sink.advertise(advertise);
    }
    if (!only) {
      for (const key of unique) if (this.entries.get(key)?.paths.size === 0) this.entries.delete(key);
    }
  }

  /** What `path` looks like when sent to an iBGP client or an eBGP peer (before the session's own export rules). */
  private outRoute(path: Path, toEbgp: boolean): OutRoute {
    let cached = this.outCache.get(path);
    if (!cached) {
      cached = {};
      this.outCache.set(path, cached);
    }
    const hit = toEbgp ? cached.ebgp : cached.ibgp;
    if (hit) return hit;
    const a: PathAttributes = { ...path.attributes };
    // RFC 4271 §5: unrecognized non-transitive optional attributes are not passed
    // along; transitive ones are, with the Partial bit set.
    if (a.unknown) {
      a.unknown = a.unknown.filter((u) => (u.flags & TRANSITIVE) !== 0).map((u) => ({ ...u, flags: u.flags | PARTIAL }));
      if (a.unknown.length === 0) delete a.unknown;
    }
    if (!path.ebgp && !toEbgp) {
      // RFC 4456 §8.
      a.originatorId = path.attributes.originatorId ?? path.peerBgpId;
      a.clusterList = [this.clusterId, ...(path.attributes.clusterList ?? [])];
    }
    // RFC 4271 §5.1.4: a MED received from a neighbouring AS is not passed to another.
    if (path.ebgp && toEbgp) delete a.med;
    const out: OutRoute = { route: path.route, nextHop: path.nextHop, attributes: a };
    if (toEbgp) cached.ebgp = out;
    else cached.ibgp = out;
    return out;
  }
}

function isEvpn(f: { afi: number; safi: number }): boolean {
  return f.afi === AFI.L2VPN && f.safi === SAFI.Evpn;
}

/**
 * The attributes kept for a received path. eBGP: LOCAL_PREF is ignored (RFC 4271
 * §5.1.5) and the RFC 4456 attributes are not expected across ASes (dropped).
 */
function storedAttributes(a: PathAttributes, ebgp: boolean): PathAttributes {
  const out: PathAttributes = { ...a };
  delete out.mpReach;
  delete out.mpUnreach;
  delete out.nextHop;
  if (ebgp) {
    delete out.localPref;
    delete out.originatorId;
    delete out.clusterList;
  }
  return out;
}
