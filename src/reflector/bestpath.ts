// Best-path selection among the paths a route reflector holds for one EVPN route:
// RFC 4271 §9.1.1 (LOCAL_PREF) and §9.1.2.2 (tie breaking), with RFC 4456 §9 (the
// ORIGINATOR_ID stands in for the BGP Identifier; shorter CLUSTER_LIST between
// steps f and g). Step e (IGP cost to the next hop) does not apply: the reflector
// does not resolve next hops. The result names the step that decided.
import { compareIp, ipv4ToUint } from '../wire/addr.js';
import type { AsPathSegment, PathAttributes } from '../bgp/types.js';
import type { EvpnRoute } from '../evpn/types.js';

/** One path for a route, as learned from one peer. */
export interface Path {
  /** The peer's address (the session it came over). */
  peer: string;
  /** The peer's AS. */
  peerAs: number;
  /** The peer's BGP Identifier (from its OPEN). */
  peerBgpId: string;
  /** Learned over eBGP (peerAs differs from ours). */
  ebgp: boolean;
  route: EvpnRoute;
  nextHop: string;
  /** As stored on receipt (no MP_REACH/MP_UNREACH; eBGP: no LOCAL_PREF, ORIGINATOR_ID, CLUSTER_LIST). */
  attributes: PathAttributes;
}

/** Why the best path won, in selection order. */
export type BestPathReason =
  | 'only-path'
  | 'local-pref' // RFC 4271 §9.1.1
  | 'as-path-length' // §9.1.2.2 a
  | 'origin' // b
  | 'med' // c
  | 'ebgp-over-ibgp' // d
  | 'router-id' // f (RFC 4456 §9: ORIGINATOR_ID when present)
  | 'cluster-list-length' // RFC 4456 §9, between f and g
  | 'peer-address'; // g

export interface BestPath {
  best: Path;
  reason: BestPathReason;
}

/** LOCAL_PREF as compared: absent on iBGP is the default 100 (what we would send). */
export function localPrefOf(p: Path): number {
  return p.attributes.localPref ?? 100;
}

/** RFC 4271 §9.1.2.2 a: an AS_SET counts 1; RFC 5065 §5.3: confederation segments count 0. */
export function asPathLength(segments: readonly AsPathSegment[] | undefined): number {
  let n = 0;
  for (const s of segments ?? []) {
    if (s.type === 'sequence') n += s.asns.length;
    else if (s.type === 'set') n += 1;
  }
  return n;
}

/** The neighbouring AS for MED comparison: the first AS of the path, or ours (0) when empty. */
function neighborAs(p: Path): number {
  for (const s of p.attributes.asPath ?? []) {
    if (s.type === 'sequence' && s.asns.length > 0) return s.asns[0]!;
    if (s.type === 'set') return -1;
  }
  return 0;
}

function bgpIdOf(p: Path): number {
  return ipv4ToUint(p.attributes.originatorId ?? p.peerBgpId);
}

/** Addresses in numeric order, IPv4 before IPv6 (src/wire/addr.ts). */
export const compareAddresses = compareIp;

function keepMin(paths: Path[], value: (p: Path) => number): Path[] {
  let min = Infinity;
  for (const p of paths) min = Math.min(min, value(p));
  return paths.filter((p) => value(p) === min);
}

type Step = [BestPathReason, (paths: Path[]) => Path[]];

const STEPS: readonly Step[] = [
  ['local-pref', (ps) => keepMin(ps, (p) => -localPrefOf(p))],
  ['as-path-length', (ps) => keepMin(ps, (p) => asPathLength(p.attributes.asPath))],
  ['origin', (ps) => keepMin(ps, (p) => p.attributes.origin ?? 0)],
  // c: MED only among paths from the same neighbouring AS; absent MED is 0.
  ['med', (ps) => {
    const min = new Map<number, number>();
    for (const p of ps) {
      const as = neighborAs(p);
      min.set(as, Math.min(min.get(as) ?? Infinity, p.attributes.med ?? 0));
    }
    return ps.filter((p) => (p.attributes.med ?? 0) === min.get(neighborAs(p)));
  }],
  ['ebgp-over-ibgp', (ps) => (ps.some((p) => p.ebgp) ? ps.filter((p) => p.ebgp) : ps)],
  ['router-id', (ps) => keepMin(ps, bgpIdOf)],
  ['cluster-list-length', (ps) => keepMin(ps, (p) => p.attributes.clusterList?.length ?? 0)],
  ['peer-address', (ps) => {
    const sorted = [...ps].sort((a, b) => compareAddresses(a.peer, b.peer));
    return sorted.slice(0, 1);
  }],
];

/**
 * The best of `paths` (null when empty) and the step that eliminated the last
 * competitor. Each step keeps only the paths that are best by its criterion
 * (RFC 4271 §9.1.2.2 is written as successive elimination).
 */
export function bestPath(paths: readonly Path[]): BestPath | null {
  if (paths.length === 0) return null;
  if (paths.length === 1) return { best: paths[0]!, reason: 'only-path' };
  let left = [...paths];
  for (const [reason, keep] of STEPS) {
    left = keep(left);
    if (left.length === 1) return { best: left[0]!, reason };
  }
  return { best: left[0]!, reason: 'peer-address' };
}
