// What the RIB's next hops tell without visiting their paths (moved out of rib.ts):
// the prefix-independent switches a failover predicts (docs/kernel.md "Failover
// before the per-MAC work") from the sibling counts, and the VTEP probe's targets.
// Pure reads of the per-uplink state (rib-store.ts).
import type { NextHop, StoredPath, UplinkState } from './rib-store.js';

/**
 * A prefix-independent switch: the FDB entries leading to VTEP `from` can lead to
 * `to` before the per-entry decisions are made (a prediction; those decisions have
 * the last word).
 */
export interface VtepSwitch {
  from: string;
  to: string;
}

/** A VTEP probe target of the RIB (Rib.probeCandidates()). */
export interface ProbeCandidate {
  uplink: string;
  nextHop: string;
  vni: number;
  mac: string;
  ip: string;
  active: boolean;
}

type Uplinks = ReadonlyMap<string, UplinkState>;

/**
 * Where the FDB traffic of each next hop of `uplink` goes when the uplink's paths
 * go: per next hop in use, the next hop on another uplink that its paths' entries
 * have too, when that holds for more than half of its paths. O(next hops), no path
 * visited. Next hops already ineligible, and addresses also in use over another
 * uplink (an FDB group is per address), are left to the per-entry decisions.
 */
export function failoverSwitches(uplinks: Uplinks, uplink: string): VtepSwitch[] {
  const u = uplinks.get(uplink);
  const out: VtepSwitch[] = [];
  if (!u || !u.active) return out;
  for (const nh of u.nextHops.values()) {
    const to = alternative(uplinks, nh, (s) => s.uplink !== u);
    if (to) out.push({ from: nh.address, to: to.address });
  }
  return out;
}

/**
 * The same for one next hop about to turn ineligible: the eligible next hop (at
 * another address) that most of its paths' entries have too.
 */
export function ineligibleSwitches(uplinks: Uplinks, nextHop: string, uplink: string): VtepSwitch[] {
  const nh = uplinks.get(uplink)?.nextHops.get(nextHop);
  const to = nh && alternative(uplinks, nh, (s) => s.eligible && s.address !== nh.address);
  return to ? [{ from: nh!.address, to: to.address }] : [];
}

/** A path whose MAC and IPv4 address can be a probe's inner destination. */
export function probeable(p: StoredPath): boolean {
  const ip = p.entry.ip;
  return ip !== null && !ip.includes(':');
}

function alternative(uplinks: Uplinks, nh: NextHop, ok: (s: NextHop) => boolean): NextHop | null {
  if (nh.count === 0 || !nh.eligible || !nh.siblings) return null;
  for (const o of uplinks.values()) {
    if (o !== nh.uplink && (o.nextHops.get(nh.address)?.count ?? 0) > 0) return null;
  }
  let best: NextHop | null = null;
  let bestN = 0;
  for (const [s, n] of nh.siblings) {
    if (!ok(s)) continue;
    if (n > bestN || (n === bestN && s.eligible && !best!.eligible)) {
      best = s;
      bestN = n;
    }
  }
  return best !== null && bestN * 2 > nh.count ? best : null;
}

/**
 * One representative per (uplink, next hop) in use: a path with an IPv4 address
 * (the VTEP probe's inner destination is the remote service address). Next hops
 * with only MAC or IPv6 routes are left out.
 *
 * `active` (the probe's fast rate, docs/probe.md "Which paths are active"): the
 * next hop carries best paths, or it is one of several alternatives of a next hop
 * that does (a failover there must choose among them, on fresh verdicts). The only
 * alternative of a next hop is not active: its verdict cannot change where that
 * next hop's traffic goes, and it turns active as soon as the traffic moves to it.
 * Which path of a next hop gives its target: the one `kept` names (the path it was
 * taken from last time, while it lasts), else the oldest MAC/IPv4 path. A remote
 * evpn-ha announces its bridge's own address first and its endpoints (containers,
 * VMs: they do not answer probes) after it; a target that changed from one path to
 * another each time a route came would also probe a new inner destination under the
 * old target's verdict (a healthy VTEP marked down).
 * O(next hops + their sibling pairs) with kept paths; a next hop's paths are walked
 * once, when it has no kept path.
 */
export function probeCandidates(
  uplinks: Uplinks,
  kept: (nh: NextHop) => StoredPath | null = () => null,
  chosen: (nh: NextHop, p: StoredPath) => void = () => {},
): ProbeCandidate[] {
  const alternatives = new Set<NextHop>();
  for (const u of uplinks.values()) {
    for (const nh of u.nextHops.values()) {
      if (nh.best > 0 && nh.siblings !== null && nh.siblings.size > 1) for (const s of nh.siblings.keys()) alternatives.add(s);
    }
  }
  const out: ProbeCandidate[] = [];
  for (const u of uplinks.values()) {
    for (const nh of u.nextHops.values()) {
      let pick = kept(nh);
      if (pick === null) for (let p = nh.head; p; p = p.nhNext) if (probeable(p)) pick = p; // paths are linked newest first
      if (pick === null || pick.entry.ip === null) continue;
      chosen(nh, pick);
      out.push({ uplink: u.name, nextHop: nh.address, vni: pick.entry.vni, mac: pick.entry.mac, ip: pick.entry.ip, active: nh.best > 0 || alternatives.has(nh) });
    }
  }
  return out;
}
