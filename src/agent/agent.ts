// The VTEP agent: one BGP session per uplink, import policy, the RIB, and the
// kernel's neighbour/FDB entries kept equal to the RIB's best paths.
//
// Sessions and the kernel come in through small interfaces (AgentSession /
// SessionFactory, KernelPort), and time through a Clock, so that the whole agent
// runs in unit tests against FakeKernel and fake sessions. wiring.ts connects the
// real BgpSession.
//
// Kernel sync lives in kernel-sync.ts; events and their log lines in events.ts; the
// paths' way from sessions and probe verdicts through the RIB to the kernel (and the
// large failovers in two steps) in route-flow.ts. docs/architecture.md lists the
// other helpers this coordinator wires together.
// At start, entries left by a previous run are kept until every session has sent
// End-of-RIB or kernel.startupGrace passed (StaleGate); shutdown withdraws our
// routes, stops the sessions (Cease) and, unless told otherwise, deletes every
// entry we own.
import type { Logger } from 'pino';
import type { KernelEntry, KernelEvent, KernelPort, LinkInfo, ObservedEntry } from '../kernel/port.js';
import { StaleGate } from '../kernel/reconcile.js';
import type { LocalUplink, ProbeTargetStatus } from '../probe/prober.js';
import type { Clock, Timer } from '../util/clock.js';
import type { Config } from './config.js';
import { originate, resolveRouterId, type MacIpHook } from './origination.js';
import { EndpointTable, type EndpointEvent } from './endpoints.js';
import { FloodTable } from './flood.js';
import type { Mobility } from './mobility.js';
import { LocalMacs } from './local-macs.js';
import { EndpointReader } from './endpoint-reader.js';
import { SerialWork } from './serial-work.js';
import { ArpSuppress, checkVxlanFamilies, chooseFdbMode, type FdbMode } from './kernel-setup.js';
import type { ImportContext } from './policy.js';
import { EarliestTimer } from './earliest-timer.js';
import { logEvent, type AgentEvent } from './events.js';
import { RouteFlow } from './route-flow.js';
import { KernelSync } from './kernel-sync.js';
import { Rib } from './rib.js';
import { planReload, planUplink, same } from './reconfigure.js';
import { ProbeManager } from './probes.js';
import { newUplink, receivingTable, Sessions, uplinkStatus } from './sessions.js';

export { StartupError } from './kernel-setup.js';

export type { AgentEvent, KernelTrigger, PathSummary } from './events.js';
export { describeEntry } from './events.js';

export type {
  AgentOptions, AgentProber, AgentSession, ProberFactory, ProberSpec, SessionFactory, SessionHandlers, SessionSpec, UplinkStatus,
} from './ports.js';
import type { AgentOptions, UplinkState, UplinkStatus } from './ports.js';

export class Agent {
  readonly rib = new Rib();
  private cfg: Config;
  private readonly kernel: KernelPort;
  /** The uplinks' BGP sessions (sessions.ts). */
  private readonly sessions: Sessions;
  /** The VTEP probers and their targets (probes.ts). */
  private readonly probes: ProbeManager;
  private readonly clock: Clock;
  private readonly log: Logger | null;
  private readonly linkDelay: number;
  private readonly retryDelay: number;
  /** RIB changes on to the kernel, flood lists, probes and mobility (route-flow.ts). */
  private readonly flow: RouteFlow;
  private readonly uplinks = new Map<string, UplinkState>();
  private readonly devices: Set<string>;
  private readonly listeners = new Set<(ev: AgentEvent) => void>();

  private links: LinkInfo[] = [];
  private routerId: string | null = null;
  private context: ImportContext;
  private problems = new Set<string>();

  private readonly sync: KernelSync;
  private gate: StaleGate;
  private mode: FdbMode = { mode: 'dst', reason: 'not started' };
  /** neigh_suppress on the vnis[].arpSuppress ports, off again at shutdown (kernel-setup.ts). */
  private readonly arpSuppress: ArpSuppress;
  /** MAC mobility and duplicate detection of our local MACs (mobility.ts; docs/agent.md "MAC mobility"). */
  readonly mobility: Mobility;
  /** What feeds mobility and acts on its decisions (local-macs.ts). */
  private readonly macs: LocalMacs;

  private readonly linkTimer: EarliestTimer;
  private graceTimer: Timer | null = null;
  /** Reading the links, one read at a time. */
  private readonly linkReads: SerialWork;
  private unsubscribe: (() => void) | null = null;
  private started = false;
  private staleCleaned = false;
  private stopping = false;
  /** start() has read the local MACs there were (MAC mobility's blind claims: local-macs.ts). */
  private readAtStart = false;
  /** Local endpoints of the advertiseEndpoints VNIs (endpoints.ts). */
  private readonly endpoints: EndpointTable;
  private readonly endpointListeners = new Set<(ev: EndpointEvent) => void>();
  /** Dumps of the endpoints' kernel entries, and their entry events (endpoint-reader.ts). */
  private readonly endpointReader: EndpointReader;
  private readonly originTimer: EarliestTimer;
  /** Received type-3 routes of the flood VNIs (flood.ts). */
  private readonly flood: FloodTable;
  /** Changes our type-2 advertisements (MAC Mobility, duplicates: set by that module). */
  macIpHook: MacIpHook | undefined;

  constructor(opts: AgentOptions) {
    this.cfg = opts.config;
    this.kernel = opts.kernel;
    this.clock = opts.clock;
    this.sessions = new Sessions({
      factory: opts.sessions, clock: this.clock, stopping: () => this.stopping,
      emit: (ev) => this.emit(ev), problem: (m) => this.problem(m),
      beforeUp: () => this.flow.decideNow(),
      update: (st, peer, u) => this.flow.update(st, peer, u),
      down: (st, reason) => this.sessionDown(st, reason),
      endOfRib: (st) => {
        if (this.gate.endOfRib(st.cfg.name, this.clock.now())) this.checkGate('end-of-rib');
      },
    });
    this.probes = new ProbeManager({
      factory: opts.probers ?? null, clock: this.clock, config: () => this.cfg.vtepProbe, stopping: () => this.stopping,
      candidates: () => this.rib.probeCandidates(), localAddress: (uplink) => this.uplinks.get(uplink)?.address,
      onStateChange: (ev) => {
        if (this.stopping) return;
        this.emit({ type: 'probe', network: ev.network, remoteVtep: ev.remoteVtep, from: ev.from, to: ev.to, reason: ev.reason, eligible: ev.eligible, rttMs: ev.rttMs });
        this.setEligibility(ev.remoteVtep, ev.network, ev.eligible);
      },
      resync: () => this.flow.resyncEligibility(),
    });
    this.linkReads = new SerialWork(() => this.readLinks(), () => !this.stopping);
    this.linkTimer = new EarliestTimer(this.clock, () => this.linkReads.request());
    this.log = opts.logger?.child({ component: 'agent' }) ?? null;
    this.macs = new LocalMacs({
      clock: this.clock, kernel: this.kernel, vnis: () => this.cfg.vnis, fdbPath: (vni, mac) => this.rib.fdbPath(vni, mac),
      portsOf: (vni, mac) => this.endpoints.portsOf(vni, mac), started: () => this.started, stopping: () => this.stopping,
      // Only for MACs that appear after start's first read: those found then may have
      // moved away while we were not running (and the replayed routes say where to).
      incomplete: () => (!this.readAtStart ? [] : [...this.uplinks.values()]
        .filter((st) => st.peer === null || receivingTable(st, this.clock.now()))
        .map((st) => ({ uplink: st.cfg.name, upSince: st.peer === null ? null : st.upSince }))),
      receiving: (uplink) => { const st = this.uplinks.get(uplink); return st !== undefined && receivingTable(st, this.clock.now()) ? st.upSince : null; },
      reoriginate: () => this.reoriginate(), emit: (ev) => this.emit(ev), problem: (m) => this.problem(m),
      // A MAC that came here: its remote entries go at once, without kernel.withdrawDelay's
      // linger (the bridge takes our entry over as it learns the MAC; a lingering one
      // would be restored over it).
      reproject: (vni, mac) => this.sync.setDesired(this.rib.macDelta(vni, mac, this.cfg.vnis), { noLinger: this.mobility.heldLocally(vni, mac) }),
    });
    this.mobility = this.macs.mobility;
    this.rib.setLocalMacs((vni, mac) => this.mobility.heldLocally(vni, mac));
    this.linkDelay = opts.linkDelay ?? 100;
    this.retryDelay = opts.retryDelay ?? 1000;
    this.devices = new Set(this.cfg.vnis.flatMap((v) => [v.bridge, v.vxlan]));
    this.context = { routerId: this.cfg.routerId ?? '', ownAddresses: new Set(), vnis: new Set(this.cfg.vnis.map((v) => v.vni)) };
    for (const u of this.cfg.uplinks) this.uplinks.set(u.name, newUplink(u, this.context));
    this.gate = new StaleGate(this.uplinks.keys(), this.clock.now(), this.cfg.kernel.startupGrace);
    this.endpoints = new EndpointTable(this.cfg.vnis.filter((v) => v.advertiseEndpoints === true), this.cfg.kernel.protocol, (ev) => this.onEndpointEvent(ev));
    this.endpointReader = new EndpointReader(this.endpoints, {
      kernel: this.kernel, clock: this.clock, retryDelay: this.retryDelay,
      may: () => this.started && !this.stopping, problem: (m) => this.problem(m),
    });
    this.flood = new FloodTable({ routerId: this.context.routerId, ownAddresses: this.context.ownAddresses, vnis: this.cfg.vnis.filter((v) => v.flood === true) });
    this.originTimer = new EarliestTimer(this.clock, () => {
      if (this.started && !this.stopping && this.links.length) this.applyLinks(this.links);
    });
    this.arpSuppress = new ArpSuppress(this.kernel, (ev) => this.emit(ev));
    this.sync = new KernelSync({
      kernel: this.kernel, clock: this.clock, devices: this.devices, protocol: this.cfg.kernel.protocol,
      restoreDelay: () => this.cfg.kernel.restoreDelay, retryDelay: this.retryDelay,
      withdrawDelay: () => this.cfg.kernel.withdrawDelay,
      gateOpen: () => this.gate.isOpen(this.clock.now()), emit: (ev) => this.emit(ev),
    });
    this.flow = new RouteFlow({
      rib: this.rib, sync: this.sync, flood: this.flood, macs: this.macs, probes: this.probes,
      ribChunk: Math.max(1, opts.ribChunk ?? 1024), vnis: () => this.cfg.vnis,
      localPref: (u) => this.uplinks.get(u)?.cfg.localPref ?? 0,
      wantsBestPaths: () => this.listeners.size > 0 || this.log?.isLevelEnabled('debug') === true,
      emit: (ev) => this.emit(ev), problem: (m) => this.problem(m),
    });
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
    const plan = planReload(old, next);
    const { applied, restartRequired } = plan;
    if (plan.cfg === null) return { applied, restartRequired };
    const cfg = plan.cfg;
    this.cfg = cfg;

    const states = new Map<string, UplinkState>();
    for (const u of cfg.uplinks) {
      const st = this.uplinks.get(u.name);
      if (!st) {
        states.set(u.name, newUplink(u, this.context));
        applied.push(`uplinks.${u.name} added`);
        continue;
      }
      const prev = st.cfg;
      st.cfg = u;
      st.policy.uplink = u;
      states.set(u.name, st);
      const p = planUplink(prev, u, () => st.peer !== null && st.session?.refresh?.() === true);
      applied.push(...p.applied);
      if (p.restart) {
        this.sessions.stop(st, 'configuration changed');
        st.address = null;
      }
      if (p.localPref) this.flow.changes(this.rib.setLocalPref(u.name, u.localPref));
    }
    for (const [name, st] of this.uplinks) {
      if (states.has(name)) continue;
      applied.push(`uplinks.${name} removed`);
      if (st.session) st.session.withdraw(st.advertised.map((a) => a.route));
      this.sessions.stop(st, 'peer de-configured');
      this.flow.changes(this.rib.dropSession(name));
      this.gate.forget(name);
    }
    this.uplinks.clear();
    for (const [name, st] of states) this.uplinks.set(name, st);
    // A changed localPref can change a remote server's best network for its flood entry.
    this.flow.floodChanged();
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
   * Receive every local endpoint change (endpoints.ts) until the returned function is
   * called; the current endpoints are not replayed (read them with localEndpoints()).
   */
  subscribeEndpoints(fn: (ev: EndpointEvent) => void): () => void {
    this.endpointListeners.add(fn);
    return () => { this.endpointListeners.delete(fn); };
  }

  /** The local endpoints of a VNI (advertiseEndpoints), as announced. */
  localEndpoints(vni: number): ReturnType<EndpointTable['endpoints']> {
    return this.endpoints.endpoints(vni);
  }

  /** The flood-list entries wanted now (vnis[].flood). */
  floodEntries(): KernelEntry[] {
    return this.flood.desired();
  }

  /** Re-announce our routes on the next tick (after a change the MAC/IP hook depends on). */
  reoriginate(): void {
    if (!this.stopping) this.originTimer.after(0);
  }

  /**
   * Subscribe to the kernel, read what is there (left by a previous run: kept for
   * now), read the links, start the sessions. Resolves when that is done.
   */
  async start(): Promise<void> {
    if (this.started) throw new Error('agent already started');
    await checkVxlanFamilies(this.kernel, this.cfg, (m) => this.problem(m));
    this.started = true;
    const now = this.clock.now();
    this.gate = new StaleGate(this.uplinks.keys(), now, this.cfg.kernel.startupGrace);
    this.graceTimer = this.clock.setTimer(this.cfg.kernel.startupGrace, () => {
      this.graceTimer = null;
      this.checkGate('timeout');
    });
    this.unsubscribe = this.kernel.subscribe((ev) => this.onKernelEvent(ev));
    await this.chooseFdbMode();
    await this.arpSuppress.apply(this.cfg.vnis);
    this.sync.resyncNow();
    await this.sync.settled();
    if (!this.endpoints.empty) await this.endpointReader.dump();
    this.linkReads.request();
    await this.settled();
    this.readAtStart = true;
  }

  /** kernel.nexthopGroups (kernel-setup.ts); a refusal undoes what start() did so far. */
  private async chooseFdbMode(): Promise<void> {
    const mode = await chooseFdbMode(this.kernel, this.cfg.kernel.nexthopGroups);
    if ('refused' in mode) {
      this.started = false;
      this.unsubscribe?.();
      this.unsubscribe = null;
      this.graceTimer?.cancel();
      this.graceTimer = null;
      throw new Error(mode.refused);
    }
    this.mode = mode;
    this.sync.setNexthopGroups(mode.mode === 'nexthop-groups');
    this.emit({ type: 'fdb-mode', mode: mode.mode, reason: mode.reason });
  }

  /** How FDB entries are programmed and why (for `show kernel`). */
  fdbMode(): { mode: 'nexthop-groups' | 'dst'; reason: string } {
    return this.mode;
  }

  /** Our FDB nexthop groups (empty in per-entry mode). */
  nexthopGroups(): Array<{ id: number; memberId: number; vtep: string; macs: number }> {
    return this.sync.groups();
  }

  /** Group member replacements so far: each is a failover or failback of every MAC behind one group. */
  get groupReplaces(): number {
    return this.sync.groupReplaces;
  }

  /** Resolves when no kernel I/O is running (timers may still be pending). */
  async settled(): Promise<void> {
    while (this.linkReads.running || this.sync.busy || this.flow.work || this.endpointReader.running) {
      if (this.flow.work) await this.flow.work;
      if (this.linkReads.running) await this.linkReads.running;
      if (this.endpointReader.running) await this.endpointReader.running;
      await this.sync.settled();
    }
  }

  /**
   * Withdraw our routes, stop every session (Cease / Administrative Shutdown) and,
   * if `flushKernel` (default: config kernel.flushOnShutdown), delete our kernel entries.
   */
  async shutdown(opts: { flushKernel?: boolean; reason?: string } = {}): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.linkTimer.cancel();
    this.originTimer.cancel();
    this.macs.cancel();
    this.graceTimer?.cancel();
    this.graceTimer = null;
    this.probes.cancel();
    this.unsubscribe?.();
    this.unsubscribe = null;
    await this.settled();
    this.stopProbers();
    const flush = opts.flushKernel ?? this.cfg.kernel.flushOnShutdown;
    const reason = opts.reason ?? 'evpn-ha shutting down';
    // One uplink after the other, the lowest local-preference (the backup) first: the
    // other servers then lose our backup paths before our primary ones, so their best
    // path never moves to the backup network just because we stop (a restart with
    // kernel.flushOnShutdown false keeps their traffic on the primary throughout).
    const order = [...this.uplinks.values()].sort((a, b) => a.cfg.localPref - b.cfg.localPref);
    for (const st of order) await this.sessions.close(st, reason);
    await this.sync.stop(flush);
    await this.arpSuppress.restore();
  }

  /**
   * The VTEP probe's verdict on a next hop over one uplink's network. When it touches
   * more than `ribChunk` paths, a loss of eligibility first switches the FDB groups
   * leading there, and the decisions follow in chunks.
   */
  setEligibility(nextHop: string, uplink: string, eligible: boolean): void {
    this.flow.setEligibility(nextHop, uplink, eligible);
  }

  /** Ask for the links to be read again and origination recomputed (e.g. after SIGHUP). */
  refreshLinks(): void {
    this.scheduleLinks(0);
  }

  status(): UplinkStatus[] {
    return [...this.uplinks.values()].map((st) => uplinkStatus(st, this.rib.adjRibInSize(st.cfg.name)));
  }

  /** What the agent wants in the kernel now (for `show` and tests). */
  desiredEntries(): KernelEntry[] {
    return this.sync.desiredEntries();
  }

  /** The agent's view of the kernel entries on its devices (dump, then kept current by events). */
  observedEntries(): ObservedEntry[] {
    return this.sync.observedEntries();
  }

  /** Every VTEP probe target's status (all VNIs); empty without probers. */
  probeStatus(): ProbeTargetStatus[] {
    return this.probes.status();
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

  private sessionDown(st: UplinkState, reason: string): void {
    const wasUp = st.peer !== null;
    st.peer = null;
    st.upSince = null;
    st.tableAt = null;
    if (wasUp) st.flaps++;
    const n = this.flow.dropSession(st.cfg.name);
    this.emit({ type: 'session', uplink: st.cfg.name, state: 'down', peer: st.cfg.peer, reason, pathsDropped: n });
    this.flow.decideLater();
  }

  // --- origination ---

  private applyLinks(links: LinkInfo[]): void {
    this.links = links;
    if (!this.endpoints.empty && this.endpoints.setLinks(links)) this.endpointReader.schedule();
    // Called before originating, which follows.
    this.macs.bridgeMacsChanged(links);
    const o = originate(this.cfg, links, {
      endpoints: (vni) => this.endpoints.endpoints(vni),
      mobilityOf: (vni, mac) => this.mobility.of(vni, mac),
      macIpHook: this.macIpHook,
    });
    const routerId = resolveRouterId(this.cfg, links);
    const own = new Set<string>();
    for (const a of o.addresses.values()) if (a !== null) own.add(a);
    this.context = { routerId: routerId ?? '', ownAddresses: own, vnis: this.context.vnis };
    for (const st of this.uplinks.values()) st.policy.context = this.context;
    this.flood.context = { ...this.flood.context, routerId: this.context.routerId, ownAddresses: own };

    const problems = new Set(o.problems);
    if (routerId === null) problems.add('no router ID: set routerId or give the first uplink an address');
    for (const p of problems) if (!this.problems.has(p)) this.problem(p);
    this.problems = problems;

    if (routerId !== this.routerId && this.routerId !== null) {
      for (const st of this.uplinks.values()) this.sessions.stop(st, 'router ID changed');
    }
    this.routerId = routerId;

    for (const st of this.uplinks.values()) {
      this.sessions.follow(st, o.addresses.get(st.cfg.name) ?? null, routerId, o.perUplink.get(st.cfg.name) ?? []);
    }
    this.updateProbers();
  }

  private stopProbers(): void {
    this.probes.stopAll();
    if (!this.stopping) this.flow.resyncEligibility();
  }

  /** The probers follow the bridges' addresses and the uplinks' (probes.ts). */
  private updateProbers(): void {
    const uplinks: LocalUplink[] = [];
    for (const st of this.uplinks.values()) if (st.address !== null) uplinks.push({ network: st.cfg.name, address: st.address });
    this.probes.update(this.cfg.vnis, this.links, uplinks);
  }

  private scheduleLinks(delay: number): void {
    if (!this.stopping) this.linkTimer.after(delay);
  }

  /** Read the links and apply them (one read at a time: linkReads). */
  private async readLinks(): Promise<void> {
    try {
      const links = await this.kernel.links();
      if (!this.stopping) this.applyLinks(links);
    } catch (e) {
      this.problem(`reading links: ${String(e)}`);
      this.scheduleLinks(this.retryDelay);
    }
  }

  // --- local endpoints (endpoints.ts) ---

  private onEndpointEvent(ev: EndpointEvent): void {
    if (this.listeners.size || this.log) this.emit({ type: 'endpoint', event: ev });
    for (const fn of [...this.endpointListeners]) fn(ev);
    // MAC mobility (RFC 7432 §15) follows the local MACs: a MAC that appears here while a
    // remote route for it exists is announced with a higher sequence.
    // Their ports stay the endpoint table's (LocalMacs reads them there).
    if (ev.kind === 'mac-up') this.localMacUp(ev.vni, ev.mac, ev.sticky);
    else if (ev.kind === 'mac-down') this.localMacDown(ev.vni, ev.mac);
    this.reoriginate();
  }

  // --- MAC mobility (RFC 7432 §15; mobility.ts, local-macs.ts) ---

  /** A MAC is local on `vni` (sticky: a static FDB entry; port: the bridge port it is on). */
  localMacUp(vni: number, mac: string, sticky: boolean, port?: string): void {
    this.macs.up(vni, mac, sticky, port);
  }

  /** A local MAC went away (aged out, port removed). */
  localMacDown(vni: number, mac: string): void {
    this.macs.down(vni, mac);
  }

  /** MACs marked duplicate (for `show routes` and tests). */
  duplicates(): Array<{ vni: number; mac: string; moves: number; until: number | null }> {
    return this.mobility.duplicates();
  }

  /** `evpn-ha clear duplicate <mac> [--vni N]`: lift the duplicate flag; returns what was cleared. */
  clearDuplicate(mac: string, vni: number | null): Array<{ vni: number; mac: string }> {
    return this.macs.clear(mac, vni);
  }

  // --- kernel events ---

  private onKernelEvent(ev: KernelEvent): void {
    if (this.stopping) return;
    switch (ev.type) {
      case 'entry':
        this.sync.onEntryEvent(ev.action, ev.entry);
        if (!this.endpoints.empty) {
          this.endpointReader.onEntry(ev.action, ev.entry);
        }
        return;
      case 'link':
        if (!this.endpoints.empty && this.endpoints.watches(ev.link)) this.scheduleLinks(this.linkDelay);
        if (this.devices.has(ev.link.name)) this.sync.scheduleResync();
        if (this.isWatchedLink(ev.link.name)) this.scheduleLinks(this.linkDelay);
        this.uplinkLinkChanged(ev.link, ev.action);
        return;
      case 'addr':
        if (ev.ifname === null || this.isWatchedLink(ev.ifname)) this.scheduleLinks(this.linkDelay);
        return;
      case 'overflow':
        this.sync.scheduleResync();
        if (!this.endpoints.empty) this.endpointReader.schedule();
        this.scheduleLinks(this.linkDelay);
        return;
    }
  }

  /**
   * An uplink interface that goes down (admin down, no carrier, removed) takes its
   * session down at once instead of after the hold timer (like "fast external
   * fallover"): the paths learned over it are dropped in one pass and a new session
   * starts trying to connect.
   */
  private uplinkLinkChanged(link: LinkInfo, action: 'new' | 'del'): void {
    const down = action === 'del' ? 'removed' : !link.up ? 'down' : !link.carrier ? 'without carrier' : null;
    if (down === null) return;
    for (const st of this.uplinks.values()) {
      if (st.cfg.interface !== link.name || !st.peer) continue;
      this.sessions.stop(st, `${link.name} is ${down}`);
      st.address = null;
      this.scheduleLinks(0);
    }
  }

  private isWatchedLink(name: string): boolean {
    if (this.devices.has(name)) return true;
    for (const st of this.uplinks.values()) if (st.cfg.interface === name) return true;
    return false;
  }

  private checkGate(cause: 'end-of-rib' | 'timeout'): void {
    if (this.stopping || this.staleCleaned || !this.gate.isOpen(this.clock.now())) return;
    this.staleCleaned = true;
    this.graceTimer?.cancel();
    this.graceTimer = null;
    this.emit({ type: 'stale-cleanup', cause });
    this.sync.staleGateOpened();
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
