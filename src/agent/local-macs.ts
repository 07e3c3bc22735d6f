// The agent's MAC mobility wiring (RFC 7432 §15; moved out of agent.ts; the
// decisions themselves: mobility.ts; docs/agent.md "MAC mobility"). Everything that
// feeds Mobility and acts on its decisions is here: the local MACs (the bridges' own,
// the endpoints the agent learns, localMacUp/localMacDown of a caller), the remote
// best path of the MACs it tracks (from the RIB's changes), clear requests and the
// freeze timer. Its decisions come back to the agent as a re-origination request; a
// MAC that moved away has its stale local FDB entry removed here.
import type { KernelPort, LinkInfo } from '../kernel/port.js';
import type { Clock } from '../util/clock.js';
import type { Path } from './bestpath.js';
import type { VniConfig } from './config.js';
import { EarliestTimer } from './earliest-timer.js';
import type { AgentEvent } from './events.js';
import { DEFAULT_MOBILITY, Mobility, type MobilityDecision, type RemoteMac } from './mobility.js';
import type { RibChange } from './rib-types.js';

export interface LocalMacsDeps {
  clock: Clock;
  kernel: Pick<KernelPort, 'apply'>;
  /** config vnis, as they are now (their mobility settings). */
  vnis(): readonly VniConfig[];
  /** The FDB projection's winner for (VNI, MAC) (Rib.fdbPath()). */
  fdbPath(vni: number, mac: string): Path | null;
  /** The bridge ports the endpoint table sees a MAC on (advertiseEndpoints). */
  portsOf(vni: number, mac: string): readonly string[];
  /**
   * The uplinks whose routes we do not fully know now: down (upSince null) or still
   * receiving their initial table (no End-of-RIB yet; upSince: when that session came
   * up). Empty while start() reads the MACs there are (those are never claimed blind).
   */
  incomplete(): ReadonlyArray<{ uplink: string; upSince: number | null }>;
  /** When the uplink's session came up, if it is receiving its initial table now; else null. */
  receiving(uplink: string): number | null;
  started(): boolean;
  stopping(): boolean;
  /** Re-announce our routes on the next tick. */
  reoriginate(): void;
  /** The MAC became, or stopped being, held locally: put its kernel entries right (Rib.macDelta). */
  reproject(vni: number, mac: string): void;
  emit(ev: AgentEvent): void;
  problem(message: string): void;
}

/** A remote path as mobility sees it: its MAC Mobility community and VTEP. */
function remoteOf(p: Path | null): RemoteMac | null {
  return p && { seq: p.macMobilitySeq, sticky: p.macMobilitySticky, vtep: p.nextHop };
}

export class LocalMacs {
  /** MAC mobility and duplicate detection of our local MACs. */
  readonly mobility: Mobility;
  /** VNI -> the bridge MAC fed to mobility as local. */
  private readonly bridgeMacs = new Map<number, string>();
  /**
   * `${vni}|${mac}` -> the bridge port a caller of up() named (to remove a stale entry
   * after a move). The ports of the MACs the endpoint table learns are the table's
   * alone (portsOf), so a MAC that went from one local port to another is not looked
   * for on the port it left.
   */
  private readonly localPorts = new Map<string, string>();
  private readonly freezeTimer: EarliestTimer;
  /**
   * `${vni}|${mac}` of the MACs held locally (Mobility.heldLocally) as the kernel
   * projection was last told: a MAC that comes or goes here has its remote paths
   * taken out of the kernel, or put back (rib-projection.ts).
   */
  private readonly held = new Set<string>();
  /**
   * `${vni}|${mac}` -> the uplinks that were incomplete when we last claimed the MAC
   * blind (uplink -> upSince of its session then, null when it was down). Only a
   * table from one of those, the same session or the first one since, is a replay.
   */
  private readonly blindVia = new Map<string, Map<string, number | null>>();

  constructor(private readonly deps: LocalMacsDeps) {
    this.mobility = new Mobility((vni) => deps.vnis().find((v) => v.vni === vni)?.mobility ?? DEFAULT_MOBILITY);
    this.freezeTimer = new EarliestTimer(deps.clock, () => {
      if (!deps.stopping()) this.onMobility(this.mobility.expire(deps.clock.now()));
    });
  }

  /** A MAC is local on `vni` (sticky: a static FDB entry; port: the bridge port it is on). */
  up(vni: number, mac: string, sticky: boolean, port?: string): void {
    if (this.deps.stopping()) return;
    const k = `${vni}|${mac}`;
    if (port !== undefined) this.localPorts.set(k, port);
    const incomplete = this.deps.incomplete();
    // A repeated up is no new claim: the record of the last one stays.
    if (!this.mobility.heldLocally(vni, mac)) {
      if (incomplete.length) this.blindVia.set(k, new Map(incomplete.map((u) => [u.uplink, u.upSince])));
      else this.blindVia.delete(k);
    }
    const view = { blind: incomplete.length > 0 };
    this.onMobility(this.mobility.localUp(vni, mac, sticky, this.remoteMac(vni, mac), this.deps.clock.now(), view));
    this.heldChanged(vni, mac);
  }

  /** A local MAC went away (aged out, port removed). */
  down(vni: number, mac: string): void {
    if (this.deps.stopping()) return;
    this.localPorts.delete(`${vni}|${mac}`);
    this.blindVia.delete(`${vni}|${mac}`);
    this.onMobility(this.mobility.localDown(vni, mac, this.deps.clock.now()));
    this.heldChanged(vni, mac);
  }

  /** Lift the duplicate flag; returns what was cleared. */
  clear(mac: string, vni: number | null): Array<{ vni: number; mac: string }> {
    const { cleared, decisions } = this.mobility.clear(mac.toLowerCase(), vni, this.deps.clock.now());
    this.onMobility(decisions);
    return cleared;
  }

  /** Stop the freeze timer (shutdown). */
  cancel(): void {
    this.freezeTimer.cancel();
  }

  /** The best remote path of (VNI, MAC) as mobility sees it (the FDB projection's winner). */
  private remoteMac(vni: number, mac: string): RemoteMac | null {
    return remoteOf(this.deps.fdbPath(vni, mac));
  }

  /**
   * The bridges' own MACs are local MACs (not sticky: announced as before, without
   * the community). Called by the agent just before it originates: no re-origination
   * is asked for.
   */
  bridgeMacsChanged(links: readonly LinkInfo[]): void {
    const out: MobilityDecision[] = [];
    const now = this.deps.clock.now();
    for (const v of this.deps.vnis()) {
      const mac = links.find((l) => l.name === v.bridge)?.mac ?? null;
      const was = this.bridgeMacs.get(v.vni) ?? null;
      if (mac === was) continue;
      if (was !== null) out.push(...this.mobility.localDown(v.vni, was, now));
      if (mac === null) this.bridgeMacs.delete(v.vni);
      else {
        this.bridgeMacs.set(v.vni, mac);
        out.push(...this.mobility.localUp(v.vni, mac, false, this.remoteMac(v.vni, mac), now));
      }
      if (was !== null) this.heldChanged(v.vni, was);
      if (mac !== null) this.heldChanged(v.vni, mac);
    }
    this.onMobility(out, false);
  }

  /** Feed the new remote best paths of tracked MACs to mobility. */
  remoteChanged(changes: readonly RibChange[]): void {
    if (this.mobility.size === 0) return;
    const seen = new Set<string>();
    const out: MobilityDecision[] = [];
    const now = this.deps.clock.now();
    // O(changes) Map lookups: a large failover of remote MACs costs next to nothing here.
    for (const c of changes) {
      if (!this.mobility.tracks(c.vni, c.mac)) continue;
      const k = `${c.vni}|${c.mac}`;
      if (seen.has(k)) continue;
      seen.add(k);
      const p = this.deps.fdbPath(c.vni, c.mac);
      const view = { replay: p !== null && this.replayed(k, p.uplink) };
      for (const d of this.mobility.remote(c.vni, c.mac, remoteOf(p), now, view)) out.push(d);
    }
    this.onMobility(out);
    // A remote change can make a MAC held here again without a decision (a duplicate
    // taken back while frozen): keep the record true (the kernel delta that follows
    // these changes reads heldLocally itself).
    for (const k of seen) {
      const i = k.indexOf('|');
      this.heldChanged(Number(k.slice(0, i)), k.slice(i + 1));
    }
  }

  /**
   * A path over `uplink` comes with a table that was there before our blind claim of
   * `k`: the uplink was incomplete at the claim and is receiving its initial table now,
   * in the session it had then or (down then) the first one since. A table from a
   * session that came up after a complete view at the claim is news.
   */
  private replayed(k: string, uplink: string): boolean {
    const via = this.blindVia.get(k);
    if (via === undefined || !via.has(uplink)) return false;
    const since = this.deps.receiving(uplink);
    const then = via.get(uplink)!;
    return since !== null && (then === null || then === since);
  }

  /** Act on mobility's decisions: re-originate, remove stale local entries, report. */
  private onMobility(decisions: readonly MobilityDecision[], mayOriginate = true): void {
    let reoriginate = false;
    for (const d of decisions) {
      this.heldChanged(d.vni, d.mac);
      this.deps.emit({ type: 'mobility', decision: d });
      if (d.kind === 'announce' || d.kind === 'withdraw') reoriginate = true;
      else if (d.kind === 'remove-local-fdb') this.removeStaleLocal(d.vni, d.mac);
    }
    const next = this.mobility.nextExpiry();
    if (next !== null) this.freezeTimer.at(next);
    // On the next tick, never re-entrantly: decisions also come from inside the endpoint
    // table's updates and from RIB changes being applied.
    if (reoriginate && mayOriginate && this.deps.started()) this.deps.reoriginate();
  }

  /** Tell the kernel projection when (vni, mac) came to be held here or stopped being so. */
  private heldChanged(vni: number, mac: string): void {
    const k = `${vni}|${mac}`;
    const now = this.mobility.heldLocally(vni, mac);
    if (now === this.held.has(k)) return;
    if (now) this.held.add(k);
    else this.held.delete(k);
    this.deps.reproject(vni, mac);
  }

  /**
   * The MAC moved away (RFC 7432 §15.1): delete the bridge's entry for it on the local
   * port it was learned on, if we know the port. The bridge's own MAC is never deleted.
   */
  private removeStaleLocal(vni: number, mac: string): void {
    if (this.bridgeMacs.get(vni) === mac) return;
    const known = this.localPorts.get(`${vni}|${mac}`);
    this.localPorts.delete(`${vni}|${mac}`);
    // The ports the endpoint table sees it on (advertiseEndpoints), and the one we were told.
    const ports = new Set(this.deps.portsOf(vni, mac));
    if (known !== undefined) ports.add(known);
    for (const port of ports) {
      const op = { op: 'delete' as const, entry: { kind: 'fdb' as const, ifname: port, mac, dst: '' }, only: 'bridge' as const };
      void this.deps.kernel.apply([op]).then((res) => {
        for (const r of res) if (!r.ok) this.deps.problem(`removing the stale local FDB entry of ${mac} on ${port} (VNI ${vni}): ${r.code} ${r.message}`);
      }, (e: unknown) => this.deps.problem(`removing the stale local FDB entry of ${mac} on ${port} (VNI ${vni}): ${String(e)}`));
    }
  }
}
