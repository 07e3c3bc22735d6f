// The agent's RIB: an Adj-RIB-In per session (uplink) and a Loc-RIB grouped by
// (VNI, MAC, IP). Grouping is deliberately NOT by RD: a server announces the same
// MAC/IP once per underlay network, each with that network's RD, and these are the
// alternative paths between which we choose (primary/backup by local-preference).
//
// Best path (docs/agent.md): eligible (VTEP reachable) first, then highest
// LOCAL_PREF, highest MAC Mobility sequence (RFC 7432 §15), lowest ORIGINATOR_ID or
// BGP identifier (RFC 4456 §9 / RFC 4271 §9.1.2.2 f), lowest peer address
// (RFC 4271 §9.1.2.2 g). The winner carries the reason it won over the runner-up.
//
// The kernel projection: one FDB entry per (VNI, MAC) and one neighbour entry per
// (VNI, IP). When several Loc-RIB entries feed one kernel entry (a MAC announced with
// several IPs, an IP announced by two MACs) the best of their best paths decides.
import type { MacIpRoute, RouteDistinguisher, RouteTarget } from '../evpn/types.js';
import { routeKey } from '../evpn/route.js';
import { entryKey, type KernelEntry } from '../kernel/port.js';

export interface Path {
  /** Session (uplink name) the path was learned over. */
  uplink: string;
  /** The peer's address (session remote address). */
  peer: string;
  route: MacIpRoute;
  /** label1 of the route (RFC 8365 §5.1.3). */
  vni: number;
  /** The remote VTEP (MP_REACH next hop). */
  nextHop: string;
  /** From the uplink's policy; the received LOCAL_PREF is ignored. */
  localPref: number;
  /** MAC Mobility sequence number (RFC 7432 §7.7), 0 when absent. */
  macMobilitySeq: number;
  /** ORIGINATOR_ID (RFC 4456 §8), null when absent. */
  originatorId: string | null;
  /** The peer's BGP identifier. */
  routerId: string;
  routeTargets: RouteTarget[];
  rd: RouteDistinguisher;
  /** False while the VTEP probe says this next hop is unreachable over this network. */
  eligible: boolean;
}

/** What best-path selection returns: the winner and why it beat the runner-up. */
export interface BestPath {
  winner: Path;
  /** 'only path', 'VTEP 192.168.1.87 unreachable on net1', 'local-pref 200 > 100', 'mobility-seq 3 > 2', 'router-id ...', 'peer-address ...', ... */
  reason: string;
}

export interface LocEntry {
  key: string;
  vni: number;
  mac: string;
  ip: string | null;
  paths: Path[];
  best: BestPath | null;
}

/** A change of best path for one Loc-RIB entry. */
export interface RibChange {
  key: string;
  vni: number;
  mac: string;
  ip: string | null;
  before: Path | null;
  after: Path | null;
  /** Why `after` won (or 'withdrawn' when nothing is left). */
  reason: string;
}

/** The VNI's devices, for the kernel projection. */
export interface VniDevices {
  vni: number;
  bridge: string;
  vxlan: string;
}

/** routeKey() per route object: computed once, used by the Adj-RIB-In, samePath and tie-breaks. */
const keyCache = new WeakMap<MacIpRoute, string>();

function rk(route: MacIpRoute): string {
  let k = keyCache.get(route);
  if (k === undefined) {
    k = routeKey(route);
    keyCache.set(route, k);
  }
  return k;
}

export function locKey(vni: number, mac: string, ip: string | null): string {
  return `${vni}|${mac}|${ip ?? ''}`;
}

/** Identity of a path: the session and the NLRI (RFC 7432 §7.2 route key, includes the RD). */
export function pathId(p: Path): string {
  return `${p.uplink}|${rk(p.route)}`;
}

// --- best path ------------------------------------------------------------------

/** IPv4 before IPv6, then numerically. */
export function compareIp(a: string, b: string): number {
  if (a === b) return 0;
  const a4 = !a.includes(':');
  const b4 = !b.includes(':');
  if (a4 !== b4) return a4 ? -1 : 1;
  if (a4) return ipv4Number(a) - ipv4Number(b);
  const ea = expandV6(a);
  const eb = expandV6(b);
  return ea < eb ? -1 : ea > eb ? 1 : 0;
}

function ipv4Number(s: string): number {
  let n = 0;
  for (const part of s.split('.')) n = n * 256 + Number(part);
  return n;
}

function expandV6(s: string): string {
  const [l, r] = s.split('::') as [string, string | undefined];
  const left = l ? l.split(':') : [];
  const right = r ? r.split(':') : [];
  const fill = r === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((g) => g.padStart(4, '0')).join('');
}

/** The identifier RFC 4456 §9 compares: ORIGINATOR_ID when present, else the peer's BGP identifier. */
function originator(p: Path): string {
  return p.originatorId ?? p.routerId;
}

/**
 * Compare two paths: < 0 when `a` is better. `reason` names the deciding step,
 * phrased for the better one.
 */
export function comparePaths(a: Path, b: Path): { cmp: number; reason: string } {
  if (a.eligible !== b.eligible) {
    const down = a.eligible ? b : a;
    return { cmp: a.eligible ? -1 : 1, reason: `VTEP ${down.nextHop} unreachable on ${down.uplink}` };
  }
  if (a.localPref !== b.localPref) {
    const [hi, lo] = a.localPref > b.localPref ? [a, b] : [b, a];
    return { cmp: a.localPref > b.localPref ? -1 : 1, reason: `local-pref ${hi.localPref} > ${lo.localPref}` };
  }
  if (a.macMobilitySeq !== b.macMobilitySeq) {
    const better = a.macMobilitySeq > b.macMobilitySeq;
    const [hi, lo] = better ? [a, b] : [b, a];
    return { cmp: better ? -1 : 1, reason: `mobility-seq ${hi.macMobilitySeq} > ${lo.macMobilitySeq}` };
  }
  const ra = originator(a);
  const rb = originator(b);
  const c = compareIp(ra, rb);
  if (c !== 0) return { cmp: c, reason: `router-id ${c < 0 ? ra : rb} < ${c < 0 ? rb : ra}` };
  const pc = compareIp(a.peer, b.peer);
  if (pc !== 0) return { cmp: pc, reason: `peer-address ${pc < 0 ? a.peer : b.peer} < ${pc < 0 ? b.peer : a.peer}` };
  // Deterministic last resorts (same peer, same originator: two RDs for one MAC/IP).
  if (a.uplink !== b.uplink) return { cmp: a.uplink < b.uplink ? -1 : 1, reason: 'uplink name' };
  const ka = rk(a.route);
  const kb = rk(b.route);
  if (ka !== kb) return { cmp: ka < kb ? -1 : 1, reason: 'route key' };
  return { cmp: 0, reason: 'equal' };
}

/** The best of `paths` (non-empty) and why it beat the second best. */
export function bestPath(paths: readonly Path[]): BestPath {
  if (paths.length === 0) throw new RangeError('bestPath of no paths');
  let winner = paths[0]!;
  for (let i = 1; i < paths.length; i++) {
    const p = paths[i]!;
    if (comparePaths(p, winner).cmp < 0) winner = p;
  }
  if (paths.length === 1) return { winner, reason: 'only path' };
  let runnerUp: Path | null = null;
  for (const p of paths) {
    if (p === winner) continue;
    if (runnerUp === null || comparePaths(p, runnerUp).cmp < 0) runnerUp = p;
  }
  return { winner, reason: comparePaths(winner, runnerUp!).reason };
}

/** Same path as far as anyone downstream can tell (kernel, logs): no change to report. */
function samePath(a: Path | null, b: Path | null): boolean {
  if (a === b) return true;
  if (a === null || b === null) return false;
  return a.uplink === b.uplink && a.nextHop === b.nextHop && a.localPref === b.localPref
    && a.macMobilitySeq === b.macMobilitySeq && a.eligible === b.eligible && a.peer === b.peer
    && (a.route === b.route || rk(a.route) === rk(b.route));
}

// --- the RIB --------------------------------------------------------------------

export interface RibUpdate {
  /** Accepted paths (after import policy) for this uplink. */
  reach: Path[];
  /** Withdrawn (or no longer accepted) type-2 routes. */
  unreach: MacIpRoute[];
}

export class Rib {
  /** uplink -> route key -> path */
  private readonly adj = new Map<string, Map<string, Path>>();
  private readonly loc = new Map<string, LocEntry>();
  /** `${vni}|${mac}` -> Loc-RIB keys (for the FDB projection) */
  private readonly byMac = new Map<string, Set<string>>();
  /** `${vni}|${ip}` -> Loc-RIB keys (for the neighbour projection) */
  private readonly byIp = new Map<string, Set<string>>();
  /** `${uplink}|${nextHop}` -> paths (for eligibility) */
  private readonly byNextHop = new Map<string, Set<Path>>();
  /** `${uplink}|${nextHop}` currently ineligible */
  private readonly ineligible = new Set<string>();

  /** Apply one UPDATE's worth of accepted paths and withdrawals from `uplink`; returns best-path changes. */
  applyUpdate(uplink: string, update: RibUpdate): RibChange[] {
    let adj = this.adj.get(uplink);
    if (!adj) this.adj.set(uplink, (adj = new Map()));
    const touched = new Set<string>();
    for (const route of update.unreach) {
      const key = rk(route);
      const old = adj.get(key);
      if (!old) continue;
      adj.delete(key);
      touched.add(this.removeFromLoc(old));
    }
    for (const p0 of update.reach) {
      if (p0.uplink !== uplink) throw new RangeError(`path of ${p0.uplink} applied to ${uplink}`);
      const p = { ...p0, eligible: !this.ineligible.has(`${uplink}|${p0.nextHop}`) };
      const key = rk(p.route);
      const old = adj.get(key);
      if (old) touched.add(this.removeFromLoc(old));
      adj.set(key, p);
      touched.add(this.addToLoc(p));
    }
    return this.decide(touched);
  }

  /** A session went down: remove all its paths, then decide every affected entry once. */
  dropSession(uplink: string): RibChange[] {
    const adj = this.adj.get(uplink);
    if (!adj) return [];
    this.adj.delete(uplink);
    const touched = new Set<string>();
    for (const p of adj.values()) touched.add(this.removeFromLoc(p, false));
    // Remove the emptied next-hop buckets of this uplink in one go.
    for (const k of [...this.byNextHop.keys()]) if (k.startsWith(`${uplink}|`)) this.byNextHop.delete(k);
    return this.decide(touched);
  }

  /**
   * The VTEP probe's verdict on `nextHop` reached over `uplink` (its network).
   * Remembered for paths that arrive later. Returns best-path changes.
   */
  setEligibility(nextHop: string, uplink: string, eligible: boolean): RibChange[] {
    const nk = `${uplink}|${nextHop}`;
    if (eligible === !this.ineligible.has(nk)) return [];
    if (eligible) this.ineligible.delete(nk);
    else this.ineligible.add(nk);
    const paths = this.byNextHop.get(nk);
    if (!paths) return [];
    const touched = new Set<string>();
    const adj = this.adj.get(uplink)!;
    const replaced = new Set<Path>();
    for (const p of paths) {
      const np = { ...p, eligible };
      adj.set(rk(p.route), np);
      const e = this.loc.get(locKey(p.vni, p.route.mac, p.route.ip))!;
      e.paths[e.paths.indexOf(p)] = np;
      replaced.add(np);
      touched.add(e.key);
    }
    this.byNextHop.set(nk, replaced);
    return this.decide(touched);
  }

  /** Forget every eligibility verdict (all paths eligible again). Returns best-path changes. */
  clearEligibility(): RibChange[] {
    const out: RibChange[] = [];
    for (const nk of [...this.ineligible]) {
      const i = nk.indexOf('|');
      // Not push(...changes): a spread of ~125k arguments overflows the stack.
      for (const c of this.setEligibility(nk.slice(i + 1), nk.slice(0, i), true)) out.push(c);
    }
    return out;
  }

  /** Next hops currently ineligible, per uplink. */
  ineligibleNextHops(): Array<{ uplink: string; nextHop: string }> {
    return [...this.ineligible].map((nk) => {
      const i = nk.indexOf('|');
      return { uplink: nk.slice(0, i), nextHop: nk.slice(i + 1) };
    });
  }

  /**
   * A new local-preference for every path of `uplink` (the uplink's configuration
   * changed). Returns best-path changes.
   */
  setLocalPref(uplink: string, localPref: number): RibChange[] {
    const adj = this.adj.get(uplink);
    if (!adj) return [];
    const touched = new Set<string>();
    for (const [k, p] of adj) {
      if (p.localPref === localPref) continue;
      const np = { ...p, localPref };
      adj.set(k, np);
      const e = this.loc.get(locKey(p.vni, p.route.mac, p.route.ip))!;
      e.paths[e.paths.indexOf(p)] = np;
      const s = this.byNextHop.get(`${uplink}|${p.nextHop}`)!;
      s.delete(p);
      s.add(np);
      touched.add(e.key);
    }
    return this.decide(touched);
  }

  best(key: string): BestPath | null {
    return this.loc.get(key)?.best ?? null;
  }

  entry(key: string): LocEntry | undefined {
    return this.loc.get(key);
  }

  entries(): IterableIterator<LocEntry> {
    return this.loc.values();
  }

  /** The Adj-RIB-In of one session. */
  adjRibIn(uplink: string): Path[] {
    return [...(this.adj.get(uplink)?.values() ?? [])];
  }

  /** Number of paths in one session's Adj-RIB-In. */
  adjRibInSize(uplink: string): number {
    return this.adj.get(uplink)?.size ?? 0;
  }

  uplinks(): string[] {
    return [...this.adj.keys()];
  }

  get size(): number {
    return this.loc.size;
  }

  /** Next hops (per uplink) that paths currently use, for the VTEP probe. */
  nextHops(): Array<{ uplink: string; nextHop: string; paths: number }> {
    const out: Array<{ uplink: string; nextHop: string; paths: number }> = [];
    for (const [k, s] of this.byNextHop) {
      if (s.size === 0) continue;
      const i = k.indexOf('|');
      out.push({ uplink: k.slice(0, i), nextHop: k.slice(i + 1), paths: s.size });
    }
    return out;
  }

  /**
   * One representative per (uplink, next hop) in use: a path with an IPv4 address
   * (the VTEP probe's inner destination is the remote service address). Next hops
   * with only MAC or IPv6 routes are left out.
   */
  probeCandidates(): Array<{ uplink: string; nextHop: string; vni: number; mac: string; ip: string }> {
    const out: Array<{ uplink: string; nextHop: string; vni: number; mac: string; ip: string }> = [];
    for (const s of this.byNextHop.values()) {
      for (const p of s) {
        const ip = p.route.ip;
        if (ip === null || ip.includes(':')) continue;
        out.push({ uplink: p.uplink, nextHop: p.nextHop, vni: p.vni, mac: p.route.mac, ip });
        break;
      }
    }
    return out;
  }

  // --- kernel projection ---

  /** The FDB winner for (vni, mac): the best among the best paths of every entry with that MAC. */
  fdbPath(vni: number, mac: string): Path | null {
    return this.bestOf(this.byMac.get(`${vni}|${mac}`));
  }

  /** The neighbour winner for (vni, ip). */
  neighPath(vni: number, ip: string): Path | null {
    return this.bestOf(this.byIp.get(`${vni}|${ip}`));
  }

  /** Everything the kernel should hold for the RIB's current best paths. */
  desiredKernelState(vnis: readonly VniDevices[]): KernelEntry[] {
    const dev = new Map(vnis.map((v) => [v.vni, v]));
    const out: KernelEntry[] = [];
    for (const k of this.byMac.keys()) {
      const e = this.fdbEntry(k, dev);
      if (e) out.push(e);
    }
    for (const k of this.byIp.keys()) {
      const e = this.neighEntry(k, dev);
      if (e) out.push(e);
    }
    return out;
  }

  /**
   * The kernel entries affected by `changes`: entryKey -> desired entry, or null
   * when nothing should be there any more.
   */
  kernelDelta(changes: readonly RibChange[], vnis: readonly VniDevices[]): Map<string, KernelEntry | null> {
    const dev = new Map(vnis.map((v) => [v.vni, v]));
    const out = new Map<string, KernelEntry | null>();
    const seenMac = new Set<string>();
    const seenIp = new Set<string>();
    for (const c of changes) {
      const d = dev.get(c.vni);
      if (!d) continue;
      const mk = `${c.vni}|${c.mac}`;
      if (!seenMac.has(mk)) {
        seenMac.add(mk);
        const e = this.fdbEntry(mk, dev);
        out.set(e ? entryKey(e) : entryKey({ kind: 'fdb', ifname: d.vxlan, mac: c.mac, dst: '' }), e);
      }
      if (c.ip !== null) {
        const ik = `${c.vni}|${c.ip}`;
        if (!seenIp.has(ik)) {
          seenIp.add(ik);
          const e = this.neighEntry(ik, dev);
          out.set(e ? entryKey(e) : entryKey({ kind: 'neigh', ifname: d.bridge, ip: c.ip, mac: '' }), e);
        }
      }
    }
    return out;
  }

  private fdbEntry(macKey: string, dev: Map<number, VniDevices>): KernelEntry | null {
    const p = this.bestOf(this.byMac.get(macKey));
    const d = p && dev.get(p.vni);
    return p && d ? { kind: 'fdb', ifname: d.vxlan, mac: p.route.mac, dst: p.nextHop } : null;
  }

  private neighEntry(ipKey: string, dev: Map<number, VniDevices>): KernelEntry | null {
    const p = this.bestOf(this.byIp.get(ipKey));
    const d = p && dev.get(p.vni);
    return p && d && p.route.ip !== null ? { kind: 'neigh', ifname: d.bridge, ip: p.route.ip, mac: p.route.mac } : null;
  }

  private bestOf(keys: Set<string> | undefined): Path | null {
    if (!keys) return null;
    let best: Path | null = null;
    for (const k of keys) {
      const w = this.loc.get(k)?.best?.winner;
      if (w && (best === null || comparePaths(w, best).cmp < 0)) best = w;
    }
    return best;
  }

  // --- internals ---

  private addToLoc(p: Path): string {
    const key = locKey(p.vni, p.route.mac, p.route.ip);
    let e = this.loc.get(key);
    if (!e) {
      e = { key, vni: p.vni, mac: p.route.mac, ip: p.route.ip, paths: [], best: null };
      this.loc.set(key, e);
      addTo(this.byMac, `${p.vni}|${p.route.mac}`, key);
      if (p.route.ip !== null) addTo(this.byIp, `${p.vni}|${p.route.ip}`, key);
    }
    e.paths.push(p);
    const nk = `${p.uplink}|${p.nextHop}`;
    let s = this.byNextHop.get(nk);
    if (!s) this.byNextHop.set(nk, (s = new Set()));
    s.add(p);
    return key;
  }

  /** Remove p from its entry (the entry itself goes in decide() when empty). */
  private removeFromLoc(p: Path, unindexNextHop = true): string {
    const key = locKey(p.vni, p.route.mac, p.route.ip);
    const e = this.loc.get(key);
    if (e) {
      const i = e.paths.indexOf(p);
      if (i >= 0) {
        e.paths[i] = e.paths[e.paths.length - 1]!;
        e.paths.pop();
      }
    }
    if (unindexNextHop) {
      const nk = `${p.uplink}|${p.nextHop}`;
      const s = this.byNextHop.get(nk);
      if (s) {
        s.delete(p);
        if (s.size === 0) this.byNextHop.delete(nk);
      }
    }
    return key;
  }

  private decide(keys: Iterable<string>): RibChange[] {
    const changes: RibChange[] = [];
    for (const key of keys) {
      const e = this.loc.get(key);
      if (!e) continue;
      const before = e.best?.winner ?? null;
      e.best = e.paths.length ? bestPath(e.paths) : null;
      const after = e.best?.winner ?? null;
      if (e.paths.length === 0) {
        this.loc.delete(key);
        removeFrom(this.byMac, `${e.vni}|${e.mac}`, key);
        if (e.ip !== null) removeFrom(this.byIp, `${e.vni}|${e.ip}`, key);
      }
      if (samePath(before, after)) continue;
      changes.push({ key, vni: e.vni, mac: e.mac, ip: e.ip, before, after, reason: e.best?.reason ?? 'withdrawn' });
    }
    return changes;
  }
}

function addTo(m: Map<string, Set<string>>, k: string, v: string): void {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  s.add(v);
}

function removeFrom(m: Map<string, Set<string>>, k: string, v: string): void {
  const s = m.get(k);
  if (!s) return;
  s.delete(v);
  if (s.size === 0) m.delete(k);
}
