// VTEP probe management (moved out of agent.ts; docs/probe.md): one prober per VNI,
// sending from the VNI's bridge (its IPv4 service address and MAC), re-made when
// those change; the targets every prober watches (each (network, remote VTEP) that a
// path uses, with its rate: active or not), refreshed on the next tick after the
// RIB's next hops change. The verdicts go to the agent (onStateChange), which feeds
// them to the RIB and the flood lists.
import type { LinkInfo } from '../kernel/port.js';
import type { LocalUplink, ProbeStateEvent, ProbeTarget, ProbeTargetStatus } from '../probe/prober.js';
import type { Clock, Timer } from '../util/clock.js';
import type { Config, VniConfig } from './config.js';
import type { AgentProber, ProberFactory } from './ports.js';
import type { ProbeCandidate } from './rib-nexthops.js';

export interface ProbeManagerDeps {
  /** Without a factory there are no probers: every path stays eligible. */
  factory: ProberFactory | null;
  clock: Clock;
  /** config vtepProbe, as it is now (null: off). */
  config(): Config['vtepProbe'];
  stopping(): boolean;
  /** Every (uplink, next hop) that paths use (Rib.probeCandidates()). */
  candidates(): ProbeCandidate[];
  /** Our VTEP address on an uplink's network, if it has one. */
  localAddress(uplink: string): string | null | undefined;
  /** A prober's verdict on a target changed. */
  onStateChange(ev: ProbeStateEvent): void;
  /** Probers were re-made (they start with every target eligible): take every verdict again. */
  resync(): void;
}

export class ProbeManager {
  private readonly probers = new Map<number, { prober: AgentProber; serviceIp: string; bridgeMac: string; off: () => void }>();
  private targetsTimer: Timer | null = null;

  constructor(private readonly deps: ProbeManagerDeps) {}

  get size(): number {
    return this.probers.size;
  }

  /** Every target's status, prober after prober (empty without probers). */
  status(): ProbeTargetStatus[] {
    return [...this.probers.values()].flatMap((p) => p.prober.status?.() ?? []);
  }

  /** One prober per VNI whose bridge has a MAC and an IPv4 address; re-made when those change. */
  update(vnis: readonly VniConfig[], links: readonly LinkInfo[], uplinks: LocalUplink[]): void {
    const f = this.deps.factory;
    const pc = this.deps.config();
    if (!f || !pc) return;
    let remade = false;
    for (const v of vnis) {
      const br = links.find((l) => l.name === v.bridge);
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
      const off = prober.onStateChange((ev) => this.deps.onStateChange(ev));
      this.probers.set(v.vni, { prober, serviceIp, bridgeMac, off });
      prober.start();
    }
    if (remade) this.deps.resync();
    this.targetsChanged();
  }

  /** Stop and forget every prober. */
  stopAll(): void {
    for (const p of this.probers.values()) {
      p.off();
      p.prober.stop();
    }
    this.probers.clear();
  }

  /** The RIB's next hops changed: refresh the targets on the next tick. */
  targetsChanged(): void {
    if (this.probers.size === 0 || this.targetsTimer || this.deps.stopping()) return;
    this.targetsTimer = this.deps.clock.setTimer(0, () => {
      this.targetsTimer = null;
      this.updateTargets();
    });
  }

  /** Cancel a pending target refresh (shutdown). */
  cancel(): void {
    this.targetsTimer?.cancel();
    this.targetsTimer = null;
  }

  /** Every (network, remote VTEP) that any path uses, per VNI. */
  private updateTargets(): void {
    const byVni = new Map<number, ProbeTarget[]>();
    for (const c of this.deps.candidates()) {
      const local = this.deps.localAddress(c.uplink);
      if (!local) continue;
      let list = byVni.get(c.vni);
      if (!list) byVni.set(c.vni, (list = []));
      list.push({ network: c.uplink, localVtep: local, remoteVtep: c.nextHop, remoteMac: c.mac, remoteServiceIp: c.ip, active: c.active });
    }
    for (const [vni, p] of this.probers) p.prober.setTargets(byVni.get(vni) ?? []);
  }
}
