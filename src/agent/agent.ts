// The VTEP agent: one BGP session per uplink, import policy, the RIB, and the
// kernel's neighbour/FDB entries kept equal to the RIB's best paths.
//
// Sessions and the kernel come in through small interfaces (AgentSession /
// SessionFactory, KernelPort), and time through a Clock, so that the whole agent
// runs in unit tests against FakeKernel and fake sessions. wiring.ts connects the
// real BgpSession.
//
// Kernel sync (docs/agent.md):
//  * `desired` (from the RIB) and `observed` (from a dump, then kept current by
//    kernel events and by our own successful writes) are compared per key with
//    reconcile.plan(); a change of best path is one replace;
//  * all kernel I/O runs in one serial worker; route changes are flushed on the
//    next timer tick (batched), foreign changes to our entries are undone after
//    kernel.restoreDelay (debounced);
//  * at start, entries left by a previous run are kept until every session has sent
//    End-of-RIB or kernel.startupGrace passed (StaleGate); entries that are still
//    wanted are never rewritten, so a restart does not flap anything;
//  * shutdown withdraws our routes, stops the sessions (Cease) and, unless told
//    otherwise, deletes every entry we own.
import type { Logger } from 'pino';
import type { Family, UpdateMessage } from '../bgp/types.js';
import type { EvpnRoute } from '../evpn/types.js';
import { NTF_EXT_LEARNED, NTF_SELF, NUD_NOARP, NUD_REACHABLE } from '../kernel/nl.js';
import {
  entryKey, observedKey,
  type KernelEntry, type KernelEvent, type KernelOp, type KernelPort, type LinkInfo, type ObservedEntry,
} from '../kernel/port.js';
import { plan, StaleGate, type Skipped } from '../kernel/reconcile.js';
import type { LocalUplink, ProbeStateEvent, ProbeTarget, ProbeTargetStatus } from '../probe/prober.js';
import type { Clock, Timer } from '../util/clock.js';
import type { Config, UplinkConfig } from './config.js';
import { diffAdvertisements, originate, resolveRouterId, type Advertisement } from './origination.js';
import { ImportPolicy, updateToChanges, type ImportContext, type PeerInfo, type PolicyCounters } from './policy.js';
import { Rib, type Path, type RibChange } from './rib.js';

// --- what the agent needs from a BGP session ---------------------------------------

/** Everything a session needs to know, resolved from the config and the links. */
export interface SessionSpec {
  uplink: string;
  peerAddress: string;
  peerPort: number;
  localAddress: string;
  localAs: number;
  peerAs: number;
  routerId: string;
  holdTime: number;
  keepalive: number;
  /** First reconnect delay, seconds. */
  connectRetry: number;
  passive: boolean;
  bfd: UplinkConfig['bfd'];
  /** RFC 4724 capability to advertise (restart time, s), or false. */
  gracefulRestart: { restartTime: number } | false;
}

/** What the session reports; the factory connects these to the session's events. */
export interface SessionHandlers {
  established(info: { peerRouterId: string }): void;
  down(reason: string): void;
  update(u: UpdateMessage): void;
  endOfRib(family: Family): void;
}

/**
 * The part of BgpSession the agent uses. The session keeps its Adj-RIB-Out and
 * sends it whole after each establishment (so advertise() before start() is fine).
 */
export interface AgentSession {
  start(): void;
  /** Cease / Administrative Shutdown. */
  stop(reason: string): Promise<void> | void;
  advertise(routes: Advertisement[]): void;
  withdraw(routes: EvpnRoute[]): void;
  /** Ask the peer to send its routes again (ROUTE-REFRESH); false if it cannot now. */
  refresh?(): boolean;
}

export type SessionFactory = (spec: SessionSpec, handlers: SessionHandlers) => AgentSession;

// --- what the agent needs from the VTEP prober (docs/probe.md) ---------------------

/** The part of VtepProber the agent uses (VtepProber fits as is). */
export interface AgentProber {
  start(): void;
  stop(): void;
  setUplinks(uplinks: LocalUplink[]): void;
  setTargets(targets: Iterable<ProbeTarget>): void;
  onStateChange(fn: (ev: ProbeStateEvent) => void): () => void;
  /** Per-target status, for `show` (optional). */
  status?(): ProbeTargetStatus[];
}

/** One prober per VNI: it sends from the VNI's bridge (service address and MAC). */
export interface ProberSpec {
  vni: number;
  serviceIp: string;
  bridgeMac: string;
  uplinks: LocalUplink[];
  interval: number;
  multiplier: number;
  holdDown: number;
  port: number;
}

export type ProberFactory = (spec: ProberSpec) => AgentProber;

// --- events ----------------------------------------------------------------------

export interface PathSummary {
  uplink: string;
  peer: string;
  nextHop: string;
  localPref: number;
  macMobilitySeq: number;
  eligible: boolean;
}

export type AgentEvent =
  | { type: 'session'; uplink: string; state: 'up'; peer: string; peerRouterId: string }
  | { type: 'session'; uplink: string; state: 'down'; peer: string; reason: string; pathsDropped: number }
  | { type: 'best-path'; vni: number; mac: string; ip: string | null; before: PathSummary | null; after: PathSummary | null; reason: string }
  | { type: 'kernel'; trigger: KernelTrigger; replaced: number; deleted: number; failed: Array<{ op: KernelOp; code: string; message: string }>; ops: KernelOp[] }
  | { type: 'kernel-conflict'; entry: KernelEntry; reason: Skipped['reason'] }
  | { type: 'kernel-restore'; keys: number }
  | { type: 'stale-cleanup'; cause: 'end-of-rib' | 'timeout' }
  | { type: 'origination'; uplink: string; address: string | null; advertised: number; withdrawn: number }
  | { type: 'probe'; network: string; remoteVtep: string; from: string; to: string; reason: string; eligible: boolean; rttMs: number | undefined }
  | { type: 'problem'; message: string };

export type KernelTrigger = 'routes' | 'restore' | 'resync' | 'stale-cleanup' | 'retry' | 'shutdown';

export interface AgentOptions {
  config: Config;
  kernel: KernelPort;
  sessions: SessionFactory;
  /** VTEP probers (used when config vtepProbe is on); without it every path stays eligible. */
  probers?: ProberFactory;
  clock: Clock;
  logger?: Logger;
  /** Delay before recomputing origination after link/address events, ms (default 100). */
  linkDelay?: number;
  /** Delay before retrying failed kernel operations, ms (default 1000). */
  retryDelay?: number;
}

interface UplinkState {
  cfg: UplinkConfig;
  address: string | null;
  /** The router ID the session was created with. */
  routerId: string | null;
  session: AgentSession | null;
  /** Increases with each new session object, so events of an old one are ignored. */
  generation: number;
  peer: PeerInfo | null;
  policy: ImportPolicy;
  advertised: Advertisement[];
  upSince: number | null;
  flaps: number;
}

export interface UplinkStatus {
  name: string;
  peer: string;
  address: string | null;
  state: 'established' | 'idle' | 'no-address';
  upSince: number | null;
  flaps: number;
  pathsReceived: number;
  advertised: number;
  counters: PolicyCounters;
}

export class Agent {
  readonly rib = new Rib();
  private cfg: Config;
  private readonly kernel: KernelPort;
  private readonly factory: SessionFactory;
  private readonly proberFactory: ProberFactory | null;
  private readonly probers = new Map<number, { prober: AgentProber; serviceIp: string; bridgeMac: string; off: () => void }>();
  private targetsDirty = false;
  private readonly clock: Clock;
  private readonly log: Logger | null;
  private readonly linkDelay: number;
  private readonly retryDelay: number;
  private readonly uplinks = new Map<string, UplinkState>();
  private readonly devices: Set<string>;
  private readonly listeners = new Set<(ev: AgentEvent) => void>();

  private links: LinkInfo[] = [];
  private routerId: string | null = null;
  private context: ImportContext;
  private problems = new Set<string>();

  /** entryKey -> what the RIB wants there */
  private readonly desired = new Map<string, KernelEntry>();
  /** entryKey -> the kernel's entries there (on our devices) */
  private observed = new Map<string, ObservedEntry[]>();
  private readonly dirty = new Set<string>();
  /** Keys whose last write failed: tried again when the retry timer fires. */
  private readonly retryKeys = new Set<string>();
  /** Keys whose last write failed, with the error code (a repeated failure is not reported again). */
  private readonly failing = new Map<string, string>();
  /** Keys kernel events touched while an apply() was in flight (null when none is). */
  private touchedWhileApplying: Set<string> | null = null;
  /** Entry events received while a dump is in flight (null when none is). */
  private eventsDuringDump: Array<{ key: string; action: 'new' | 'del'; entry: ObservedEntry }> | null = null;
  /** Keys written (replaced) by this run: deleted when unwanted even before the stale gate opens. */
  private readonly writtenThisRun = new Set<string>();
  private gate: StaleGate;

  private flushTimer: Timer | null = null;
  private flushTimerDue = Infinity;
  private retryTimer: Timer | null = null;
  private linkTimer: Timer | null = null;
  private graceTimer: Timer | null = null;
  private flushDue = false;
  private wantLinks = false;
  private wantResync = false;
  private resyncTimer: Timer | null = null;
  /** Keys dirtied by kernel events (someone else's change, or the echo of our own). */
  private readonly eventDirty = new Set<string>();
  private worker: Promise<void> | null = null;
  private unsubscribe: (() => void) | null = null;
  private started = false;
  private justOpened = false;
  private staleCleaned = false;
  private stopping = false;

  constructor(opts: AgentOptions) {
    this.cfg = opts.config;
    this.kernel = opts.kernel;
    this.factory = opts.sessions;
    this.proberFactory = opts.probers ?? null;
    this.clock = opts.clock;
    this.log = opts.logger?.child({ component: 'agent' }) ?? null;
    this.linkDelay = opts.linkDelay ?? 100;
    this.retryDelay = opts.retryDelay ?? 1000;
    this.devices = new Set(this.cfg.vnis.flatMap((v) => [v.bridge, v.vxlan]));
    this.context = { routerId: this.cfg.routerId ?? '', ownAddresses: new Set(), vnis: new Set(this.cfg.vnis.map((v) => v.vni)) };
    for (const u of this.cfg.uplinks) this.uplinks.set(u.name, this.newUplink(u));
    this.gate = new StaleGate(this.uplinks.keys(), this.clock.now(), this.cfg.kernel.startupGrace);
  }

  private newUplink(u: UplinkConfig): UplinkState {
    return {
      cfg: u, address: null, routerId: null, session: null, generation: 0, peer: null,
      policy: new ImportPolicy(u, this.context), advertised: [], upSince: null, flaps: 0,
    };
  }

  // --- public API ---

  /**
   * Apply a new configuration to the running agent, as far as possible without a
   * restart: uplinks added, removed or changed (a changed session parameter or import
   * RT list restarts that session; a changed localPref re-decides its paths; a changed
   * rd/routeTarget is re-announced), routerId, vtepProbe, kernel timers. Changes to
   * vnis, kernel.protocol, control, stateDir, metrics and logLevel need a restart (of
   * the agent, or of what run.ts owns) and are listed in `restartRequired` (not applied).
   */
  reconfigure(next: Config): { applied: string[]; restartRequired: string[] } {
    const old = this.cfg;
    const applied: string[] = [];
    const restartRequired: string[] = [];
    const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
    if (!same(old.vnis, next.vnis)) restartRequired.push('vnis');
    if (old.kernel.protocol !== next.kernel.protocol) restartRequired.push('kernel.protocol');
    if (!same(old.control, next.control)) restartRequired.push('control');
    if (old.stateDir !== next.stateDir) restartRequired.push('stateDir');
    if (!same(old.metrics, next.metrics)) restartRequired.push('metrics');
    if (old.logLevel !== next.logLevel) restartRequired.push('logLevel');
    const cfg: Config = {
      ...next, vnis: old.vnis, control: old.control, stateDir: old.stateDir, metrics: old.metrics, logLevel: old.logLevel,
      kernel: { ...next.kernel, protocol: old.kernel.protocol },
    };
    if (!same(old.kernel, cfg.kernel)) applied.push('kernel');
    if (old.routerId !== cfg.routerId) applied.push('routerId');
    this.cfg = cfg;

    const sessionKeys: Array<keyof UplinkConfig> = [
      'interface', 'address', 'peer', 'peerPort', 'passive', 'localAs', 'peerAs', 'holdTime', 'keepalive', 'connectRetry',
      'bfd', 'gracefulRestart',
    ];
    const states = new Map<string, UplinkState>();
    for (const u of cfg.uplinks) {
      const st = this.uplinks.get(u.name);
      if (!st) {
        states.set(u.name, this.newUplink(u));
        applied.push(`uplinks.${u.name} added`);
        continue;
      }
      const prev = st.cfg;
      st.cfg = u;
      st.policy.uplink = u;
      states.set(u.name, st);
      const changed = sessionKeys.filter((k) => !same(prev[k], u[k]));
      if (!same(prev.importRouteTargets, u.importRouteTargets)) {
        // The new import policy must see every route again: ROUTE-REFRESH (RFC 2918) if
        // the session can, else a session restart.
        if (changed.length === 0 && st.peer && st.session?.refresh?.()) applied.push(`uplinks.${u.name}: importRouteTargets (route refresh)`);
        else changed.push('importRouteTargets');
      }
      if (changed.length) {
        applied.push(`uplinks.${u.name}: ${changed.join(', ')} (session restarted)`);
        this.stopSession(st, 'configuration changed');
        st.address = null;
      }
      if (prev.localPref !== u.localPref) {
        applied.push(`uplinks.${u.name}.localPref ${prev.localPref} -> ${u.localPref}`);
        this.onRibChanges(this.rib.setLocalPref(u.name, u.localPref));
      }
      if (prev.rd !== u.rd || prev.routeTarget !== u.routeTarget) applied.push(`uplinks.${u.name}: rd/routeTarget (re-announced)`);
    }
    for (const [name, st] of this.uplinks) {
      if (states.has(name)) continue;
      applied.push(`uplinks.${name} removed`);
      if (st.session) st.session.withdraw(st.advertised.map((a) => a.route));
      this.stopSession(st, 'peer de-configured');
      this.onRibChanges(this.rib.dropSession(name));
      this.gate.forget(name);
    }
    this.uplinks.clear();
    for (const [name, st] of states) this.uplinks.set(name, st);
    if (this.started && this.gate.isOpen(this.clock.now())) this.checkGate('end-of-rib');

    if (!same(old.vtepProbe, cfg.vtepProbe)) {
      applied.push('vtepProbe');
      this.stopProbers();
    }
    if (this.started && !this.stopping) {
      this.applyLinks(this.links);
      this.scheduleLinks(0);
    }
    return { applied, restartRequired };
  }

  /** Receive every AgentEvent until the returned function is called. */
  subscribe(fn: (ev: AgentEvent) => void): () => void {
    this.listeners.add(fn);
    return () => { this.listeners.delete(fn); };
  }

  /**
   * Subscribe to the kernel, read what is there (left by a previous run: kept for
   * now), read the links, start the sessions. Resolves when that is done.
   */
  async start(): Promise<void> {
    if (this.started) throw new Error('agent already started');
    this.started = true;
    const now = this.clock.now();
    this.gate = new StaleGate(this.uplinks.keys(), now, this.cfg.kernel.startupGrace);
    this.graceTimer = this.clock.setTimer(this.cfg.kernel.startupGrace, () => {
      this.graceTimer = null;
      this.checkGate('timeout');
    });
    this.unsubscribe = this.kernel.subscribe((ev) => this.onKernelEvent(ev));
    this.wantResync = true;
    this.wantLinks = true;
    this.kick();
    await this.settled();
  }

  /** Resolves when no kernel work is running (timers may still be pending). */
  async settled(): Promise<void> {
    while (this.worker) await this.worker;
  }

  /**
   * Withdraw our routes, stop every session (Cease / Administrative Shutdown) and,
   * if `flushKernel` (default: config kernel.flushOnShutdown), delete our kernel entries.
   */
  async shutdown(opts: { flushKernel?: boolean; reason?: string } = {}): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const t of [this.flushTimer, this.retryTimer, this.linkTimer, this.graceTimer, this.resyncTimer]) t?.cancel();
    this.flushTimer = this.retryTimer = this.linkTimer = this.graceTimer = this.resyncTimer = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
    await this.settled();
    this.stopProbers();
    const reason = opts.reason ?? 'evpn-ha shutting down';
    const stops: Array<Promise<void> | void> = [];
    for (const st of this.uplinks.values()) {
      if (!st.session) continue;
      st.session.withdraw(st.advertised.map((a) => a.route));
      st.advertised = [];
      stops.push(st.session.stop(reason));
      st.session = null;
      st.generation++;
      st.peer = null;
    }
    await Promise.all(stops);
    if (opts.flushKernel ?? this.cfg.kernel.flushOnShutdown) {
      const all = [...this.observed.values()].flat();
      const p = plan([], all, { protocol: this.cfg.kernel.protocol, deleteStale: true });
      await this.applyOps(p.ops, 'shutdown');
    }
  }

  /** The VTEP probe's verdict on a next hop over one uplink's network. */
  setEligibility(nextHop: string, uplink: string, eligible: boolean): void {
    this.onRibChanges(this.rib.setEligibility(nextHop, uplink, eligible));
  }

  /** Ask for the links to be read again and origination recomputed (e.g. after SIGHUP). */
  refreshLinks(): void {
    this.scheduleLinks(0);
  }

  status(): UplinkStatus[] {
    return [...this.uplinks.values()].map((st) => ({
      name: st.cfg.name,
      peer: st.cfg.peer,
      address: st.address,
      state: st.peer ? 'established' : st.address === null ? 'no-address' : 'idle',
      upSince: st.upSince,
      flaps: st.flaps,
      pathsReceived: this.rib.adjRibIn(st.cfg.name).length,
      advertised: st.advertised.length,
      counters: st.policy.counters,
    }));
  }

  /** What the agent wants in the kernel now (for `show` and tests). */
  desiredEntries(): KernelEntry[] {
    return [...this.desired.values()];
  }

  /** The agent's view of the kernel entries on its devices (dump, then kept current by events). */
  observedEntries(): ObservedEntry[] {
    return [...this.observed.values()].flat();
  }

  /** Every VTEP probe target's status (all VNIs); empty without probers. */
  probeStatus(): ProbeTargetStatus[] {
    return [...this.probers.values()].flatMap((p) => p.prober.status?.() ?? []);
  }

  /** The links as last read (for `show`). */
  linksSeen(): LinkInfo[] {
    return this.links;
  }

  /** The router ID in use (null until the links were read, if not configured). */
  get bgpRouterId(): string | null {
    return this.routerId;
  }

  /** True once stale entries from a previous run may be removed. */
  get staleGateOpen(): boolean {
    return this.gate.isOpen(this.clock.now());
  }

  // --- sessions ---

  private handlers(st: UplinkState): SessionHandlers {
    const gen = st.generation;
    const live = (): boolean => st.generation === gen && !this.stopping;
    return {
      established: (info) => {
        if (!live()) return;
        st.peer = { address: st.cfg.peer, routerId: info.peerRouterId };
        st.upSince = this.clock.now();
        this.emit({ type: 'session', uplink: st.cfg.name, state: 'up', peer: st.cfg.peer, peerRouterId: info.peerRouterId });
      },
      down: (reason) => {
        if (!live()) return;
        this.sessionDown(st, reason);
      },
      update: (u) => {
        if (!live() || !st.peer) return;
        const res = st.policy.apply(updateToChanges(u), st.peer);
        this.onRibChanges(this.rib.applyUpdate(st.cfg.name, res));
        if (res.reach.length || res.unreach.length) this.probeTargetsChanged();
      },
      endOfRib: () => {
        if (!live()) return;
        if (this.gate.endOfRib(st.cfg.name, this.clock.now())) this.checkGate('end-of-rib');
      },
    };
  }

  private sessionDown(st: UplinkState, reason: string): void {
    const wasUp = st.peer !== null;
    st.peer = null;
    st.upSince = null;
    if (wasUp) st.flaps++;
    const n = this.rib.adjRibIn(st.cfg.name).length;
    // All of the session's paths at once; every affected entry decided in one pass.
    this.onRibChanges(this.rib.dropSession(st.cfg.name));
    if (n) this.probeTargetsChanged();
    this.emit({ type: 'session', uplink: st.cfg.name, state: 'down', peer: st.cfg.peer, reason, pathsDropped: n });
  }

  private startSession(st: UplinkState, address: string, routerId: string, routes: Advertisement[]): void {
    st.generation++;
    st.address = address;
    st.routerId = routerId;
    const u = st.cfg;
    const spec: SessionSpec = {
      uplink: u.name, peerAddress: u.peer, peerPort: u.peerPort, localAddress: address, localAs: u.localAs,
      peerAs: u.peerAs, routerId, holdTime: u.holdTime, keepalive: u.keepalive, connectRetry: u.connectRetry,
      passive: u.passive, bfd: u.bfd,
      gracefulRestart: u.gracefulRestart === null ? false : { restartTime: u.gracefulRestart },
    };
    const s = this.factory(spec, this.handlers(st));
    st.session = s;
    st.advertised = routes;
    if (routes.length) s.advertise(routes);
    s.start();
    this.emit({ type: 'origination', uplink: u.name, address, advertised: routes.length, withdrawn: 0 });
  }

  private stopSession(st: UplinkState, reason: string): void {
    const s = st.session;
    if (!s) return;
    st.session = null;
    if (st.peer) this.sessionDown(st, reason);
    st.generation++;
    st.advertised = [];
    void Promise.resolve(s.stop(reason)).catch((e: unknown) => this.problem(`uplink ${st.cfg.name}: stopping session: ${String(e)}`));
  }

  // --- origination ---

  private applyLinks(links: LinkInfo[]): void {
    this.links = links;
    const o = originate(this.cfg, links);
    const routerId = resolveRouterId(this.cfg, links);
    const own = new Set<string>();
    for (const a of o.addresses.values()) if (a !== null) own.add(a);
    this.context = { routerId: routerId ?? '', ownAddresses: own, vnis: this.context.vnis };
    for (const st of this.uplinks.values()) st.policy.context = this.context;

    const problems = new Set(o.problems);
    if (routerId === null) problems.add('no router ID: set routerId or give the first uplink an address');
    for (const p of problems) if (!this.problems.has(p)) this.problem(p);
    this.problems = problems;

    if (routerId !== this.routerId && this.routerId !== null) {
      for (const st of this.uplinks.values()) this.stopSession(st, 'router ID changed');
    }
    this.routerId = routerId;

    for (const st of this.uplinks.values()) {
      const addr = o.addresses.get(st.cfg.name) ?? null;
      const routes = o.perUplink.get(st.cfg.name) ?? [];
      if (st.session && addr !== st.address) this.stopSession(st, `local address changed from ${st.address} to ${addr ?? 'none'}`);
      st.address = addr;
      if (!st.session) {
        if (addr !== null && routerId !== null) this.startSession(st, addr, routerId, routes);
        continue;
      }
      const d = diffAdvertisements(st.advertised, routes);
      if (d.withdraw.length) st.session.withdraw(d.withdraw);
      if (d.advertise.length) st.session.advertise(d.advertise);
      st.advertised = routes;
      if (d.withdraw.length || d.advertise.length) {
        this.emit({ type: 'origination', uplink: st.cfg.name, address: addr, advertised: d.advertise.length, withdrawn: d.withdraw.length });
      }
    }
    this.updateProbers();
  }

  private stopProbers(): void {
    for (const p of this.probers.values()) {
      p.off();
      p.prober.stop();
    }
    this.probers.clear();
    if (!this.stopping) this.resyncEligibility();
  }

  /**
   * Forget every eligibility verdict and take them again from the probers there are
   * (a new prober starts with every target eligible and reports only changes).
   */
  private resyncEligibility(): void {
    const changes = this.rib.clearEligibility();
    for (const p of this.probers.values()) {
      for (const st of p.prober.status?.() ?? []) {
        if (!st.eligible) changes.push(...this.rib.setEligibility(st.remoteVtep, st.network, false));
      }
    }
    this.onRibChanges(changes);
  }

  /** One prober per VNI whose bridge has a MAC and an IPv4 address; re-made when those change. */
  private updateProbers(): void {
    const f = this.proberFactory;
    const pc = this.cfg.vtepProbe;
    if (!f || !pc) return;
    let remade = false;
    const uplinks: LocalUplink[] = [];
    for (const st of this.uplinks.values()) if (st.address !== null) uplinks.push({ network: st.cfg.name, address: st.address });
    for (const v of this.cfg.vnis) {
      const br = this.links.find((l) => l.name === v.bridge);
      const serviceIp = br?.addresses.find((a) => a.family === 4)?.address ?? null;
      const bridgeMac = br?.mac ?? null;
      const cur = this.probers.get(v.vni);
      if (cur && cur.serviceIp === serviceIp && cur.bridgeMac === bridgeMac) {
        cur.prober.setUplinks(uplinks);
        continue;
      }
      if (cur) {
        cur.off();
        cur.prober.stop();
        this.probers.delete(v.vni);
        remade = true;
      }
      if (serviceIp === null || bridgeMac === null) continue;
      const prober = f({ vni: v.vni, serviceIp, bridgeMac, uplinks, interval: pc.interval, multiplier: pc.multiplier, holdDown: pc.holdDown, port: pc.port });
      const off = prober.onStateChange((ev) => {
        if (this.stopping) return;
        this.emit({ type: 'probe', network: ev.network, remoteVtep: ev.remoteVtep, from: ev.from, to: ev.to, reason: ev.reason, eligible: ev.eligible, rttMs: ev.rttMs });
        this.setEligibility(ev.remoteVtep, ev.network, ev.eligible);
      });
      this.probers.set(v.vni, { prober, serviceIp, bridgeMac, off });
      prober.start();
    }
    if (remade) this.resyncEligibility();
    this.probeTargetsChanged();
  }

  private probeTargetsChanged(): void {
    if (this.probers.size === 0) return;
    this.targetsDirty = true;
    this.scheduleFlush(0);
  }

  /** Every (network, remote VTEP) that any path uses, per VNI. */
  private updateProbeTargets(): void {
    this.targetsDirty = false;
    const byVni = new Map<number, ProbeTarget[]>();
    for (const c of this.rib.probeCandidates()) {
      const local = this.uplinks.get(c.uplink)?.address;
      if (!local) continue;
      let list = byVni.get(c.vni);
      if (!list) byVni.set(c.vni, (list = []));
      list.push({ network: c.uplink, localVtep: local, remoteVtep: c.nextHop, remoteMac: c.mac, remoteServiceIp: c.ip });
    }
    for (const [vni, p] of this.probers) p.prober.setTargets(byVni.get(vni) ?? []);
  }

  private scheduleLinks(delay: number): void {
    if (this.stopping || this.linkTimer) return;
    this.linkTimer = this.clock.setTimer(delay, () => {
      this.linkTimer = null;
      this.wantLinks = true;
      this.kick();
    });
  }

  // --- RIB -> desired kernel state ---

  private onRibChanges(changes: RibChange[]): void {
    if (changes.length === 0) return;
    if (this.listeners.size || this.log?.isLevelEnabled('debug')) {
      for (const c of changes) {
        this.emit({ type: 'best-path', vni: c.vni, mac: c.mac, ip: c.ip, before: summary(c.before), after: summary(c.after), reason: c.reason });
      }
    }
    let any = false;
    for (const [key, e] of this.rib.kernelDelta(changes, this.cfg.vnis)) {
      const old = this.desired.get(key);
      if (e === null ? old === undefined : old !== undefined && sameEntry(old, e)) continue;
      if (e) this.desired.set(key, e);
      else this.desired.delete(key);
      this.dirty.add(key);
      this.eventDirty.delete(key);
      any = true;
    }
    if (!any) return;
    this.scheduleFlush(0);
  }

  // --- kernel events ---

  private onKernelEvent(ev: KernelEvent): void {
    if (this.stopping) return;
    switch (ev.type) {
      case 'entry': {
        const o = ev.entry;
        if (!this.devices.has(o.ifname)) return;
        const key = observedKey(o);
        if (key === null) return;
        this.touchedWhileApplying?.add(key);
        this.eventsDuringDump?.push({ key, action: ev.action, entry: o });
        applyObserved(this.observed, key, ev.action, o);
        // Only keys we care about: wanted ones, and ones we may own.
        if (this.desired.has(key) || this.writtenThisRun.has(key) || o.externLearned) {
          this.dirty.add(key);
          this.eventDirty.add(key);
          this.scheduleFlush(this.cfg.kernel.restoreDelay);
        }
        return;
      }
      case 'link':
        if (this.devices.has(ev.link.name)) this.scheduleResync();
        if (this.isWatchedLink(ev.link.name)) this.scheduleLinks(this.linkDelay);
        return;
      case 'addr':
        if (ev.ifname === null || this.isWatchedLink(ev.ifname)) this.scheduleLinks(this.linkDelay);
        return;
      case 'overflow':
        this.scheduleResync();
        this.scheduleLinks(this.linkDelay);
        return;
    }
  }

  private isWatchedLink(name: string): boolean {
    if (this.devices.has(name)) return true;
    for (const st of this.uplinks.values()) if (st.cfg.interface === name) return true;
    return false;
  }

  private scheduleResync(delay = this.cfg.kernel.restoreDelay): void {
    if (this.stopping || this.resyncTimer) return;
    this.resyncTimer = this.clock.setTimer(delay, () => {
      this.resyncTimer = null;
      this.wantResync = true;
      this.kick();
    });
  }

  private checkGate(cause: 'end-of-rib' | 'timeout'): void {
    if (this.stopping || this.staleCleaned || !this.gate.isOpen(this.clock.now())) return;
    this.staleCleaned = true;
    this.graceTimer?.cancel();
    this.graceTimer = null;
    this.emit({ type: 'stale-cleanup', cause });
    this.justOpened = true;
    for (const k of this.observed.keys()) this.dirty.add(k);
    this.scheduleFlush(0);
  }

  // --- the kernel worker ---

  private scheduleFlush(delay: number): void {
    if (this.stopping) return;
    const due = this.clock.now() + delay;
    if (this.flushTimer && this.flushTimerDue <= due) return;
    this.flushTimer?.cancel();
    this.flushTimerDue = due;
    this.flushTimer = this.clock.setTimer(delay, () => {
      this.flushTimer = null;
      this.flushTimerDue = Infinity;
      this.flushDue = true;
      this.kick();
    });
  }

  private kick(): void {
    if (this.worker) return;
    this.worker = this.work().finally(() => { this.worker = null; });
  }

  private async work(): Promise<void> {
    for (;;) {
      if (this.stopping) return;
      if (this.wantResync) {
        this.wantResync = false;
        await this.resync();
        continue;
      }
      if (this.wantLinks) {
        this.wantLinks = false;
        try {
          this.applyLinks(await this.kernel.links());
        } catch (e) {
          this.problem(`reading links: ${String(e)}`);
          this.scheduleLinks(this.retryDelay);
        }
        continue;
      }
      if (this.flushDue) {
        this.flushDue = false;
        if (this.targetsDirty) this.updateProbeTargets();
        if (this.dirty.size) await this.flush();
        continue;
      }
      return;
    }
  }

  /** Dump our devices and compare everything again. */
  private async resync(): Promise<void> {
    let entries: ObservedEntry[];
    const during: Array<{ key: string; action: 'new' | 'del'; entry: ObservedEntry }> = [];
    this.eventsDuringDump = during;
    try {
      entries = await this.kernel.dump([...this.devices]);
    } catch (e) {
      this.problem(`kernel dump: ${String(e)}`);
      this.scheduleResync(this.retryDelay);
      return;
    } finally {
      this.eventsDuringDump = null;
    }
    const observed = new Map<string, ObservedEntry[]>();
    for (const o of entries) {
      const key = observedKey(o);
      if (key === null) continue;
      const list = observed.get(key);
      if (list) list.push(o);
      else observed.set(key, [o]);
    }
    // Events that arrived while dumping may be newer than what the dump read;
    // replaying them in order is right either way (a change already seen is idempotent).
    for (const ev of during) applyObserved(observed, ev.key, ev.action, ev.entry);
    this.observed = observed;
    for (const k of observed.keys()) this.dirty.add(k);
    for (const k of this.desired.keys()) this.dirty.add(k);
    this.flushDue = true;
  }

  private async flush(): Promise<void> {
    const keys = [...this.dirty];
    this.dirty.clear();
    const desired: KernelEntry[] = [];
    const observed: ObservedEntry[] = [];
    for (const k of keys) {
      const d = this.desired.get(k);
      if (d) desired.push(d);
      const o = this.observed.get(k);
      if (o) observed.push(...o);
    }
    const open = this.gate.isOpen(this.clock.now());
    const p = plan(desired, observed, { protocol: this.cfg.kernel.protocol, deleteStale: open });
    const ops = p.ops;
    if (!open) {
      // Entries this run wrote and no longer wants go now; only a previous run's wait for the gate.
      for (const e of p.stale) if (this.writtenThisRun.has(entryKey(e))) ops.push({ op: 'delete', entry: e });
    }
    for (const s of p.skipped) this.emit({ type: 'kernel-conflict', entry: s.entry, reason: s.reason });
    // Ops at keys only kernel events touched undo someone else's change.
    const restores = ops.filter((o) => this.eventDirty.has(entryKey(o.entry))).length;
    for (const k of keys) this.eventDirty.delete(k);
    if (restores) this.emit({ type: 'kernel-restore', keys: restores });
    await this.applyOps(ops, restores === ops.length ? 'restore' : open && this.justOpened ? 'stale-cleanup' : 'routes');
    this.justOpened = false;
  }

  private async applyOps(ops: KernelOp[], trigger: KernelTrigger): Promise<void> {
    if (ops.length === 0) return;
    const touched = new Set<string>();
    this.touchedWhileApplying = touched;
    let results;
    try {
      results = await this.kernel.apply(ops);
    } finally {
      this.touchedWhileApplying = null;
    }
    const failed: Array<{ op: KernelOp; code: string; message: string }> = [];
    const newFailures: Array<{ op: KernelOp; code: string; message: string }> = [];
    let replaced = 0;
    let deleted = 0;
    results.forEach((r) => {
      const op = r.op;
      const key = entryKey(op.entry);
      if (!r.ok) {
        failed.push({ op, code: r.code, message: r.message });
        if (trigger !== 'shutdown') this.retryKeys.add(key);
        if (this.failing.get(key) !== r.code) {
          this.failing.set(key, r.code);
          newFailures.push({ op, code: r.code, message: r.message });
        }
        return;
      }
      this.failing.delete(key);
      // A kernel event for the key arrived meanwhile: it knows better than we do
      // (it may even be someone else's change right after ours).
      const known = touched.has(key);
      if (op.op === 'replace') {
        replaced++;
        this.writtenThisRun.add(key);
        if (!known) this.observed.set(key, synthesize(op.entry, this.cfg.kernel.protocol, this.observed.get(key)));
      } else {
        deleted++;
        this.writtenThisRun.delete(key);
        if (known) return;
        const left = (this.observed.get(key) ?? []).filter((o) => o.kind === 'fdb' && op.only !== undefined && o.table !== op.only);
        if (left.length) this.observed.set(key, left);
        else this.observed.delete(key);
      }
    });
    this.emit({ type: 'kernel', trigger, replaced, deleted, failed, ops });
    if (failed.length) {
      // One problem per kind of failure and batch; a key failing the same way again is not repeated.
      const kinds = new Map<string, { n: number; first: { op: KernelOp; code: string; message: string } }>();
      for (const f of newFailures) {
        const k = `${f.op.op}|${f.code}`;
        const g = kinds.get(k);
        if (g) g.n++;
        else kinds.set(k, { n: 1, first: f });
      }
      for (const { n, first: f } of kinds.values()) {
        const more = n > 1 ? ` (and ${n - 1} more ${f.op.op}s failing the same way)` : '';
        const retry = trigger === 'shutdown' ? '' : `; retrying every ${this.retryDelay / 1000} s`;
        this.problem(`kernel ${f.op.op} ${describeEntry(f.op.entry)}: ${f.code} ${f.message}${more}${retry}`);
      }
      if (trigger !== 'shutdown' && !this.retryTimer) {
        this.retryTimer = this.clock.setTimer(this.retryDelay, () => {
          this.retryTimer = null;
          for (const k of this.retryKeys) this.dirty.add(k);
          this.retryKeys.clear();
          this.flushDue = true;
          this.kick();
        });
      }
    }
  }

  // --- events ---

  private problem(message: string): void {
    this.emit({ type: 'problem', message });
  }

  private emit(ev: AgentEvent): void {
    if (this.log) logEvent(this.log, ev);
    for (const fn of [...this.listeners]) fn(ev);
  }
}

function summary(p: Path | null): PathSummary | null {
  return p && {
    uplink: p.uplink, peer: p.peer, nextHop: p.nextHop, localPref: p.localPref, macMobilitySeq: p.macMobilitySeq, eligible: p.eligible,
  };
}

/** Put an event's entry into (or take it out of) the observed map, per key and FDB table. */
function applyObserved(m: Map<string, ObservedEntry[]>, key: string, action: 'new' | 'del', o: ObservedEntry): void {
  const list = m.get(key);
  const i = list ? list.findIndex((x) => sameSlot(x, o)) : -1;
  if (action === 'new') {
    if (!list) m.set(key, [o]);
    else if (i >= 0) list[i] = o;
    else list.push(o);
  } else if (list && i >= 0) {
    list.splice(i, 1);
    if (list.length === 0) m.delete(key);
  }
}

function sameSlot(a: ObservedEntry, b: ObservedEntry): boolean {
  return a.kind === 'neigh' || b.kind === 'neigh' ? a.kind === b.kind : a.table === b.table;
}

function sameEntry(a: KernelEntry, b: KernelEntry): boolean {
  if (a.kind === 'neigh') return b.kind === 'neigh' && a.ifname === b.ifname && a.ip === b.ip && a.mac === b.mac;
  return b.kind === 'fdb' && a.ifname === b.ifname && a.mac === b.mac && a.dst === b.dst;
}

/** What the kernel holds after a successful replace (until its own event says more). */
function synthesize(e: KernelEntry, protocol: number, prev: ObservedEntry[] | undefined): ObservedEntry[] {
  const ifindex = prev?.[0]?.ifindex ?? 0;
  if (e.kind === 'neigh') {
    return [{
      kind: 'neigh', ifname: e.ifname, ifindex, family: e.ip.includes(':') ? 6 : 4, ip: e.ip, mac: e.mac,
      state: NUD_NOARP, flags: NTF_EXT_LEARNED, protocol, externLearned: true,
    }];
  }
  const master = prev?.find((o) => o.kind === 'fdb' && o.table === 'bridge');
  return [
    {
      kind: 'fdb', ifname: e.ifname, ifindex, mac: e.mac, table: 'bridge', dst: null, vlan: null,
      master: master?.kind === 'fdb' ? master.master : null, state: NUD_REACHABLE, flags: NTF_EXT_LEARNED, protocol: null, externLearned: true,
    },
    {
      kind: 'fdb', ifname: e.ifname, ifindex, mac: e.mac, table: 'vxlan', dst: e.dst, vlan: null, master: null,
      state: NUD_REACHABLE, flags: NTF_SELF | NTF_EXT_LEARNED, protocol: null, externLearned: true,
    },
  ];
}

export function describeEntry(e: KernelEntry): string {
  return e.kind === 'neigh' ? `neigh ${e.ip} dev ${e.ifname} lladdr ${e.mac}` : `fdb ${e.mac} dev ${e.ifname} dst ${e.dst}`;
}

function logEvent(log: Logger, ev: AgentEvent): void {
  switch (ev.type) {
    case 'session':
      if (ev.state === 'up') log.info({ uplink: ev.uplink, peer: ev.peer, peerRouterId: ev.peerRouterId }, `session ${ev.uplink} up`);
      else log.warn({ uplink: ev.uplink, peer: ev.peer, reason: ev.reason, pathsDropped: ev.pathsDropped }, `session ${ev.uplink} down: ${ev.reason}`);
      return;
    case 'best-path':
      log.debug({ vni: ev.vni, mac: ev.mac, ip: ev.ip, before: ev.before, after: ev.after, reason: ev.reason }, 'best path');
      return;
    case 'kernel':
      log.debug({ trigger: ev.trigger, replaced: ev.replaced, deleted: ev.deleted, failed: ev.failed.length }, 'kernel write');
      return;
    case 'kernel-conflict':
      log.warn({ entry: ev.entry, reason: ev.reason }, `not writing ${describeEntry(ev.entry)}: ${ev.reason}`);
      return;
    case 'kernel-restore':
      log.info({ entries: ev.keys }, 'restored kernel entries changed by someone else');
      return;
    case 'stale-cleanup':
      log.info({ cause: ev.cause }, 'removing stale kernel entries from a previous run');
      return;
    case 'origination':
      log.info({ uplink: ev.uplink, address: ev.address, advertised: ev.advertised, withdrawn: ev.withdrawn }, 'origination');
      return;
    case 'probe': {
      const msg = `VTEP ${ev.remoteVtep} on ${ev.network}: ${ev.from} -> ${ev.to} (${ev.reason})${ev.eligible ? '' : ', ineligible'}`;
      const fields = { network: ev.network, remoteVtep: ev.remoteVtep, from: ev.from, to: ev.to, reason: ev.reason, eligible: ev.eligible, rttMs: ev.rttMs };
      if (ev.to === 'down') log.warn(fields, msg);
      else log.info(fields, msg);
      return;
    }
    case 'problem':
      log.warn(ev.message);
      return;
  }
}
