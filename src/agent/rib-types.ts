// The RIB's data interface (moved out of rib.ts): what goes in (paths with their
// shared attributes, one UPDATE's worth) and what comes out (Loc-RIB entries,
// best-path changes). rib.ts re-exports all of it.
import type { MacIpRoute } from '../evpn/types.js';
import type { RouteTarget } from '../bgp/types.js';
import type { BestPath, ChangeReason, Path } from './bestpath.js';

/**
 * What the import policy attaches to accepted routes. The policy shares one object
 * between every route of an UPDATE (per VNI), and so does the RIB.
 */
export interface PathAttrs {
  uplink: string;
  peer: string;
  routerId: string;
  nextHop: string;
  localPref: number;
  macMobilitySeq: number;
  /** MAC Mobility static flag (RFC 7432 §7.7); absent = false. */
  macMobilitySticky?: boolean;
  originatorId: string | null;
  routeTargets: readonly RouteTarget[];
}

/** An accepted route: its VNI is label1 (RFC 8365 §5.1.3). */
export interface Candidate {
  route: MacIpRoute;
  attrs: PathAttrs;
}

export interface LocEntry {
  /** locKey(vni, mac, ip) */
  readonly key: string;
  readonly vni: number;
  readonly mac: string;
  readonly ip: string | null;
  readonly paths: Path[];
  readonly best: BestPath | null;
}

/** A change of best path for one Loc-RIB entry. */
export interface RibChange {
  readonly key: string;
  readonly vni: number;
  readonly mac: string;
  readonly ip: string | null;
  /** The best path before, as it was then. */
  readonly before: Path | null;
  readonly after: Path | null;
  /** Why `after` won, or 'withdrawn' when nothing is left. */
  readonly reason: ChangeReason;
}

/** Options of the operations that may leave their decisions queued. */
export interface DeferOptions {
  /** Queue the affected entries' decisions for decideDeferred() instead of making them now. */
  defer?: boolean;
}

export interface RibUpdate {
  /** Accepted routes (after import policy) for this uplink. */
  reach: Candidate[];
  /** Withdrawn (or no longer accepted) type-2 routes. */
  unreach: MacIpRoute[];
}
