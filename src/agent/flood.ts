// Flood lists (vnis[].flood, docs/kernel.md "Flood lists"): received type-3
// Inclusive Multicast Ethernet Tag routes (RFC 7432 §7.3, §11) with an ingress
// replication PMSI tunnel (RFC 6514 §5 tunnel type 6; RFC 8365 §5.1.3: label = VNI,
// tunnel endpoint = the remote VTEP) become flood-list entries on the VNI's vxlan
// device: one per remote server, on its best network (RFC 8365 §9: BUM traffic is
// sent to every remote VTEP of the VNI by ingress replication).
//
// A remote server announces one type-3 route per underlay network, each with that
// network's address. Its paths are grouped by the server's identity: ORIGINATOR_ID
// (RFC 4456 §8: set by the route reflector to the server's BGP identifier) or, on a
// session without a reflector, the peer's BGP identifier. Among a server's paths the
// best is chosen as for the type-2 routes (bestpath.ts): an eligible VTEP (probe)
// first, then the highest local-preference, then the uplink name. So the flood entry
// moves on failover with the server's MACs.
//
// Pure state: the agent feeds it UPDATE contents, session losses and probe verdicts,
// and writes desired() into the kernel (kernel-sync.ts).
import type { PathAttributes } from '../bgp/types.js';
import { routeKey } from '../evpn/route.js';
import type { EvpnRoute, InclusiveMulticastRoute } from '../evpn/types.js';
import { normalizeIp } from '../wire/addr.js';
import { FLOOD_MAC, floodKey, type KernelEntry } from '../kernel/port.js';
import { matchRouteTarget, type UplinkConfig, type VniConfig } from './config.js';

/** RFC 6514 §5: PMSI tunnel type Ingress Replication. */
const PMSI_INGRESS_REPLICATION = 6;

export interface FloodPath {
  uplink: string;
  vni: number;
  /** The remote VTEP (PMSI tunnel endpoint). */
  vtep: string;
  /** The remote server (ORIGINATOR_ID or the peer's BGP identifier). */
  server: string;
}

/** Why a received type-3 route was not taken. */
export type FloodReject = 'own' | 'no-pmsi' | 'not-ingress-replication' | 'unknown-vni' | 'route-target';

/** One received type-3 NLRI with what came with it (policy.ts ReachItem). */
export interface FloodReach {
  route: EvpnRoute;
  nextHop: string | null;
  attributes: PathAttributes;
}

export interface FloodContext {
  routerId: string;
  ownAddresses: ReadonlySet<string>;
  /** The VNIs whose flood list is on. */
  vnis: readonly Pick<VniConfig, 'vni' | 'vxlan'>[];
}

export class FloodTable {
  /** uplink -> route key -> path */
  private readonly adj = new Map<string, Map<string, FloodPath>>();
  /** (uplink|vtep) pairs the VTEP probe says are unreachable */
  private readonly ineligible = new Set<string>();
  private desiredNow = new Map<string, KernelEntry>();
  /** flood key -> the (VNI, server) it was wanted for */
  private serverOfPrev = new Map<string, string>();
  readonly rejected: Record<FloodReject, number> = { own: 0, 'no-pmsi': 0, 'not-ingress-replication': 0, 'unknown-vni': 0, 'route-target': 0 };

  constructor(public context: FloodContext) {}

  /** Type-3 routes of an UPDATE (others ignored). Returns true when anything changed. */
  applyUpdate(
    uplink: Pick<UplinkConfig, 'name' | 'importRouteTargets'>, peerRouterId: string,
    reach: readonly FloodReach[], unreach: readonly EvpnRoute[],
  ): boolean {
    let adj = this.adj.get(uplink.name);
    if (!adj) this.adj.set(uplink.name, (adj = new Map()));
    let changed = false;
    for (const r of unreach) {
      if (r.type === 'inclusive-multicast' && adj.delete(routeKey(r))) changed = true;
    }
    for (const item of reach) {
      if (item.route.type !== 'inclusive-multicast') continue;
      const key = routeKey(item.route);
      const p = this.accept(uplink, peerRouterId, item.route, item);
      // A rejected route replaces (removes) what came earlier under its key (RFC 4271 §9.1.4).
      if (typeof p === 'string') {
        this.rejected[p]++;
        if (adj.delete(key)) changed = true;
        continue;
      }
      const old = adj.get(key);
      if (old && old.vni === p.vni && old.vtep === p.vtep && old.server === p.server) continue;
      adj.set(key, p);
      changed = true;
    }
    return changed;
  }

  private accept(
    uplink: Pick<UplinkConfig, 'name' | 'importRouteTargets'>, peerRouterId: string, r: InclusiveMulticastRoute, item: FloodReach,
  ): FloodPath | FloodReject {
    const a = item.attributes;
    if (a.originatorId !== undefined && a.originatorId === this.context.routerId) return 'own';
    const pmsi = a.pmsiTunnel;
    if (!pmsi) return 'no-pmsi';
    if (pmsi.tunnelType !== PMSI_INGRESS_REPLICATION) return 'not-ingress-replication';
    // RFC 8365 §5.1.3: the PMSI label carries the VNI; RFC 6514 §5: the tunnel
    // identifier of ingress replication is the endpoint's address (4 or 16 bytes).
    const vni = pmsi.label;
    const id = pmsi.tunnelId;
    const vtep = id.length === 4 ? [...id].join('.') : id.length === 16 ? ipv6Text(id) : (item.nextHop ?? r.originatorIp);
    if (this.context.ownAddresses.has(vtep) || (item.nextHop !== null && this.context.ownAddresses.has(item.nextHop))) return 'own';
    if (!this.context.vnis.some((v) => v.vni === vni)) return 'unknown-vni';
    const rts = (a.extCommunities ?? []).filter((c) => c.kind === 'route-target');
    if (!rts.some((rt) => uplink.importRouteTargets.some((pat) => matchRouteTarget(pat, rt, vni)))) return 'route-target';
    return { uplink: uplink.name, vni, vtep, server: a.originatorId ?? peerRouterId };
  }

  /** A session went down: its routes go. */
  dropSession(uplink: string): boolean {
    const adj = this.adj.get(uplink);
    if (!adj || adj.size === 0) return false;
    adj.clear();
    return true;
  }

  /** The VTEP probe's verdict (as for type-2 paths). Returns true when that may change something. */
  setEligibility(vtep: string, uplink: string, eligible: boolean): boolean {
    const k = `${uplink}|${vtep}`;
    if (eligible ? !this.ineligible.delete(k) : this.ineligible.has(k)) return false;
    if (!eligible) this.ineligible.add(k);
    return true;
  }

  /** Forget every probe verdict. */
  clearEligibility(): void {
    this.ineligible.clear();
  }

  /** Every accepted path (for `show` and tests). */
  paths(): FloodPath[] {
    return [...this.adj.values()].flatMap((m) => [...m.values()]);
  }

  /**
   * The flood entries wanted now, and what changed since the last call: `moved` are
   * the keys a server left for another of its paths (failover: no withdraw delay).
   */
  update(localPref: (uplink: string) => number): { delta: Array<[string, KernelEntry | null]>; moved: Set<string> } {
    const dev = new Map(this.context.vnis.map((v) => [v.vni, v.vxlan]));
    const best = new Map<string, FloodPath>();
    for (const p of this.paths()) {
      if (!dev.has(p.vni)) continue;
      const k = `${p.vni}|${p.server}`;
      const b = best.get(k);
      if (!b || this.better(p, b, localPref)) best.set(k, p);
    }
    const next = new Map<string, KernelEntry>();
    const serverOf = new Map<string, string>();
    for (const [k, p] of best) {
      const e: KernelEntry = { kind: 'fdb', ifname: dev.get(p.vni)!, mac: FLOOD_MAC, dst: p.vtep };
      const key = floodKey(e.ifname, e.dst);
      next.set(key, e);
      serverOf.set(key, k);
    }
    const delta: Array<[string, KernelEntry | null]> = [];
    const moved = new Set<string>();
    const stillServed = new Set(serverOf.values());
    for (const key of this.desiredNow.keys()) {
      if (next.has(key)) continue;
      delta.push([key, null]);
      const old = this.serverOfPrev.get(key);
      if (old !== undefined && stillServed.has(old)) moved.add(key);
    }
    for (const [key, e] of next) if (!this.desiredNow.has(key)) delta.push([key, e]);
    this.desiredNow = next;
    this.serverOfPrev = serverOf;
    return { delta, moved };
  }

  /** The flood entries wanted now. */
  desired(): KernelEntry[] {
    return [...this.desiredNow.values()];
  }

  private better(a: FloodPath, b: FloodPath, localPref: (uplink: string) => number): boolean {
    const ea = !this.ineligible.has(`${a.uplink}|${a.vtep}`);
    const eb = !this.ineligible.has(`${b.uplink}|${b.vtep}`);
    if (ea !== eb) return ea;
    const la = localPref(a.uplink);
    const lb = localPref(b.uplink);
    if (la !== lb) return la > lb;
    if (a.uplink !== b.uplink) return a.uplink < b.uplink;
    return a.vtep < b.vtep;
  }
}

function ipv6Text(b: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  return normalizeIp(groups.join(':'));
}
