// The agent's RIB: an Adj-RIB-In per session (uplink) and a Loc-RIB grouped by
// (VNI, MAC, IP). Grouping is deliberately NOT by RD: a server announces the same
// MAC/IP once per underlay network, each with that network's RD, and these are the
// alternative paths between which we choose (primary/backup by local-preference).
// Best-path selection and its typed reasons: bestpath.ts.
//
// Storage (docs/performance.md): one small object per path and per Loc-RIB entry,
// nothing per route that is not needed.
//  * A path holds its entry, its RD and Ethernet Tag, and a reference to an
//    attribute set shared by every route of the UPDATE it came in (next hop,
//    local-pref, MAC Mobility sequence, ORIGINATOR_ID, RTs, peer).
//  * An entry holds the MAC and IP text once (the decoded routes are not kept).
//  * Entries are found by MAC (a chain through every entry with that MAC, all VNIs)
//    and by (VNI, IP); the Adj-RIB-In is the set of paths of an uplink in those
//    chains, so a route key (RD, Ethernet Tag, MAC, IP; RFC 7432 §7.2) is found by
//    MAC without a per-path string key.
//  * Every path is also on the list of its (uplink, next hop): a VTEP probe verdict
//    touches exactly the paths of that next hop, a session loss those of the uplink.
//  * Every next hop counts, per other next hop, the entries where both have a path
//    (`siblings`): the alternatives of its paths, known without visiting them. That is
//    what a prefix-independent switch (docs/kernel.md "Failover before the per-MAC
//    work") reads: failoverSwitches() / ineligibleSwitches().
//
// Deferred decisions: a session loss or a VTEP verdict can unlink (or re-mark) the
// paths at once and leave the best-path decisions of the affected entries queued
// (`{defer: true}`); decideDeferred(max) makes them a chunk at a time, so that the
// agent yields to the event loop in between. Entries sharing a MAC or an IP are
// decided in the same chunk (the kernel projection of a chunk is then final). Every
// other operation first decides whatever is queued and returns those changes ahead of
// its own, so the sequence of changes is the one an undeferred operation gives. While
// decisions are queued, queries (best(), entries(), fdbPath()...) still see the
// previous winners of the entries not decided yet.
//
// The kernel projection (one FDB entry per (VNI, MAC), one neighbour entry per
// (VNI, IP)): rib-projection.ts. The failover predictions and probe targets read
// from the next hops: rib-nexthops.ts.
import type { MacIpRoute } from '../evpn/types.js';
import type { RouteDistinguisher } from '../bgp/types.js';
import { rdKey } from '../bgp/rd.js';
import type { KernelEntry } from '../kernel/port.js';
import { WITHDRAWN, comparePaths, type BestPath, type Path } from './bestpath.js';

export {
  bestPath, compareIp, comparePaths, explain, reasonText,
  type BestPath, type BestPathReason, type ChangeReason, type Path, type ReasonStep,
} from './bestpath.js';

export type { Candidate, DeferOptions, LocEntry, PathAttrs, RibChange, RibUpdate } from './rib-types.js';
import type { DeferOptions, LocEntry, PathAttrs, RibChange, RibUpdate } from './rib-types.js';
export type { VniDevices } from './rib-projection.js';
export type { ProbeCandidate, VtepSwitch } from './rib-nexthops.js';
export { locKey } from './rib-store.js';
import { rdEqual, AttrSet, Change, Entry, NextHop, PathView, StoredPath, UplinkState, bumpSibling, sameVisible } from './rib-store.js';
import { KernelProjection, type VniDevices } from './rib-projection.js';
import { failoverSwitches, ineligibleSwitches, probeable, probeCandidates, type ProbeCandidate, type VtepSwitch } from './rib-nexthops.js';

// --- the RIB --------------------------------------------------------------------

export class Rib {
  private readonly uplinkStates = new Map<string, UplinkState>();
  /** Some next hop started or stopped carrying best paths (takeBestHopsChanged()). */
  private bestHopsChanged = false;
  /** MAC -> chain of entries with that MAC (Entry.nextInMac). */
  private readonly byMac = new Map<string, Entry>();
  /** VNI -> IP -> chain of entries with that (VNI, IP) (Entry.nextInIp). */
  private readonly byIp = new Map<number, Map<string, Entry>>();
  private entryCount = 0;
  /** Interned RDs (one object per distinct RD), and the last one for runs of equal RDs. */
  private readonly rds = new Map<string, RouteDistinguisher>();
  private lastRd: RouteDistinguisher | null = null;
  /** Incremented per operation; entries touched by it carry it in `mark`. */
  private epoch = 0;
  /** Next hops whose last path went in the current operation. */
  private readonly emptied: NextHop[] = [];
  /** Work counter: paths visited by the operations (for tests of proportionality). */
  pathVisits = 0;
  /** Entries whose decision is deferred, in the order they were touched, from `queueAt`. */
  private queue: Entry[] = [];
  private queueAt = 0;
  private readonly projection = new KernelProjection(this.byMac, this.byIp);
  /**
   * `${uplink}|${next hop}` -> the (VNI, MAC, IP) its probe target was taken from last
   * time: kept while that path lasts, also across a session flap (the next hop's state
   * is made anew, its routes come back in the reflector's order). One row per remote
   * VTEP and network ever probed.
   */
  private readonly probeChoice = new Map<string, { vni: number; mac: string; ip: string | null }>();

  /** Entries whose best-path decision is queued (see decideDeferred). */
  get deferred(): number {
    return this.queue.length - this.queueAt;
  }

  /**
   * Decide queued entries, about `max` of them (a few more when entries sharing a MAC
   * or an IP with the last are queued too: they are decided together). Returns their
   * best-path changes.
   */
  decideDeferred(max = Infinity): RibChange[] {
    const changes: RibChange[] = [];
    let n = 0;
    const q = this.queue;
    while (this.queueAt < q.length && n < max) {
      const e = q[this.queueAt++]!;
      if (!e.queued) continue;
      // The entry and every queued entry reachable by MAC or (VNI, IP): the kernel
      // entries they feed are worked out from all of them.
      e.queued = false;
      const group = [e];
      for (let i = 0; i < group.length; i++) {
        const x = group[i]!;
        for (let y = this.byMac.get(x.mac) ?? null; y; y = y.nextInMac) {
          if (y.queued) { y.queued = false; group.push(y); }
        }
        if (x.ip === null) continue;
        for (let y = this.byIp.get(x.vni)?.get(x.ip) ?? null; y; y = y.nextInIp) {
          if (y.queued) { y.queued = false; group.push(y); }
        }
      }
      this.decide(group, changes);
      n += group.length;
    }
    if (this.queueAt >= q.length) {
      this.queue = [];
      this.queueAt = 0;
    }
    return changes;
  }

  private enqueue(touched: readonly Entry[]): void {
    for (const e of touched) {
      e.queued = true;
      this.queue.push(e);
    }
  }

  /** The FDB switches a loss of `uplink` predicts (rib-nexthops.ts). */
  failoverSwitches(uplink: string): VtepSwitch[] {
    return failoverSwitches(this.uplinkStates, uplink);
  }

  /** The FDB switch `nextHop` over `uplink` turning ineligible predicts (rib-nexthops.ts). */
  ineligibleSwitches(nextHop: string, uplink: string): VtepSwitch[] {
    return ineligibleSwitches(this.uplinkStates, nextHop, uplink);
  }

  /** Apply one UPDATE's worth of accepted paths and withdrawals from `uplink`; returns best-path changes. */
  applyUpdate(uplink: string, update: RibUpdate): RibChange[] {
    const out = this.decideDeferred();
    const u = this.uplinkState(uplink);
    u.active = true;
    const mark = ++this.epoch;
    const touched: Entry[] = [];
    for (const route of update.unreach) {
      const old = this.findPath(u, route);
      if (!old) continue;
      this.removePath(old);
      this.touch(old.entry, mark, touched);
    }
    let lastIn: PathAttrs | null = null;
    let lastSet: AttrSet | null = null;
    for (const c of update.reach) {
      const a = c.attrs;
      if (a.uplink !== uplink) throw new RangeError(`path of ${a.uplink} applied to ${uplink}`);
      if (a !== lastIn) {
        lastIn = a;
        lastSet = new AttrSet(this.nextHop(u, a.nextHop), a.peer, a.routerId, a.localPref, a.macMobilitySeq, a.originatorId, a.routeTargets, a.macMobilitySticky === true);
      }
      const r = c.route;
      const old = this.findPath(u, r);
      if (old) {
        this.removePath(old);
        this.touch(old.entry, mark, touched);
      }
      const e = this.entryFor(r.label1, r.mac, r.ip);
      const p = new StoredPath(e, lastSet!, this.internRd(r.rd), r.ethernetTag, r.esi, r.label2);
      this.addPath(p);
      this.touch(e, mark, touched);
    }
    this.sweepNextHops();
    return this.decide(touched, out);
  }

  /**
   * A session went down: remove all its paths, then decide every affected entry once
   * (or, with `defer`, queue those decisions).
   */
  dropSession(uplink: string, opts: DeferOptions = {}): RibChange[] {
    const out = this.decideDeferred();
    const u = this.uplinkStates.get(uplink);
    if (!u || !u.active) return out;
    u.active = false;
    const mark = ++this.epoch;
    const touched: Entry[] = [];
    for (const [addr, nh] of u.nextHops) {
      for (let p = nh.head; p; p = p.nhNext) {
        this.pathVisits++;
        unlinkFromEntry(p);
        for (let q = p.entry.head; q; q = q.next) if (q.attrs.nh !== nh) bumpSibling(q.attrs.nh, nh, -1);
        this.touch(p.entry, mark, touched);
      }
      nh.head = null;
      nh.count = 0;
      nh.siblings = null;
      // Keep the verdict on an ineligible next hop; forget the rest.
      if (nh.eligible) u.nextHops.delete(addr);
    }
    u.paths = 0;
    if (opts.defer) {
      this.enqueue(touched);
      return out;
    }
    return this.decide(touched, out);
  }

  /**
   * The VTEP probe's verdict on `nextHop` reached over `uplink` (its network).
   * Remembered for paths that arrive later. Returns best-path changes. The work is
   * proportional to the paths using that next hop.
   */
  setEligibility(nextHop: string, uplink: string, eligible: boolean, opts: DeferOptions = {}): RibChange[] {
    const out = this.decideDeferred();
    const u = this.uplinkState(uplink);
    const nh = u.nextHops.get(nextHop);
    if ((nh?.eligible ?? true) === eligible) return out;
    if (!nh) {
      // Not used yet: remember the verdict.
      const n = new NextHop(u, nextHop);
      n.eligible = eligible;
      u.nextHops.set(nextHop, n);
      return out;
    }
    nh.eligible = eligible;
    if (nh.count === 0) {
      if (eligible) u.nextHops.delete(nextHop);
      return out;
    }
    const mark = ++this.epoch;
    const touched: Entry[] = [];
    for (let p = nh.head; p; p = p.nhNext) {
      this.pathVisits++;
      this.touch(p.entry, mark, touched);
    }
    if (opts.defer) {
      this.enqueue(touched);
      return out;
    }
    return this.decide(touched, out);
  }

  /** Forget every eligibility verdict (all paths eligible again). Returns best-path changes. */
  clearEligibility(): RibChange[] {
    const out = this.decideDeferred();
    for (const { uplink, nextHop } of this.ineligibleNextHops()) {
      // Not push(...changes): a spread of ~125k arguments overflows the stack.
      for (const c of this.setEligibility(nextHop, uplink, true)) out.push(c);
    }
    return out;
  }

  /** Next hops currently ineligible, per uplink. */
  ineligibleNextHops(): Array<{ uplink: string; nextHop: string }> {
    const out: Array<{ uplink: string; nextHop: string }> = [];
    for (const u of this.uplinkStates.values()) {
      for (const nh of u.nextHops.values()) if (!nh.eligible) out.push({ uplink: u.name, nextHop: nh.address });
    }
    return out;
  }

  /**
   * A new local-preference for every path of `uplink` (the uplink's configuration
   * changed). Returns best-path changes.
   */
  setLocalPref(uplink: string, localPref: number): RibChange[] {
    const out = this.decideDeferred();
    const u = this.uplinkStates.get(uplink);
    if (!u || !u.active) return out;
    const mark = ++this.epoch;
    const touched: Entry[] = [];
    const replaced = new Map<AttrSet, AttrSet>();
    for (const nh of u.nextHops.values()) {
      for (let p = nh.head; p; p = p.nhNext) {
        this.pathVisits++;
        if (p.attrs.localPref === localPref) continue;
        let na = replaced.get(p.attrs);
        if (!na) replaced.set(p.attrs, (na = p.attrs.withLocalPref(localPref)));
        p.attrs = na;
        this.touch(p.entry, mark, touched);
      }
    }
    return this.decide(touched, out);
  }

  best(key: string): BestPath | null {
    return this.entry(key)?.best ?? null;
  }

  /** The Loc-RIB entry at locKey(vni, mac, ip). */
  entry(key: string): LocEntry | undefined {
    const i = key.indexOf('|');
    const j = key.indexOf('|', i + 1);
    if (i < 0 || j < 0) return undefined;
    const ip = key.slice(j + 1);
    return this.findEntry(Number(key.slice(0, i)), key.slice(i + 1, j), ip === '' ? null : ip) ?? undefined;
  }

  *entries(): IterableIterator<LocEntry> {
    for (const head of this.byMac.values()) for (let e: Entry | null = head; e; e = e.nextInMac) yield e;
  }

  /** The Adj-RIB-In of one session. */
  adjRibIn(uplink: string): Path[] {
    const out: Path[] = [];
    const u = this.uplinkStates.get(uplink);
    if (u) for (const nh of u.nextHops.values()) for (let p = nh.head; p; p = p.nhNext) out.push(p);
    return out;
  }

  /** Number of paths using `nextHop` over `uplink`. */
  nextHopPaths(uplink: string, nextHop: string): number {
    return this.uplinkStates.get(uplink)?.nextHops.get(nextHop)?.count ?? 0;
  }

  /** Number of paths in one session's Adj-RIB-In. */
  adjRibInSize(uplink: string): number {
    return this.uplinkStates.get(uplink)?.paths ?? 0;
  }

  uplinks(): string[] {
    return [...this.uplinkStates.values()].filter((u) => u.active).map((u) => u.name);
  }

  get size(): number {
    return this.entryCount;
  }

  /** Next hops (per uplink) that paths currently use, for the VTEP probe. */
  nextHops(): Array<{ uplink: string; nextHop: string; paths: number }> {
    const out: Array<{ uplink: string; nextHop: string; paths: number }> = [];
    for (const u of this.uplinkStates.values()) {
      for (const nh of u.nextHops.values()) if (nh.count > 0) out.push({ uplink: u.name, nextHop: nh.address, paths: nh.count });
    }
    return out;
  }

  /** One probe target per (uplink, next hop) in use, with its rate (rib-nexthops.ts). */
  probeCandidates(): ProbeCandidate[] {
    const out = probeCandidates(this.uplinkStates, (nh) => {
      const was = this.probeChoice.get(`${nh.uplink.name}|${nh.address}`);
      const e = was && this.findEntry(was.vni, was.mac, was.ip);
      if (e) for (let p = e.head; p; p = p.next) if (p.attrs.nh === nh && probeable(p)) return p;
      return null;
    }, (nh, p) => this.probeChoice.set(`${nh.uplink.name}|${nh.address}`, { vni: p.entry.vni, mac: p.entry.mac, ip: p.entry.ip }));
    return out;
  }

  /** Best paths (entries whose winner goes) through `nextHop` over `uplink`. */
  bestPathsVia(uplink: string, nextHop: string): number {
    return this.uplinkStates.get(uplink)?.nextHops.get(nextHop)?.best ?? 0;
  }

  /** Whether a next hop started or stopped carrying best paths since the last call. */
  takeBestHopsChanged(): boolean {
    const c = this.bestHopsChanged;
    this.bestHopsChanged = false;
    return c;
  }

  // --- kernel projection ---

  /** The FDB winner for (vni, mac): the best among the best paths of every entry with that MAC. */
  fdbPath(vni: number, mac: string): Path | null {
    return this.projection.fdbPath(vni, mac);
  }

  /** The neighbour winner for (vni, ip). */
  neighPath(vni: number, ip: string): Path | null {
    return this.projection.neighPath(vni, ip);
  }

  /** Everything the kernel should hold for the RIB's current best paths. */
  desiredKernelState(vnis: readonly VniDevices[]): KernelEntry[] {
    return this.projection.desiredKernelState(vnis);
  }

  /** The kernel entries affected by `changes`: entryKey -> desired entry, or null (none any more). */
  kernelDelta(changes: readonly RibChange[], vnis: readonly VniDevices[]): Map<string, KernelEntry | null> {
    return this.projection.kernelDelta(changes, vnis);
  }

  /** The kernel entries of one (VNI, MAC) again (it became, or stopped being, held locally). */
  macDelta(vni: number, mac: string, vnis: readonly VniDevices[]): Map<string, KernelEntry | null> {
    return this.projection.macDelta(vni, mac, vnis);
  }

  /** MACs held on a local port: their remote paths stay out of the kernel (rib-projection.ts). */
  setLocalMacs(isLocal: (vni: number, mac: string) => boolean): void {
    this.projection.setLocalMacs(isLocal);
  }

  // --- internals ---

  private uplinkState(name: string): UplinkState {
    let u = this.uplinkStates.get(name);
    if (!u) this.uplinkStates.set(name, (u = new UplinkState(name)));
    return u;
  }

  private nextHop(u: UplinkState, address: string): NextHop {
    let nh = u.nextHops.get(address);
    if (!nh) u.nextHops.set(address, (nh = new NextHop(u, address)));
    return nh;
  }

  private internRd(rd: RouteDistinguisher): RouteDistinguisher {
    const last = this.lastRd;
    if (last !== null && rdEqual(rd, last)) return last;
    const k = rdKey(rd);
    let v = this.rds.get(k);
    if (!v) this.rds.set(k, (v = rd));
    this.lastRd = v;
    return v;
  }

  private touch(e: Entry, mark: number, touched: Entry[]): void {
    if (e.mark === mark) return;
    e.mark = mark;
    touched.push(e);
  }

  /** The path of uplink `u` with the route key of `r` (RD, Ethernet Tag, MAC, IP; any VNI). */
  private findPath(u: UplinkState, r: MacIpRoute): StoredPath | null {
    for (let e = this.byMac.get(r.mac) ?? null; e; e = e.nextInMac) {
      if (e.ip !== r.ip) continue;
      for (let p = e.head; p; p = p.next) {
        this.pathVisits++;
        if (p.attrs.nh.uplink === u && p.ethernetTag === r.ethernetTag && rdEqual(p.rd, r.rd)) return p;
      }
    }
    return null;
  }

  private findEntry(vni: number, mac: string, ip: string | null): Entry | null {
    if (ip !== null) {
      for (let e = this.byIp.get(vni)?.get(ip) ?? null; e; e = e.nextInIp) if (e.mac === mac) return e;
      return null;
    }
    for (let e = this.byMac.get(mac) ?? null; e; e = e.nextInMac) if (e.vni === vni && e.ip === null) return e;
    return null;
  }

  /** The entry for (vni, mac, ip), created (and indexed) when new. */
  private entryFor(vni: number, mac: string, ip: string | null): Entry {
    const found = this.findEntry(vni, mac, ip);
    if (found) return found;
    const e = new Entry(vni, mac, ip);
    e.nextInMac = this.byMac.get(mac) ?? null;
    this.byMac.set(mac, e);
    if (ip !== null) {
      let ips = this.byIp.get(vni);
      if (!ips) this.byIp.set(vni, (ips = new Map()));
      e.nextInIp = ips.get(ip) ?? null;
      ips.set(ip, e);
    }
    this.entryCount++;
    return e;
  }

  private dropEntry(e: Entry): void {
    const head = this.byMac.get(e.mac)!;
    if (head === e) {
      if (e.nextInMac) this.byMac.set(e.mac, e.nextInMac);
      else this.byMac.delete(e.mac);
    } else {
      let prev = head;
      while (prev.nextInMac !== e) prev = prev.nextInMac!;
      prev.nextInMac = e.nextInMac;
    }
    if (e.ip !== null) {
      const ips = this.byIp.get(e.vni)!;
      const h = ips.get(e.ip)!;
      if (h === e) {
        if (e.nextInIp) ips.set(e.ip, e.nextInIp);
        else {
          ips.delete(e.ip);
          if (ips.size === 0) this.byIp.delete(e.vni);
        }
      } else {
        let prev = h;
        while (prev.nextInIp !== e) prev = prev.nextInIp!;
        prev.nextInIp = e.nextInIp;
      }
    }
    this.entryCount--;
  }

  private addPath(p: StoredPath): void {
    const e = p.entry;
    const nh = p.attrs.nh;
    for (let q = e.head; q; q = q.next) {
      const o = q.attrs.nh;
      if (o !== nh) {
        bumpSibling(nh, o, 1);
        bumpSibling(o, nh, 1);
      }
    }
    p.next = e.head;
    e.head = p;
    e.count++;
    p.nhNext = nh.head;
    if (nh.head) nh.head.nhPrev = p;
    nh.head = p;
    nh.count++;
    nh.uplink.paths++;
  }

  /** Remove a path from its entry and its next hop (the entry itself goes in decide() when empty). */
  private removePath(p: StoredPath): void {
    unlinkFromEntry(p);
    const nh = p.attrs.nh;
    for (let q = p.entry.head; q; q = q.next) {
      const o = q.attrs.nh;
      if (o !== nh) {
        bumpSibling(nh, o, -1);
        bumpSibling(o, nh, -1);
      }
    }
    if (p.nhPrev) p.nhPrev.nhNext = p.nhNext;
    else nh.head = p.nhNext;
    if (p.nhNext) p.nhNext.nhPrev = p.nhPrev;
    p.nhPrev = p.nhNext = null;
    nh.count--;
    nh.uplink.paths--;
    // Forgotten at the end of the operation (sweepNextHops) if still unused: the
    // attribute set being applied may use it again.
    if (nh.count === 0) this.emptied.push(nh);
  }

  /** Forget next hops left without paths (a verdict on an ineligible one is kept). */
  private sweepNextHops(): void {
    for (const nh of this.emptied) {
      if (nh.count === 0 && nh.eligible && nh.uplink.nextHops.get(nh.address) === nh) nh.uplink.nextHops.delete(nh.address);
    }
    this.emptied.length = 0;
  }

  /** Decide each touched entry; its change (if any) is appended to `changes`. */
  private decide(touched: readonly Entry[], changes: RibChange[] = []): RibChange[] {
    for (const e of touched) {
      const before = e.winner;
      const bEligible = e.winnerEligible;
      const bLocalPref = e.winnerLocalPref;
      let after: StoredPath | null = null;
      for (let p = e.head; p; p = p.next) {
        this.pathVisits++;
        if (after === null || comparePaths(p, after) < 0) after = p;
      }
      e.winner = after;
      if (before !== after) {
        if (before !== null && --before.attrs.nh.best === 0) this.bestHopsChanged = true;
        if (after !== null && after.attrs.nh.best++ === 0) this.bestHopsChanged = true;
      }
      if (after === null) this.dropEntry(e);
      else {
        e.winnerEligible = after.eligible;
        e.winnerLocalPref = after.localPref;
      }
      if (before === null ? after === null : after !== null && sameVisible(before, bEligible, bLocalPref, after)) continue;
      changes.push(new Change(
        e.vni, e.mac, e.ip,
        before && new PathView(before, bEligible, bLocalPref),
        after && new PathView(after, after.eligible, after.localPref),
        after === null ? WITHDRAWN : e.best!.reason,
      ));
    }
    return changes;
  }
}

function unlinkFromEntry(p: StoredPath): void {
  const e = p.entry;
  if (e.head === p) e.head = p.next;
  else {
    let q = e.head!;
    while (q.next !== p) q = q.next!;
    q.next = p.next;
  }
  p.next = null;
  e.count--;
}
