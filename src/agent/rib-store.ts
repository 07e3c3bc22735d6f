// The RIB's compact storage (moved out of rib.ts; the layout is described at the
// top of rib.ts): per-uplink state, next hops with their path lists and sibling
// counts, shared attribute sets, stored paths, Loc-RIB entries and changes.
import type { MacIpRoute } from '../evpn/types.js';
import type { RouteDistinguisher, RouteTarget } from '../bgp/types.js';
import { ONLY_PATH, comparePaths, explain, type BestPath, type ChangeReason, type Path } from './bestpath.js';
import type { LocEntry, RibChange } from './rib.js';

export function locKey(vni: number, mac: string, ip: string | null): string {
  return `${vni}|${mac}|${ip ?? ''}`;
}

export function rdEqual(a: RouteDistinguisher, b: RouteDistinguisher): boolean {
  if (a === b) return true;
  switch (a.type) {
    case 0:
    case 2:
      return b.type === a.type && a.asn === b.asn && a.assigned === b.assigned;
    case 1:
      return b.type === 1 && a.ip === b.ip && a.assigned === b.assigned;
    case 'unknown':
      return b.type === 'unknown' && a.typeCode === b.typeCode && a.value.length === b.value.length && a.value.every((v, i) => v === b.value[i]);
  }
}

// --- storage --------------------------------------------------------------------

export class UplinkState {
  readonly nextHops = new Map<string, NextHop>();
  /** Paths in the Adj-RIB-In. */
  paths = 0;
  /** Has an Adj-RIB-In (an update was applied since the last session loss). */
  active = false;
  constructor(readonly name: string) {}
}

/** (uplink, next hop): the VTEP probe's verdict, and every path using it (a doubly linked list). */
export class NextHop {
  eligible = true;
  head: StoredPath | null = null;
  count = 0;
  /** Entries whose best path (winner) goes through this next hop (kept by decide()). */
  best = 0;
  /**
   * Per other next hop: the number of (path here, path there) pairs in one entry.
   * Kept by addPath/removePath; cleared when the uplink's paths are dropped.
   */
  siblings: Map<NextHop, number> | null = null;
  constructor(readonly uplink: UplinkState, readonly address: string) {}
}

export function bumpSibling(a: NextHop, b: NextHop, d: number): void {
  const m = a.siblings ?? (a.siblings = new Map());
  const n = (m.get(b) ?? 0) + d;
  if (n > 0) m.set(b, n);
  else m.delete(b);
}

/** Attributes shared by the paths of one UPDATE (and VNI). */
export class AttrSet {
  constructor(
    readonly nh: NextHop,
    readonly peer: string,
    readonly routerId: string,
    readonly localPref: number,
    readonly macMobilitySeq: number,
    readonly originatorId: string | null,
    readonly routeTargets: readonly RouteTarget[],
    readonly macMobilitySticky = false,
  ) {}

  withLocalPref(localPref: number): AttrSet {
    return new AttrSet(this.nh, this.peer, this.routerId, localPref, this.macMobilitySeq, this.originatorId, this.routeTargets, this.macMobilitySticky);
  }
}

export class StoredPath implements Path {
  /** Next path of the same entry. */
  next: StoredPath | null = null;
  nhPrev: StoredPath | null = null;
  nhNext: StoredPath | null = null;

  constructor(
    readonly entry: Entry,
    public attrs: AttrSet,
    readonly rd: RouteDistinguisher,
    readonly ethernetTag: number,
    readonly esi: string,
    readonly label2: number | null,
  ) {}

  get uplink(): string { return this.attrs.nh.uplink.name; }
  get peer(): string { return this.attrs.peer; }
  get nextHop(): string { return this.attrs.nh.address; }
  get localPref(): number { return this.attrs.localPref; }
  get macMobilitySeq(): number { return this.attrs.macMobilitySeq; }
  get macMobilitySticky(): boolean { return this.attrs.macMobilitySticky; }
  get originatorId(): string | null { return this.attrs.originatorId; }
  get routerId(): string { return this.attrs.routerId; }
  get routeTargets(): readonly RouteTarget[] { return this.attrs.routeTargets; }
  get eligible(): boolean { return this.attrs.nh.eligible; }
  get vni(): number { return this.entry.vni; }
  get route(): MacIpRoute {
    const e = this.entry;
    return { type: 'mac-ip', rd: this.rd, esi: this.esi, ethernetTag: this.ethernetTag, mac: e.mac, ip: e.ip, label1: e.vni, label2: this.label2 };
  }
}

/** A path as it was when a change was reported (eligibility and local-pref change in place). */
export class PathView implements Path {
  constructor(private readonly p: StoredPath, readonly eligible: boolean, readonly localPref: number) {}
  get uplink(): string { return this.p.uplink; }
  get peer(): string { return this.p.peer; }
  get nextHop(): string { return this.p.nextHop; }
  get macMobilitySeq(): number { return this.p.macMobilitySeq; }
  get macMobilitySticky(): boolean { return this.p.macMobilitySticky; }
  get originatorId(): string | null { return this.p.originatorId; }
  get routerId(): string { return this.p.routerId; }
  get routeTargets(): readonly RouteTarget[] { return this.p.routeTargets; }
  get rd(): RouteDistinguisher { return this.p.rd; }
  get vni(): number { return this.p.vni; }
  get route(): MacIpRoute { return this.p.route; }
}

export class Entry implements LocEntry {
  head: StoredPath | null = null;
  count = 0;
  /** Next entry with the same MAC (any VNI, any IP). */
  nextInMac: Entry | null = null;
  /** Next entry with the same (VNI, IP). */
  nextInIp: Entry | null = null;
  winner: StoredPath | null = null;
  /** The winner's eligibility and local-pref when it was chosen (for the 'before' of the next change). */
  winnerEligible = true;
  winnerLocalPref = 0;
  /** The operation that last touched this entry (dedup without a Set). */
  mark = 0;
  /** The last kernelDelta that worked out this entry's FDB / neighbour entry. */
  fdbMark = 0;
  neighMark = 0;
  /** Its best-path decision is deferred (on the RIB's queue). */
  queued = false;
  /**
   * The kernel keys of this entry's (VNI, MAC) FDB entry and (VNI, IP) neighbour
   * entry, built for these devices (rib-projection.ts): one string per key, reused
   * by every map downstream (its hash is computed once), not built per change.
   */
  keyDevices: object | null = null;
  fdbKey: string | null = null;
  neighKey: string | null = null;

  constructor(readonly vni: number, readonly mac: string, readonly ip: string | null) {}

  get key(): string {
    return locKey(this.vni, this.mac, this.ip);
  }

  get paths(): Path[] {
    const out: Path[] = [];
    for (let p = this.head; p; p = p.next) out.push(p);
    return out;
  }

  get best(): BestPath | null {
    const w = this.winner;
    if (w === null) return null;
    if (this.count === 1) return { winner: w, reason: ONLY_PATH };
    let runnerUp: StoredPath | null = null;
    for (let p = this.head; p; p = p.next) {
      if (p !== w && (runnerUp === null || comparePaths(p, runnerUp) < 0)) runnerUp = p;
    }
    return { winner: w, reason: explain(w, runnerUp!) };
  }
}

export class Change implements RibChange {
  constructor(
    readonly vni: number,
    readonly mac: string,
    readonly ip: string | null,
    readonly before: Path | null,
    readonly after: Path | null,
    readonly reason: ChangeReason,
  ) {}

  get key(): string {
    return locKey(this.vni, this.mac, this.ip);
  }
}

/** Same path as far as anyone downstream can tell (kernel, logs): no change to report. */
export function sameVisible(a: StoredPath, aEligible: boolean, aLocalPref: number, b: StoredPath): boolean {
  if (a === b) return aEligible === b.eligible && aLocalPref === b.localPref;
  return a.attrs.nh === b.attrs.nh && aLocalPref === b.localPref && a.macMobilitySeq === b.macMobilitySeq
    && a.macMobilitySticky === b.macMobilitySticky
    && aEligible === b.eligible && a.peer === b.peer && a.ethernetTag === b.ethernetTag && rdEqual(a.rd, b.rd);
}
