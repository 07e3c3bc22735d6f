// The paths' way through the agent (moved out of agent.ts): UPDATEs, session losses
// and VTEP probe verdicts go into the RIB and the flood table; the best-path changes
// go on to the kernel (KernelSync), the probe targets, MAC mobility and the
// 'best-path' events. A session loss or VTEP verdict that touches more than
// `ribChunk` paths is taken in two steps (docs/agent.md "Large failovers"): first the
// FDB nexthop groups the RIB predicts to move are switched in the kernel, in
// O(groups); then the RIB decides the affected entries a chunk at a time, yielding to
// the event loop in between, and the kernel follows those decisions (they have the
// last word).
import type { UpdateMessage } from '../bgp/types.js';
import type { VniConfig } from './config.js';
import { summary, type AgentEvent } from './events.js';
import type { FloodTable } from './flood.js';
import type { KernelSync } from './kernel-sync.js';
import type { LocalMacs } from './local-macs.js';
import { updateToChanges, type PeerInfo } from './policy.js';
import type { UplinkState } from './ports.js';
import type { ProbeManager } from './probes.js';
import type { Rib, RibChange } from './rib.js';

export interface RouteFlowDeps {
  rib: Rib;
  sync: KernelSync;
  flood: FloodTable;
  macs: LocalMacs;
  probes: ProbeManager;
  /** Best-path decisions per turn of the event loop (AgentOptions.ribChunk). */
  ribChunk: number;
  /** config vnis, as they are now (their devices). */
  vnis(): readonly VniConfig[];
  /** An uplink's local-preference (0 when it is gone). */
  localPref(uplink: string): number;
  /** Whether anyone reads 'best-path' events. */
  wantsBestPaths(): boolean;
  emit(ev: AgentEvent): void;
  problem(message: string): void;
}

export class RouteFlow {
  /** Deciding the RIB's queued entries, a chunk per turn (null when none are queued). */
  private ribWork: Promise<void> | null = null;

  constructor(private readonly deps: RouteFlowDeps) {}

  /** The chunked decisions in progress (null when none). */
  get work(): Promise<void> | null {
    return this.ribWork;
  }

  /** One UPDATE of an established session. */
  update(st: UplinkState, peer: PeerInfo, u: UpdateMessage): void {
    const { rib, flood } = this.deps;
    const changes = updateToChanges(u);
    const res = st.policy.apply(changes, peer);
    if (flood.applyUpdate(st.cfg, peer.routerId, changes.reach, changes.unreach)) this.floodChanged();
    this.changes(rib.applyUpdate(st.cfg.name, res));
    if (res.reach.length || res.unreach.length) this.deps.probes.targetsChanged();
  }

  /**
   * A session's paths go, all at once; every affected entry is decided once. Many of
   * them: the FDB groups move first (their write starts now), the decisions follow
   * (decideLater()). Returns the number of paths dropped.
   */
  dropSession(name: string): number {
    const { rib, sync, flood } = this.deps;
    const n = rib.adjRibInSize(name);
    const defer = n > this.deps.ribChunk;
    if (defer && sync.nexthopGroups) sync.switchGroups(rib.failoverSwitches(name));
    if (flood.dropSession(name)) this.floodChanged();
    this.changes(rib.dropSession(name, { defer }));
    if (n) this.deps.probes.targetsChanged();
    return n;
  }

  /**
   * The VTEP probe's verdict on a next hop over one uplink's network. When it touches
   * more than `ribChunk` paths, a loss of eligibility first switches the FDB groups
   * leading there, and the decisions follow in chunks.
   */
  setEligibility(nextHop: string, uplink: string, eligible: boolean): void {
    const { rib, sync, flood } = this.deps;
    const defer = rib.nextHopPaths(uplink, nextHop) > this.deps.ribChunk;
    if (defer && !eligible && sync.nexthopGroups) sync.switchGroups(rib.ineligibleSwitches(nextHop, uplink));
    if (flood.setEligibility(nextHop, uplink, eligible)) this.floodChanged();
    this.changes(rib.setEligibility(nextHop, uplink, eligible, { defer }));
    this.decideLater();
  }

  /**
   * Forget every eligibility verdict and take them again from the probers there are
   * (a new prober starts with every target eligible and reports only changes).
   */
  resyncEligibility(): void {
    const { rib, flood } = this.deps;
    const changes = rib.clearEligibility();
    flood.clearEligibility();
    for (const st of this.deps.probes.status()) {
      // Not push(...): a spread of ~125k arguments overflows the stack.
      if (!st.eligible) for (const c of rib.setEligibility(st.remoteVtep, st.network, false)) changes.push(c);
      if (!st.eligible) flood.setEligibility(st.remoteVtep, st.network, false);
    }
    this.floodChanged();
    this.changes(changes);
  }

  /**
   * Decide the RIB's queued entries a chunk per turn of the event loop (BFD, keepalives
   * and the kernel's answers get their turns in between). The kernel follows each
   * chunk; FDB wants wait in the planner until the last chunk, so a group whose MACs
   * all moved still moves by one replace.
   */
  decideLater(): void {
    const { rib, sync } = this.deps;
    if (this.ribWork || rib.deferred === 0) return;
    sync.holdFdbPlan(true);
    this.ribWork = (async () => {
      try {
        while (rib.deferred > 0) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          this.changes(rib.decideDeferred(this.deps.ribChunk));
        }
      } catch (e) {
        this.deps.problem(`deciding best paths: ${String(e)}`);
      } finally {
        this.ribWork = null;
        sync.holdFdbPlan(false);
      }
    })();
  }

  /** Decide whatever the RIB has queued, now. */
  decideNow(): void {
    if (this.deps.rib.deferred > 0) this.changes(this.deps.rib.decideDeferred());
  }

  /** Best-path changes: to mobility, the events and the kernel. */
  changes(changes: RibChange[]): void {
    const { rib } = this.deps;
    // A next hop started or stopped carrying traffic: its probe rate changes.
    if (rib.takeBestHopsChanged()) this.deps.probes.targetsChanged();
    if (changes.length === 0) return;
    this.deps.macs.remoteChanged(changes);
    if (this.deps.wantsBestPaths()) {
      for (const c of changes) {
        this.deps.emit({ type: 'best-path', vni: c.vni, mac: c.mac, ip: c.ip, before: summary(c.before), after: summary(c.after), reason: c.reason });
      }
    }
    this.deps.sync.setDesired(rib.kernelDelta(changes, this.deps.vnis()));
  }

  /** The flood entries follow the type-3 paths; a server's entry that moved goes at once. */
  floodChanged(): void {
    const { delta, moved } = this.deps.flood.update((u) => this.deps.localPref(u));
    if (delta.length === 0) return;
    this.deps.sync.setDesired(delta.filter(([k]) => moved.has(k)), { noLinger: true });
    this.deps.sync.setDesired(delta.filter(([k]) => !moved.has(k)));
  }
}
