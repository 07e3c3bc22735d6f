// ControlProvider on the real Agent: what `evpn-ha show` and the metrics see.
//
// The agent itself knows uplinks, the RIB, the desired kernel state and emits
// AgentEvents. The rest comes from the objects the daemon wiring holds and
// passes in: the BGP session per uplink (FSM state, negotiated parameters, last
// NOTIFICATION), the BFD session per uplink, the probe status, the kernel port
// (for a dump when the agent does not expose what it observed), and the SIGHUP
// handler. Each of these is optional; without it the answer says less, never
// something wrong ('not-probed', no BFD, the agent's own state names).
import type { AgentEvent, PathSummary, UplinkStatus } from '../agent/agent.js';
import type { Config } from '../agent/config.js';
import { uplinkAuth } from '../config/security.js';
import { reasonText, type LocEntry, type Path } from '../agent/rib.js';
import type { LastError, Negotiated, StateName } from '../bgp/session.js';
import { describeNotification } from '../bgp/errors.js';
import { familyName } from '../bgp/negotiate.js';
import type { BfdSessionInfo } from '../bfd/types.js';
import { formatRouteTarget } from '../bgp/extcommunity.js';
import { formatRd } from '../bgp/rd.js';
import { normalizeIp } from '../wire/addr.js';
import { entryKey, type KernelEntry, type KernelPort, type ObservedEntry } from '../kernel/port.js';
import { groupObserved, normalizeEntry, plan } from '../kernel/reconcile.js';
import { authName } from '../net/sockopt-wire.js';
import type { ProbeTargetStatus } from '../probe/prober.js';
import type { Clock } from '../util/clock.js';
import {
  KERNEL_STATUSES, MAX_EVENT_OPS,
  type ClearDuplicateResult, type ControlEvent, type ControlEventBody, type ControlProvider, type FailoverCause, type KernelEntryInfo, type KernelInfo,
  type KernelStatus, type NexthopEntryInfo, type NeighborInfo, type PathInfo, type ReloadResult, type RouteFilter, type RouteInfo, type VtepInfo,
} from './types.js';

/** The part of Agent the adapter reads (Agent fits as is). */
export interface AgentView {
  readonly rib: {
    entries(): Iterable<LocEntry>;
    nextHops(): Array<{ uplink: string; nextHop: string; paths: number }>;
  };
  status(): UplinkStatus[];
  desiredEntries(): KernelEntry[];
  readonly staleGateOpen: boolean;
  subscribe(fn: (ev: AgentEvent) => void): () => void;
  /** The agent's view of what the kernel holds on its devices (kept current by events). */
  observedEntries?(): ObservedEntry[];
  /** Every VTEP probe target's status (all VNIs). */
  probeStatus?(): ProbeTargetStatus[];
  /** How FDB entries are programmed (nexthop groups or per-entry dst) and why. */
  fdbMode?(): { mode: 'nexthop-groups' | 'dst'; reason: string };
  /** Our FDB nexthop groups with how many MACs point at each. */
  nexthopGroups?(): Array<{ id: number; memberId: number; vtep: string; macs: number }>;
  /** MACs marked duplicate (RFC 7432 §15.1). */
  duplicates?(): Array<{ vni: number; mac: string }>;
  /** Lift the duplicate flag (vni null: every VNI); returns what was cleared. */
  clearDuplicate?(mac: string, vni: number | null): Array<{ vni: number; mac: string }>;
}

/** The part of BgpSession shown (BgpSession fits as is). */
export interface SessionView {
  readonly state: StateName;
  readonly negotiated: Negotiated | null;
  readonly uptimeSince: number | null;
  readonly lastError: LastError | null;
}

/** The part of BfdSession shown (BfdSession fits as is). */
export interface BfdView {
  snapshot(): BfdSessionInfo;
}

export interface AgentAdapterOptions {
  agent: AgentView;
  /** The configuration in force (a function: it changes on reload). */
  config: () => Config;
  clock: Clock;
  /** Wall time for event stamps, ms since the epoch (default Date.now). */
  wallClock?: () => number;
  /** The BGP session of an uplink, if any. */
  session?: (uplink: string) => SessionView | null;
  /** The BFD session of an uplink, if any. */
  bfd?: (uplink: string) => BfdView | null;
  /** Probe status when the agent has no probeStatus() (e.g. a prober the wiring owns). */
  probeStatus?: () => ProbeTargetStatus[];
  /** Used for `show kernel` when the agent has no observedEntries(). */
  kernel?: KernelPort;
  /** What SIGHUP does. Default: ask the agent to read the links again. */
  reload?: () => Promise<ReloadResult>;
  /** Called by the default reload (Agent.refreshLinks). */
  refreshLinks?: () => void;
}

/** The capabilities a negotiated session has, by name. */
export function capabilityNames(n: Negotiated): string[] {
  const out: string[] = [];
  if (n.fourOctetAs) out.push('four-octet-as');
  if (n.routeRefresh) out.push('route-refresh');
  if (n.enhancedRouteRefresh) out.push('enhanced-route-refresh');
  if (n.gracefulRestart.peer) out.push('graceful-restart');
  return out;
}

function pathSummaryMoved(a: PathSummary, b: PathSummary): boolean {
  return a.uplink !== b.uplink || a.nextHop !== b.nextHop;
}

/**
 * Why a best-path change moved traffic, or null when it did not move (same
 * network and VTEP, or no path before/after). `sessionUp` and `bfdDown` describe
 * the old path's uplink at the moment of the change: the agent marks a session
 * down before it drops the session's paths.
 */
export function classifyFailover(
  ev: Extract<AgentEvent, { type: 'best-path' }>,
  sessionUp: (uplink: string) => boolean,
  bfdDown: (uplink: string) => boolean,
): FailoverCause | null {
  const { before, after } = ev;
  if (!before || !after || !pathSummaryMoved(before, after)) return null;
  // A higher sequence is where the MAC is now (RFC 7432 §15.1), whatever the networks.
  if (after.macMobilitySeq > before.macMobilitySeq) return 'mac-moved';
  if (after.eligible && !before.eligible) return 'failback';
  if (after.localPref > before.localPref) return 'failback';
  if (!sessionUp(before.uplink)) return bfdDown(before.uplink) ? 'bfd-down' : 'session-down';
  const step = ev.reason.step;
  if (step === 'eligible') return 'vtep-unreachable';
  if (step === 'mobility-seq' || step === 'sticky') return 'mac-moved';
  if (step === 'only-path' || after.localPref < before.localPref) return 'withdrawn';
  return 'other';
}

function pathInfo(p: Path, best: Path | null, vtep: (network: string, nextHop: string) => string): PathInfo {
  return {
    network: p.uplink,
    peer: p.peer,
    nextHop: p.nextHop,
    rd: formatRd(p.rd),
    routeTargets: p.routeTargets.map(formatRouteTarget),
    localPref: p.localPref,
    macMobilitySeq: p.macMobilitySeq,
    originatorId: p.originatorId,
    vtep: vtep(p.uplink, p.nextHop),
    eligible: p.eligible,
    best: p === best,
  };
}

function describeObserved(o: ObservedEntry): string {
  if (o.kind === 'nexthop') return o.group !== null ? `nexthop ${o.id} group ${o.group.join('/')}` : `nexthop ${o.id} via ${o.dst ?? '-'}`;
  return o.kind === 'neigh' ? `${o.ip} lladdr ${o.mac ?? '-'}`
    : `${o.mac} ${o.table}${o.dst ? ` dst ${o.dst}` : ''}${o.nhid != null ? ` nhid ${o.nhid}` : ''}`;
}

/**
 * Desired vs observed, per key, with the agent's own reconciliation rules:
 * a replace the planner would issue is 'missing' (nothing there) or 'different',
 * a delete is 'extra', a skipped foreign entry a 'conflict'.
 */
export function compareKernel(desired: KernelEntry[], observed: ObservedEntry[], protocol: number): KernelEntryInfo[] {
  return compareKernelAll(desired, observed, protocol).entries;
}

/** compareKernel() plus our nexthops and groups (FDB nexthop groups, docs/kernel.md). */
export function compareKernelAll(
  desired: KernelEntry[], observed: ObservedEntry[], protocol: number,
): { entries: KernelEntryInfo[]; nexthops: NexthopEntryInfo[] } {
  const p = plan(desired, observed, { protocol, deleteStale: true });
  const byKey = groupObserved(observed);
  const replace = new Set<string>();
  const extra = new Map<string, KernelEntry>();
  for (const op of p.ops) {
    if (op.op === 'replace') replace.add(entryKey(op.entry));
    else extra.set(entryKey(op.entry), op.entry);
  }
  const conflict = new Set(p.skipped.filter((s) => s.reason === 'foreign-static').map((s) => entryKey(s.entry)));
  const out: KernelEntryInfo[] = [];
  const nhs: NexthopEntryInfo[] = [];
  const seen = new Set<string>();
  const nexthopInfo = (e: Extract<KernelEntry, { kind: 'nexthop' | 'nhgroup' }>, status: KernelStatus, desiredToo: boolean, obs: ObservedEntry[]): NexthopEntryInfo => {
    const o = obs.find((x) => x.kind === 'nexthop');
    return {
      id: e.id, kind: e.kind === 'nhgroup' ? 'group' : 'nexthop', status,
      dst: e.kind === 'nexthop' ? e.dst : null, members: e.kind === 'nhgroup' ? e.members : null,
      desired: desiredToo ? e : null, observed: o?.kind === 'nexthop' ? o : null,
    };
  };
  for (const d0 of desired) {
    let d: KernelEntry;
    try {
      d = normalizeEntry(d0);
    } catch {
      d = d0;
    }
    const k = entryKey(d);
    if (seen.has(k)) continue;
    seen.add(k);
    const obs = byKey.get(k) ?? [];
    const status: KernelStatus = conflict.has(k) ? 'conflict' : replace.has(k) ? (obs.length ? 'different' : 'missing') : 'ok';
    if (d.kind === 'nexthop' || d.kind === 'nhgroup') { nhs.push(nexthopInfo(d, status, true, obs)); continue; }
    out.push({ kind: d.kind, device: d.ifname, ip: d.kind === 'neigh' ? d.ip : null, mac: d.mac, status, desired: d, observed: obs });
  }
  for (const [k, e] of extra) {
    if (seen.has(k)) continue;
    seen.add(k);
    const obs = byKey.get(k) ?? [];
    if (e.kind === 'nexthop' || e.kind === 'nhgroup') { nhs.push(nexthopInfo(e, 'extra', false, obs)); continue; }
    const mac = e.kind === 'fdb' ? e.mac : obs.find((o) => o.kind === 'neigh')?.mac ?? e.mac;
    out.push({ kind: e.kind, device: e.ifname, ip: e.kind === 'neigh' ? e.ip : null, mac, status: 'extra', desired: null, observed: obs });
  }
  out.sort((a, b) => a.kind.localeCompare(b.kind) || a.device.localeCompare(b.device) || (a.ip ?? a.mac).localeCompare(b.ip ?? b.mac));
  nhs.sort((a, b) => a.id - b.id);
  return { entries: out, nexthops: nhs };
}

export { describeObserved };

/** A kernel event small enough for a watcher: at most MAX_EVENT_OPS ops and failures. */
export function trimKernelEvent(ev: Extract<AgentEvent, { type: 'kernel' }>): ControlEventBody {
  if (ev.ops.length <= MAX_EVENT_OPS && ev.failed.length <= MAX_EVENT_OPS) return ev;
  const out: ControlEventBody = { ...ev, ops: ev.ops.slice(0, MAX_EVENT_OPS), failed: ev.failed.slice(0, MAX_EVENT_OPS) };
  if (ev.ops.length > MAX_EVENT_OPS) out.opsOmitted = ev.ops.length - MAX_EVENT_OPS;
  if (ev.failed.length > MAX_EVENT_OPS) {
    out.failedOmitted = ev.failed.length - MAX_EVENT_OPS;
    const counts = new Map<string, { op: 'replace' | 'delete'; code: string; count: number }>();
    for (const f of ev.failed) {
      const k = `${f.op.op}|${f.code}`;
      const c = counts.get(k);
      if (c) c.count++;
      else counts.set(k, { op: f.op.op, code: f.code, count: 1 });
    }
    out.failedCounts = [...counts.values()];
  }
  return out;
}

/** A session that went down this soon after its BFD session left Up went down because of BFD. */
const BFD_CAUSE_WINDOW_MS = 1000;

interface ProbeMemo {
  state: string;
  eligible: boolean;
  rttMs: number | null;
  at: number;
}

export class AgentControlProvider implements ControlProvider {
  private readonly o: AgentAdapterOptions;
  private readonly wall: () => number;
  private readonly listeners = new Set<(ev: ControlEvent) => void>();
  private unsubscribe: (() => void) | null = null;
  /** Probe states learned from events, for when no status source is given. */
  private readonly probeMemo = new Map<string, ProbeMemo>();
  /**
   * Uplinks whose session the agent reported down (and not up since), with whether BFD
   * took it down, as judged then: a large failover's best-path events come in chunks
   * after that event, and are classified as of the loss, not of when each chunk runs.
   */
  private readonly downMemo = new Map<string, { bfd: boolean }>();

  constructor(opts: AgentAdapterOptions) {
    this.o = opts;
    this.wall = opts.wallClock ?? Date.now;
    // Always listen (cheaply): the probe memo must see every event, watchers or not.
    this.unsubscribe = opts.agent.subscribe((ev) => this.onAgentEvent(ev));
  }

  /** Stop listening to the agent. */
  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.listeners.clear();
  }

  subscribe(cb: (ev: ControlEvent) => void): () => void {
    this.listeners.add(cb);
    return () => { this.listeners.delete(cb); };
  }

  /** Emit an event of the daemon's own (e.g. a reload triggered by SIGHUP). */
  publish(ev: ControlEventBody): void {
    const stamped = { ...ev, time: new Date(this.wall()).toISOString() } as ControlEvent;
    for (const fn of [...this.listeners]) fn(stamped);
  }

  async neighbors(): Promise<NeighborInfo[]> {
    const cfg = this.o.config();
    const now = this.o.clock.now();
    const bestCount = new Map<string, number>();
    for (const e of this.o.agent.rib.entries()) {
      const w = e.best?.winner;
      if (w) bestCount.set(w.uplink, (bestCount.get(w.uplink) ?? 0) + 1);
    }
    return this.o.agent.status().map((st) => {
      const u = cfg.uplinks.find((x) => x.name === st.name);
      const s = this.o.session?.(st.name) ?? null;
      const n = s?.negotiated ?? null;
      const bfdSnap = this.o.bfd?.(st.name)?.snapshot() ?? null;
      const established = s ? s.state === 'Established' : st.state === 'established';
      const upSince = s?.uptimeSince ?? st.upSince;
      const le = s?.lastError ?? null;
      const c = st.counters;
      return {
        uplink: st.name,
        peer: st.peer,
        localAddress: st.address,
        localAs: u?.localAs ?? 0,
        peerAs: n?.peerAs ?? u?.peerAs ?? 0,
        state: st.state === 'no-address' ? 'no-address' : s ? s.state : st.state === 'established' ? 'Established' : 'Idle',
        established,
        uptimeMs: established && upSince !== null ? Math.max(0, now - upSince) : null,
        flaps: st.flaps,
        peerRouterId: n?.peerRouterId ?? null,
        families: n ? n.families.map(familyName) : [],
        capabilities: n ? capabilityNames(n) : [],
        holdTime: n?.holdTime ?? u?.holdTime ?? 0,
        keepalive: n?.keepalive ?? u?.keepalive ?? 0,
        bfd: bfdSnap && {
          state: bfdSnap.state, remoteState: bfdSnap.remoteState, diag: bfdSnap.diagName,
          txIntervalMs: bfdSnap.txIntervalMs, detectTimeMs: bfdSnap.detectTimeMs,
        },
        routes: {
          received: c.received,
          accepted: c.accepted,
          rejected: { ...c.rejected },
          withdrawn: c.withdrawn,
          paths: st.pathsReceived,
          best: bestCount.get(st.name) ?? 0,
          advertised: st.advertised,
        },
        lastError: le && {
          code: le.code, subcode: le.subcode,
          notification: le.code === null ? null : describeNotification(le.code, le.subcode ?? 0),
          text: le.text,
        },
        auth: u ? authName(uplinkAuth(u)) : null,
        ttlSecurity: u?.ttlSecurity ?? null,
      };
    });
  }

  async routes(filter: RouteFilter): Promise<RouteInfo[]> {
    const vtep = this.vtepStateLookup();
    const ip = filter.ip === undefined ? undefined : normalizeIp(filter.ip);
    const out: RouteInfo[] = [];
    const dups = new Set((this.o.agent.duplicates?.() ?? []).map((d) => `${d.vni}|${d.mac}`));
    const shown = new Set<string>();
    const wanted = (vni: number, mac: string): boolean => (filter.vni === undefined || vni === filter.vni) && (filter.mac === undefined || mac === filter.mac);
    for (const e of this.o.agent.rib.entries()) {
      if (!wanted(e.vni, e.mac)) continue;
      if (ip !== undefined && (e.ip === null || normalizeIp(e.ip) !== ip)) continue;
      const best = e.best?.winner ?? null;
      const paths = e.paths.map((p) => pathInfo(p, best, vtep));
      paths.sort((a, b) => Number(b.best) - Number(a.best) || b.localPref - a.localPref || a.network.localeCompare(b.network));
      const r: RouteInfo = { vni: e.vni, mac: e.mac, ip: e.ip, paths, bestReason: e.best ? reasonText(e.best.reason) : null };
      const k = `${e.vni}|${e.mac}`;
      if (dups.has(k)) {
        r.duplicate = true;
        if (e.ip === null) shown.add(k);
      }
      out.push(r);
    }
    // A duplicate MAC with no MAC-only entry in the RIB is still listed.
    if (ip === undefined) {
      for (const d of this.o.agent.duplicates?.() ?? []) {
        if (!wanted(d.vni, d.mac) || shown.has(`${d.vni}|${d.mac}`)) continue;
        out.push({ vni: d.vni, mac: d.mac, ip: null, paths: [], bestReason: null, duplicate: true });
      }
    }
    out.sort((a, b) => a.vni - b.vni || (a.ip ?? '').localeCompare(b.ip ?? '') || a.mac.localeCompare(b.mac));
    return out;
  }

  async kernel(): Promise<KernelInfo> {
    const cfg = this.o.config();
    let observed: ObservedEntry[];
    let source: KernelInfo['source'];
    if (this.o.agent.observedEntries) {
      observed = this.o.agent.observedEntries();
      source = 'agent';
    } else if (this.o.kernel) {
      observed = await this.o.kernel.dump(cfg.vnis.flatMap((v) => [v.bridge, v.vxlan]));
      source = 'dump';
    } else {
      throw new Error('the kernel state is not available (neither the agent nor a kernel port can be read)');
    }
    const { entries, nexthops } = compareKernelAll(this.o.agent.desiredEntries(), observed, cfg.kernel.protocol);
    const counts = Object.fromEntries(KERNEL_STATUSES.map((s) => [s, 0])) as Record<KernelStatus, number>;
    for (const e of entries) counts[e.status]++;
    const mode = this.o.agent.fdbMode?.() ?? { mode: 'dst' as const, reason: 'not reported by the agent' };
    const macs = new Map((this.o.agent.nexthopGroups?.() ?? []).map((g) => [g.id, g.macs]));
    for (const n of nexthops) if (n.kind === 'group') n.macs = macs.get(n.id) ?? 0;
    return {
      protocol: cfg.kernel.protocol, staleGateOpen: this.o.agent.staleGateOpen, source, counts, entries,
      fdbMode: mode.mode, fdbModeReason: mode.reason, nexthops,
    };
  }

  async vteps(): Promise<VtepInfo[]> {
    const now = this.o.clock.now();
    const usage = new Map<string, number>();
    for (const n of this.o.agent.rib.nextHops()) usage.set(`${n.uplink}|${n.nextHop}`, n.paths);
    const out: VtepInfo[] = [];
    const seen = new Set<string>();
    const status = this.probeStatus();
    if (status) {
      for (const s of status) {
        const k = `${s.network}|${s.remoteVtep}`;
        if (seen.has(k)) continue;
        seen.add(k);
        out.push({
          network: s.network, localVtep: s.localVtep, remoteVtep: s.remoteVtep, state: s.state, eligible: s.eligible,
          rttMs: s.rttMs ?? null, srttMs: s.srttMs ?? null,
          lastReplyAgoMs: s.lastReplyAt === undefined ? null : Math.max(0, now - s.lastReplyAt),
          sinceMs: Math.max(0, now - s.since), sent: s.sent, replies: s.replies, paths: usage.get(k) ?? 0,
        });
      }
    }
    const local = new Map(this.o.agent.status().map((u) => [u.name, u.address]));
    for (const [k, paths] of usage) {
      if (seen.has(k)) continue;
      seen.add(k);
      const i = k.indexOf('|');
      const network = k.slice(0, i);
      const remoteVtep = k.slice(i + 1);
      const m = status ? undefined : this.probeMemo.get(k);
      out.push({
        network, localVtep: local.get(network) ?? null, remoteVtep, state: m?.state ?? 'not-probed', eligible: m?.eligible ?? true,
        rttMs: m?.rttMs ?? null, srttMs: null, lastReplyAgoMs: null, sinceMs: m ? Math.max(0, now - m.at) : null,
        sent: 0, replies: 0, paths,
      });
    }
    out.sort((a, b) => a.network.localeCompare(b.network) || a.remoteVtep.localeCompare(b.remoteVtep));
    return out;
  }

  async clearDuplicate(mac: string, vni: number | null): Promise<ClearDuplicateResult> {
    return { cleared: this.o.agent.clearDuplicate?.(mac, vni) ?? [] };
  }

  async reload(): Promise<ReloadResult> {
    let r: ReloadResult;
    if (this.o.reload) {
      r = await this.o.reload();
    } else {
      this.o.refreshLinks?.();
      r = { ok: true, message: 'links and addresses will be read again' };
    }
    this.publish({ type: 'reload', ok: r.ok, message: r.message });
    return r;
  }

  // --- internals ---

  private probeStatus(): ProbeTargetStatus[] | null {
    if (this.o.probeStatus) return this.o.probeStatus();
    if (this.o.agent.probeStatus) return this.o.agent.probeStatus();
    return null;
  }

  private vtepStateLookup(): (network: string, nextHop: string) => string {
    const status = this.probeStatus();
    if (status) {
      const m = new Map(status.map((s) => [`${s.network}|${s.remoteVtep}`, s.state]));
      return (n, h) => m.get(`${n}|${h}`) ?? 'not-probed';
    }
    return (n, h) => this.probeMemo.get(`${n}|${h}`)?.state ?? 'not-probed';
  }

  private sessionUp(uplink: string): boolean {
    if (this.downMemo.has(uplink)) return false;
    const s = this.o.session?.(uplink);
    if (s) return s.state === 'Established';
    return this.o.agent.status().find((u) => u.name === uplink)?.state === 'established';
  }

  /** BFD left Up on this uplink just now (what took the session down with it). */
  private bfdDown(uplink: string): boolean {
    const m = this.downMemo.get(uplink);
    if (m) return m.bfd;
    const b = this.o.bfd?.(uplink)?.snapshot();
    return b !== undefined && b.state !== 'Up' && b.lastDownAt !== undefined && this.o.clock.now() - b.lastDownAt <= BFD_CAUSE_WINDOW_MS;
  }

  private onAgentEvent(ev: AgentEvent): void {
    if (ev.type === 'probe') {
      this.probeMemo.set(`${ev.network}|${ev.remoteVtep}`, {
        state: ev.to, eligible: ev.eligible, rttMs: ev.rttMs ?? null, at: this.o.clock.now(),
      });
    }
    if (ev.type === 'session') {
      this.downMemo.delete(ev.uplink);
      if (ev.state === 'down') this.downMemo.set(ev.uplink, { bfd: this.bfdDown(ev.uplink) });
    }
    if (this.listeners.size === 0) return;
    if (ev.type !== 'best-path') {
      this.publish(ev.type === 'kernel' ? trimKernelEvent(ev) : ev);
      return;
    }
    // The typed reason becomes text here, at the edge (same field, same place in the JSON).
    const reason = reasonText(ev.reason);
    this.publish({ ...ev, reason });
    const cause = classifyFailover(ev, (u) => this.sessionUp(u), (u) => this.bfdDown(u));
    if (cause && ev.before && ev.after) {
      this.publish({ type: 'failover', vni: ev.vni, mac: ev.mac, ip: ev.ip, from: ev.before, to: ev.after, cause, reason });
    }
  }
}
