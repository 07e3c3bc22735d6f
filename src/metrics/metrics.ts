// Prometheus metrics of the agent (docs/metrics.md lists every one).
//
// Two sources, both through the control API's provider (src/control/types.ts):
//  * state read at scrape time (session state, route counts, probe RTT, BFD):
//    neighbors() and vteps() are asked once per scrape and every gauge is
//    rewritten, so a VTEP or uplink that went away leaves no stale series;
//  * counters of things that happen (failovers with their cause, kernel writes
//    and errors, probe transitions, problems), fed by the provider's events.
// Names are prefixed evpn_ha_; process and Node.js metrics come from
// prom-client's default collectors with the same prefix.
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { ControlEvent, ControlProvider, NeighborInfo, VtepInfo } from '../control/types.js';

export const METRIC_PREFIX = 'evpn_ha_';

export interface AgentMetricsOptions {
  /** Default: a new Registry. */
  registry?: Registry;
  /** Collect process and Node.js metrics (memory, CPU, event loop, GC). Default true. */
  defaultMetrics?: boolean;
  /** Shown in evpn_ha_build_info. */
  version?: string;
}

type Labels<K extends string> = Partial<Record<K, string | number>>;

export class AgentMetrics {
  readonly registry: Registry;
  private provider: ControlProvider | null = null;
  private unsubscribe: (() => void) | null = null;
  private refreshing: Promise<void> | null = null;

  // --- state at scrape time ---
  private readonly sessionUp: Gauge<'uplink' | 'peer'>;
  private readonly sessionState: Gauge<'uplink' | 'peer' | 'state'>;
  private readonly sessionUptime: Gauge<'uplink' | 'peer'>;
  private readonly sessionFlaps: Counter<'uplink' | 'peer'>;
  private readonly bfdUp: Gauge<'uplink' | 'peer'>;
  private readonly bfdState: Gauge<'uplink' | 'peer' | 'state'>;
  private readonly routesReceived: Counter<'network'>;
  private readonly routesAccepted: Counter<'network'>;
  private readonly routesRejected: Counter<'network' | 'reason'>;
  private readonly routesWithdrawn: Counter<'network'>;
  private readonly paths: Gauge<'network'>;
  private readonly bestPaths: Gauge<'network'>;
  private readonly advertised: Gauge<'network'>;
  private readonly probeRtt: Gauge<'network' | 'remote_vtep'>;
  private readonly probeUp: Gauge<'network' | 'remote_vtep'>;
  private readonly probeState: Gauge<'network' | 'remote_vtep' | 'state'>;

  // --- events ---
  private readonly failovers: Counter<'cause' | 'from_network' | 'to_network'>;
  private readonly lastFailover: Gauge;
  private readonly bestPathChanges: Counter;
  private readonly kernelWrites: Counter<'op'>;
  private readonly kernelErrors: Counter<'op' | 'code'>;
  private readonly kernelRestores: Counter;
  private readonly kernelConflicts: Counter<'reason'>;
  private readonly probeTransitions: Counter<'network' | 'to'>;
  private readonly problems: Counter;
  private readonly reloads: Counter<'result'>;
  private readonly macDuplicates: Counter<'vni'>;
  private readonly macDuplicatesNow: Gauge;

  constructor(opts: AgentMetricsOptions = {}) {
    const registers = [this.registry = opts.registry ?? new Registry()];
    const P = METRIC_PREFIX;
    const scrape = (): Promise<void> => this.refresh();
    const g = <K extends string>(name: string, help: string, labelNames: readonly K[], withCollect = true): Gauge<K> =>
      new Gauge<K>({ name: P + name, help, labelNames, registers, ...(withCollect ? { collect: scrape } : {}) });
    const c = <K extends string>(name: string, help: string, labelNames: readonly K[], withCollect = false): Counter<K> =>
      new Counter<K>({ name: P + name, help, labelNames, registers, ...(withCollect ? { collect: scrape } : {}) });

    this.sessionUp = g('bgp_session_up', 'BGP session of the uplink is Established (1) or not (0).', ['uplink', 'peer']);
    this.sessionState = g('bgp_session_state', 'BGP FSM state of the uplink\'s session (RFC 4271 §8.2.2): 1 for the current state.', ['uplink', 'peer', 'state']);
    this.sessionUptime = g('bgp_session_uptime_seconds', 'Seconds the session has been Established (0 when not).', ['uplink', 'peer']);
    this.sessionFlaps = c('bgp_session_flaps_total', 'Times the session left Established since the agent started.', ['uplink', 'peer'], true);
    this.bfdUp = g('bfd_up', 'BFD session of the uplink is Up (1) or not (0); absent without BFD.', ['uplink', 'peer']);
    this.bfdState = g('bfd_state', 'BFD session state (RFC 5880 §4.1): 1 for the current state.', ['uplink', 'peer', 'state']);
    this.routesReceived = c('routes_received_total', 'EVPN reach NLRI received over the network\'s session.', ['network'], true);
    this.routesAccepted = c('routes_accepted_total', 'Received NLRI accepted by the import policy.', ['network'], true);
    this.routesRejected = c('routes_rejected_total', 'Received NLRI rejected by the import policy, per reason.', ['network', 'reason'], true);
    this.routesWithdrawn = c('routes_withdrawn_total', 'Withdrawn NLRI received (including RFC 7606 treat-as-withdraw).', ['network'], true);
    this.paths = g('paths', 'Paths held in the network\'s Adj-RIB-In (after policy).', ['network']);
    this.bestPaths = g('best_paths', 'Loc-RIB entries (VNI, MAC, IP) whose best path comes over this network.', ['network']);
    this.advertised = g('routes_advertised', 'Routes the agent advertises over this network.', ['network']);
    this.probeRtt = g('vtep_probe_rtt_seconds', 'Round-trip time of the latest VTEP probe reply.', ['network', 'remote_vtep']);
    this.probeUp = g('vtep_probe_up', 'The remote VTEP is eligible (reachable over this network: 1) or not (0).', ['network', 'remote_vtep']);
    this.probeState = g('vtep_probe_state', 'VTEP probe state (unknown, up, down, holddown, not-probed): 1 for the current state.', ['network', 'remote_vtep', 'state']);

    this.failovers = c('failovers_total', 'Best-path changes that moved traffic for a (VNI, MAC, IP) to another network or VTEP, per cause.', ['cause', 'from_network', 'to_network']);
    this.lastFailover = g('last_failover_timestamp_seconds', 'Unix time of the last failover (0: none since start).', [], false);
    this.bestPathChanges = c('best_path_changes_total', 'Best-path changes of Loc-RIB entries (including new and removed entries).', []);
    this.kernelWrites = c('kernel_writes_total', 'Successful kernel neighbour/FDB operations (replace, delete).', ['op']);
    this.kernelErrors = c('kernel_write_errors_total', 'Failed kernel neighbour/FDB operations, per errno name.', ['op', 'code']);
    this.kernelRestores = c('kernel_restores_total', 'Entries rewritten because someone else changed or removed them.', []);
    this.kernelConflicts = c('kernel_conflicts_total', 'Desired entries not written because a foreign entry holds the key.', ['reason']);
    this.probeTransitions = c('vtep_probe_transitions_total', 'VTEP probe state changes, per new state.', ['network', 'to']);
    this.problems = c('problems_total', 'Problems reported by the agent (also logged).', []);
    this.reloads = c('reloads_total', 'Configuration reloads (SIGHUP or evpn-ha reload), per result.', ['result']);
    this.macDuplicates = c('mac_duplicates_total', 'Local MACs marked duplicate by MAC mobility (RFC 7432 §15.1: more than maxMoves moves within window).', ['vni']);
    this.macDuplicatesNow = g('mac_duplicates', 'MACs marked duplicate now (not announced until cleared or unfrozen).', [], false);

    const info = new Gauge<'version'>({ name: `${P}build_info`, help: 'Always 1; the evpn-ha version as a label.', labelNames: ['version'], registers });
    info.set({ version: opts.version ?? 'unknown' }, 1);
    this.lastFailover.set(0);
    this.macDuplicatesNow.set(0);
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: P });
  }

  /** Read state from `provider` at each scrape and count its events. Returns detach. */
  attach(provider: ControlProvider): () => void {
    this.detach();
    this.provider = provider;
    this.unsubscribe = provider.subscribe((ev) => this.onEvent(ev));
    return () => this.detach();
  }

  detach(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.provider = null;
  }

  /** The text exposition format (what GET /metrics returns). */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Count one event. */
  onEvent(ev: ControlEvent): void {
    switch (ev.type) {
      case 'failover':
        this.failovers.inc({ cause: ev.cause, from_network: ev.from.uplink, to_network: ev.to.uplink });
        this.lastFailover.set(Date.parse(ev.time) / 1000);
        return;
      case 'best-path':
        this.bestPathChanges.inc();
        return;
      case 'kernel': {
        if (ev.failedCounts) for (const f of ev.failedCounts) this.kernelErrors.inc({ op: f.op, code: f.code }, f.count);
        else for (const f of ev.failed) this.kernelErrors.inc({ op: f.op.op, code: f.code });
        if (ev.replaced) this.kernelWrites.inc({ op: 'replace' }, ev.replaced);
        if (ev.deleted) this.kernelWrites.inc({ op: 'delete' }, ev.deleted);
        return;
      }
      case 'kernel-restore':
        this.kernelRestores.inc(ev.keys);
        return;
      case 'kernel-conflict':
        this.kernelConflicts.inc({ reason: ev.reason });
        return;
      case 'probe':
        this.probeTransitions.inc({ network: ev.network, to: ev.to });
        return;
      case 'problem':
        this.problems.inc();
        return;
      case 'reload':
        this.reloads.inc({ result: ev.ok ? 'ok' : 'failed' });
        return;
      case 'mobility': {
        const d = ev.decision;
        if (d.kind === 'duplicate') {
          this.macDuplicates.inc({ vni: d.vni });
          this.macDuplicatesNow.inc();
        } else if (d.kind === 'duplicate-cleared') this.macDuplicatesNow.dec();
        return;
      }
      default:
        return;
    }
  }

  // --- scrape-time state ---

  /** One provider read per scrape, shared by every gauge's collect(). */
  private refresh(): Promise<void> {
    if (!this.refreshing) {
      this.refreshing = this.read().finally(() => { this.refreshing = null; });
    }
    return this.refreshing;
  }

  private async read(): Promise<void> {
    const p = this.provider;
    if (!p) return;
    const [ns, vs] = await Promise.all([p.neighbors(), p.vteps()]);
    this.setNeighbors(ns);
    this.setVteps(vs);
  }

  private setNeighbors(ns: NeighborInfo[]): void {
    for (const m of [this.sessionUp, this.sessionState, this.sessionUptime, this.bfdUp, this.bfdState, this.paths, this.bestPaths, this.advertised]) m.reset();
    for (const m of [this.sessionFlaps, this.routesReceived, this.routesAccepted, this.routesRejected, this.routesWithdrawn]) m.reset();
    for (const n of ns) {
      const l = { uplink: n.uplink, peer: n.peer };
      this.sessionUp.set(l, n.established ? 1 : 0);
      this.sessionState.set({ ...l, state: n.state }, 1);
      this.sessionUptime.set(l, n.uptimeMs === null ? 0 : n.uptimeMs / 1000);
      setCounter(this.sessionFlaps, l, n.flaps);
      if (n.bfd) {
        this.bfdUp.set(l, n.bfd.state === 'Up' ? 1 : 0);
        this.bfdState.set({ ...l, state: n.bfd.state }, 1);
      }
      const net = { network: n.uplink };
      setCounter(this.routesReceived, net, n.routes.received);
      setCounter(this.routesAccepted, net, n.routes.accepted);
      setCounter(this.routesWithdrawn, net, n.routes.withdrawn);
      for (const [reason, v] of Object.entries(n.routes.rejected)) setCounter(this.routesRejected, { ...net, reason }, v);
      this.paths.set(net, n.routes.paths);
      this.bestPaths.set(net, n.routes.best);
      this.advertised.set(net, n.routes.advertised);
    }
  }

  private setVteps(vs: VtepInfo[]): void {
    for (const m of [this.probeRtt, this.probeUp, this.probeState]) m.reset();
    for (const v of vs) {
      const l = { network: v.network, remote_vtep: v.remoteVtep };
      if (v.rttMs !== null) this.probeRtt.set(l, v.rttMs / 1000);
      this.probeUp.set(l, v.eligible ? 1 : 0);
      this.probeState.set({ ...l, state: v.state }, 1);
    }
  }
}

/** A counter mirroring a cumulative value kept elsewhere (the agent's own counters). */
function setCounter<K extends string>(c: Counter<K>, labels: Labels<K>, value: number): void {
  c.inc(labels, Math.max(0, value));
}
