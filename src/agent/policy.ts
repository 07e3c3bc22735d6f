// Per-session import policy: which received EVPN routes become paths in the RIB,
// and with which local-preference. Pure: no I/O, no clock.
//
// Accepted: type-2 (MAC/IP) routes whose VNI (label1, RFC 8365 §5.1.3) is
// configured and one of whose route targets matches the uplink's import patterns.
// Ignored: our own routes coming back (ORIGINATOR_ID = our router ID, RFC 4456 §8,
// or a next hop that is one of our uplink addresses). LOCAL_PREF is set from the
// uplink's configuration; a received LOCAL_PREF is ignored.
import type { PathAttributes, UpdateMessage, RouteTarget } from '../bgp/types.js';
import { AFI, SAFI } from '../bgp/types.js';
import type { EvpnRoute, MacIpRoute } from '../evpn/types.js';
import { matchRouteTarget, type UplinkConfig } from './config.js';
import type { Candidate, PathAttrs, RibUpdate } from './rib.js';

/** One received NLRI with what came with it. */
export interface ReachItem {
  route: EvpnRoute;
  /** MP_REACH next hop (the global one for IPv6), null when absent. */
  nextHop: string | null;
  attributes: PathAttributes;
}

export interface UpdateChanges {
  reach: ReachItem[];
  unreach: EvpnRoute[];
  /** RFC 7606 §2 treat-as-withdraw was applied: the reach NLRI are in `unreach`. */
  treatAsWithdraw: boolean;
}

function isEvpn(f: { afi: number; safi: number }): boolean {
  return f.afi === AFI.L2VPN && f.safi === SAFI.Evpn;
}

/**
 * The EVPN NLRI of an UPDATE as reach/unreach. When any RFC 7606 error says
 * 'withdraw', every reach NLRI is treated as withdrawn (RFC 7606 §2, §5.3).
 */
export function updateToChanges(u: UpdateMessage): UpdateChanges {
  const a = u.attributes;
  const unreach: EvpnRoute[] = [];
  if (a.mpUnreach && isEvpn(a.mpUnreach) && a.mpUnreach.nlri.kind === 'evpn') unreach.push(...a.mpUnreach.nlri.routes);
  const reachRoutes = a.mpReach && isEvpn(a.mpReach) && a.mpReach.nlri.kind === 'evpn' ? a.mpReach.nlri.routes : [];
  const treatAsWithdraw = (u.attrErrors ?? []).some((e) => e.action === 'withdraw');
  if (treatAsWithdraw) return { reach: [], unreach: [...unreach, ...reachRoutes], treatAsWithdraw };
  const nextHop = a.mpReach?.nextHop[0] ?? null;
  // The attributes without the NLRI (shared by every route of the UPDATE).
  const { mpReach: _r, mpUnreach: _u, ...attributes } = a;
  void _r;
  void _u;
  return { reach: reachRoutes.map((route) => ({ route, nextHop, attributes })), unreach, treatAsWithdraw };
}

export type RejectReason =
  /** Not a type-2 route (types 1, 3, 4, 5 and unknown types are not used by the agent). */
  | 'route-type'
  /** ORIGINATOR_ID is our router ID: our own route reflected back. */
  | 'own-originator'
  /** The next hop is one of our uplink addresses: our own route. */
  | 'own-next-hop'
  /** No usable next hop. */
  | 'no-next-hop'
  /** label1 is not a configured VNI. */
  | 'unknown-vni'
  /** No route target matches the uplink's import patterns. */
  | 'route-target';

export const REJECT_REASONS: readonly RejectReason[] = ['route-type', 'own-originator', 'own-next-hop', 'no-next-hop', 'unknown-vni', 'route-target'];

export interface PolicyCounters {
  /** Reach NLRI received (after treat-as-withdraw). */
  received: number;
  accepted: number;
  /** Withdrawn NLRI received (including treat-as-withdraw). */
  withdrawn: number;
  /** UPDATEs whose NLRI were treated as withdrawn (RFC 7606). */
  treatAsWithdraw: number;
  rejected: Record<RejectReason, number>;
}

/** What the policy needs to know about us; it changes when addresses change. */
export interface ImportContext {
  routerId: string;
  /** Every uplink address (any of them as a next hop means the route is ours). */
  ownAddresses: ReadonlySet<string>;
  vnis: ReadonlySet<number>;
}

/** The session's remote end. */
export interface PeerInfo {
  address: string;
  /** BGP identifier from the peer's OPEN. */
  routerId: string;
}

export type Verdict = { accept: true; candidate: Candidate } | { accept: false; reason: RejectReason };

/**
 * What the policy decides once per UPDATE (every route of an UPDATE shares its
 * attributes and next hop): the checks that do not depend on the route, and the
 * attribute set handed to the RIB per VNI (shared by the UPDATE's routes).
 */
interface SharedVerdict {
  attributes: PathAttributes;
  nextHop: string | null;
  peer: PeerInfo;
  uplink: ImportPolicy['uplink'];
  context: ImportContext;
  reject: RejectReason | null;
  routeTargets: RouteTarget[];
  mobility: number;
  /** MAC Mobility static flag (RFC 7432 §7.7). */
  sticky: boolean;
  /** VNI -> the attribute set, or 'route-target' when no RT matches. */
  byVni: Map<number, PathAttrs | 'route-target'>;
}

export class ImportPolicy {
  readonly counters: PolicyCounters = {
    received: 0, accepted: 0, withdrawn: 0, treatAsWithdraw: 0,
    rejected: { 'route-type': 0, 'own-originator': 0, 'own-next-hop': 0, 'no-next-hop': 0, 'unknown-vni': 0, 'route-target': 0 },
  };
  private shared: SharedVerdict | null = null;

  constructor(
    /** Replaced when the configuration is reloaded (counters stay). */
    public uplink: Pick<UplinkConfig, 'name' | 'localPref' | 'importRouteTargets'>,
    public context: ImportContext,
  ) {}

  /** Decide one route (does not count). */
  evaluate(item: ReachItem, peer: PeerInfo): Verdict {
    const r = item.route;
    if (r.type !== 'mac-ip') return { accept: false, reason: 'route-type' };
    const s = this.sharedVerdict(item, peer);
    if (s.reject !== null) return { accept: false, reason: s.reject };
    const vni = r.label1;
    if (!this.context.vnis.has(vni)) return { accept: false, reason: 'unknown-vni' };
    let attrs = s.byVni.get(vni);
    if (attrs === undefined) {
      const pats = this.uplink.importRouteTargets;
      attrs = !s.routeTargets.some((rt) => pats.some((p) => matchRouteTarget(p, rt, vni))) ? 'route-target' : {
        uplink: this.uplink.name,
        peer: peer.address,
        routerId: peer.routerId,
        nextHop: item.nextHop!,
        localPref: this.uplink.localPref,
        macMobilitySeq: s.mobility,
        macMobilitySticky: s.sticky,
        originatorId: s.attributes.originatorId ?? null,
        routeTargets: s.routeTargets,
      };
      s.byVni.set(vni, attrs);
    }
    if (attrs === 'route-target') return { accept: false, reason: 'route-target' };
    return { accept: true, candidate: { route: r, attrs } };
  }

  /** The route-independent part of the verdict, computed once per UPDATE (attributes object). */
  private sharedVerdict(item: ReachItem, peer: PeerInfo): SharedVerdict {
    const s = this.shared;
    if (s !== null && s.attributes === item.attributes && s.nextHop === item.nextHop && s.peer === peer
      && s.uplink === this.uplink && s.context === this.context) return s;
    const a = item.attributes;
    let reject: RejectReason | null = null;
    if (a.originatorId !== undefined && a.originatorId === this.context.routerId) reject = 'own-originator';
    else if (item.nextHop === null || item.nextHop === '') reject = 'no-next-hop';
    else if (this.context.ownAddresses.has(item.nextHop)) reject = 'own-next-hop';
    const routeTargets: RouteTarget[] = [];
    let mobility = 0;
    let sticky = false;
    for (const c of a.extCommunities ?? []) {
      if (c.kind === 'route-target') routeTargets.push(c);
      else if (c.kind === 'mac-mobility') {
        mobility = c.sequence;
        sticky = c.sticky;
      }
    }
    this.shared = {
      attributes: a, nextHop: item.nextHop, peer, uplink: this.uplink, context: this.context, reject, routeTargets, mobility, sticky,
      byVni: new Map(),
    };
    return this.shared;
  }

  /**
   * Run an UPDATE's changes through the policy, counting. A type-2 route that is
   * rejected goes to `unreach`: it replaces (and so removes) whatever this session
   * announced earlier under the same route key (RFC 4271 §9.1.4 implicit withdraw).
   */
  apply(changes: UpdateChanges, peer: PeerInfo): RibUpdate & { rejected: Array<{ route: EvpnRoute; reason: RejectReason }> } {
    const c = this.counters;
    if (changes.treatAsWithdraw) c.treatAsWithdraw++;
    const reach: Candidate[] = [];
    const unreach: MacIpRoute[] = [];
    const rejected: Array<{ route: EvpnRoute; reason: RejectReason }> = [];
    for (const r of changes.unreach) {
      c.withdrawn++;
      if (r.type === 'mac-ip') unreach.push(r);
    }
    for (const item of changes.reach) {
      c.received++;
      const v = this.evaluate(item, peer);
      if (v.accept) {
        c.accepted++;
        reach.push(v.candidate);
      } else {
        c.rejected[v.reason]++;
        rejected.push({ route: item.route, reason: v.reason });
        if (item.route.type === 'mac-ip') unreach.push(item.route);
      }
    }
    return { reach, unreach, rejected };
  }
}
