// Local endpoints (vnis[].advertiseEndpoints, docs/agent.md "Local endpoints"): the
// containers and VMs behind the bridge's local ports, as the kernel knows them.
//
// Learned from (dump, then kernel events):
//  * the bridge FDB: entries of the bridge (NDA_MASTER = a VNI's bridge) on a local
//    port, i.e. any port but the VNI's vxlan device: MACs the bridge learned, and static
//    entries (`bridge fdb add MAC dev PORT master static`: NUD_NOARP, "sticky",
//    RFC 7432 §15.2). Skipped: `permanent` entries (NUD_PERMANENT: the addresses of the
//    host's own ports, delivered locally, as zebra skips them), extern_learn entries
//    (someone's control plane), multicast and all-zeros MACs, the bridge's own MAC
//    (announced by origination.ts as before);
//  * the bridge's neighbour table (IPv4 ARP, IPv6 ND on the VNI's bridge device):
//    entries in state REACHABLE, STALE, DELAY, PROBE or PERMANENT with a MAC, that are
//    not ours (extern_learn or NDA_PROTOCOL = ours: the remote endpoints we write),
//    except IPv6 link-local addresses (as for the bridge's own addresses).
//
// A MAC is local while at least one such FDB entry exists (per port and VLAN); an IP
// is announced while its neighbour entry qualifies and its MAC is local. A neighbour
// going STALE changes nothing (FRR #12574): STALE only means the kernel has not
// confirmed it lately. It goes when the kernel deletes it (garbage collection) or it
// turns FAILED/INCOMPLETE (the endpoint did not answer the kernel's probes).
//
// Output: typed events, in an order a consumer can follow (mac-up before its ip-ups,
// ip-downs before their mac-down). Pure state: the agent does the I/O (agent.ts).
import { NTF_EXT_LEARNED, NUD_DELAY, NUD_NOARP, NUD_PERMANENT, NUD_PROBE, NUD_REACHABLE, NUD_STALE } from '../kernel/nl.js';
import type { LinkInfo, ObservedEntry } from '../kernel/port.js';

export type EndpointEvent =
  /** A MAC became local (sticky: a static FDB entry), or its stickiness changed. */
  | { kind: 'mac-up'; vni: number; mac: string; sticky: boolean }
  /** A MAC is no longer local (aged out, deleted, its port gone). Its ip-downs came first. */
  | { kind: 'mac-down'; vni: number; mac: string }
  | { kind: 'ip-up'; vni: number; mac: string; ip: string }
  | { kind: 'ip-down'; vni: number; mac: string; ip: string };

/** A VNI whose endpoints are learned. */
export interface EndpointVni {
  vni: number;
  bridge: string;
  vxlan: string;
}

/** One local endpoint as origination reads it. */
export interface LocalEndpoint {
  mac: string;
  sticky: boolean;
  /** Announced IPs (canonical text), sorted. */
  ips: string[];
}

/** Neighbour states that keep an IP announced (docs/agent.md). */
export const ENDPOINT_NUD = NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT;

const ZERO_MAC = '00:00:00:00:00:00';

interface VniState {
  cfg: EndpointVni;
  /** mac -> (port|vlan -> sticky) */
  fdb: Map<string, Map<string, boolean>>;
  /** ip -> mac, qualifying neighbour entries on the bridge */
  neigh: Map<string, string>;
  /** mac -> ips, for finding a MAC's IPs */
  ipsOf: Map<string, Set<string>>;
  /** What was last reported: mac -> {sticky, ips} */
  announced: Map<string, { sticky: boolean; ips: Set<string> }>;
}

function isMulticast(mac: string): boolean {
  return (parseInt(mac.slice(0, 2), 16) & 1) === 1;
}

export class EndpointTable {
  private readonly byVni = new Map<number, VniState>();
  private readonly byBridge = new Map<string, VniState>();
  /** Names of the bridges' own MACs (never endpoints). */
  private bridgeMacs = new Set<string>();
  /** Local ports (bridge port name -> its bridge), from the last links. */
  private ports = new Map<string, string>();

  constructor(
    vnis: readonly EndpointVni[],
    /** Our NDA_PROTOCOL: neighbour entries carrying it are ours, never endpoints. */
    private readonly protocol: number,
    private readonly emit: (ev: EndpointEvent) => void,
  ) {
    for (const v of vnis) {
      const st: VniState = { cfg: v, fdb: new Map(), neigh: new Map(), ipsOf: new Map(), announced: new Map() };
      this.byVni.set(v.vni, st);
      this.byBridge.set(v.bridge, st);
    }
  }

  get empty(): boolean {
    return this.byVni.size === 0;
  }

  /** The local ports a MAC is learned on in a VNI (for removing it when it moved away). */
  portsOf(vni: number, mac: string): string[] {
    const slots = this.byVni.get(vni)?.fdb.get(mac);
    if (!slots) return [];
    return [...new Set([...slots.keys()].map((slot) => slot.slice(0, slot.lastIndexOf('|'))))];
  }

  /** The devices whose entries dump() must read: the bridges and their local ports. */
  devices(): string[] {
    return [...this.byBridge.keys(), ...this.ports.keys()];
  }

  /**
   * New links: the bridges' MACs and ports. Entries on ports that left their bridge
   * (or were removed) go; returns true when a port was added (its entries need a dump).
   */
  setLinks(links: readonly LinkInfo[]): boolean {
    const ports = new Map<string, string>();
    const macs = new Set<string>();
    for (const l of links) {
      const st = this.byBridge.get(l.name);
      if (st && l.mac) macs.add(l.mac);
      if (l.master === null) continue;
      const br = this.byBridge.get(l.master);
      if (!br || l.name === br.cfg.vxlan || l.kind === 'vxlan') continue;
      ports.set(l.name, l.master);
    }
    const added = [...ports.keys()].some((p) => !this.ports.has(p));
    const gone = [...this.ports].filter(([p, br]) => ports.get(p) !== br);
    const macsChanged = macs.size !== this.bridgeMacs.size || [...macs].some((m) => !this.bridgeMacs.has(m));
    this.ports = ports;
    this.bridgeMacs = macs;
    for (const [port, br] of gone) this.dropPort(br, port);
    if (macsChanged) for (const st of this.byVni.values()) for (const mac of [...st.fdb.keys(), ...st.announced.keys()]) this.settle(st, mac);
    return added;
  }

  /** Is this link a local port of one of our bridges (now or before)? Its changes need a links read. */
  watches(link: Pick<LinkInfo, 'name' | 'master'>): boolean {
    return this.ports.has(link.name) || (link.master !== null && this.byBridge.has(link.master));
  }

  /** Replace everything with a dump of devices() (events of the difference are emitted). */
  load(entries: readonly ObservedEntry[]): void {
    const touched = new Map<VniState, Set<string>>();
    for (const st of this.byVni.values()) {
      const t = new Set<string>([...st.fdb.keys(), ...st.announced.keys()]);
      touched.set(st, t);
      st.fdb.clear();
      st.neigh.clear();
      st.ipsOf.clear();
    }
    for (const o of entries) {
      const st = this.record('new', o);
      const mac = this.macOf(o);
      if (st && mac !== null) touched.get(st)!.add(mac);
    }
    for (const [st, macs] of touched) for (const mac of macs) this.settle(st, mac);
  }

  /** A kernel neighbour/FDB event. */
  onEntry(action: 'new' | 'del', o: ObservedEntry): void {
    const before = o.kind === 'neigh' ? this.byBridge.get(o.ifname)?.neigh.get(o.ip) : undefined;
    const st = this.record(action, o);
    if (!st) return;
    const mac = this.macOf(o);
    if (before !== undefined && before !== mac) this.settle(st, before);
    if (mac !== null) this.settle(st, mac);
  }

  /** The local endpoints of a VNI (announced state), in MAC order. */
  endpoints(vni: number): LocalEndpoint[] {
    const st = this.byVni.get(vni);
    if (!st) return [];
    return [...st.announced].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([mac, a]) => ({ mac, sticky: a.sticky, ips: [...a.ips].sort() }));
  }

  /** Number of local MACs and IPs over all VNIs. */
  counts(): { macs: number; ips: number } {
    let macs = 0;
    let ips = 0;
    for (const st of this.byVni.values()) {
      macs += st.announced.size;
      for (const a of st.announced.values()) ips += a.ips.size;
    }
    return { macs, ips };
  }

  // --- internals ---

  private macOf(o: ObservedEntry): string | null {
    return o.kind === 'nexthop' ? null : o.mac;
  }

  /** Put an entry into (or out of) the raw state; returns its VNI when it is one we learn from. */
  private record(action: 'new' | 'del', o: ObservedEntry): VniState | null {
    if (o.kind === 'nexthop') return null;
    if (o.kind === 'neigh') {
      const st = this.byBridge.get(o.ifname);
      if (!st) return null;
      const old = st.neigh.get(o.ip);
      if (old !== undefined) {
        st.neigh.delete(o.ip);
        const s = st.ipsOf.get(old);
        s?.delete(o.ip);
        if (s && s.size === 0) st.ipsOf.delete(old);
      }
      if (action === 'new' && this.qualifies(o)) {
        st.neigh.set(o.ip, o.mac!);
        let s = st.ipsOf.get(o.mac!);
        if (!s) st.ipsOf.set(o.mac!, (s = new Set()));
        s.add(o.ip);
      }
      return old !== undefined || st.neigh.has(o.ip) ? st : null;
    }
    if (o.table !== 'bridge' || o.master === null) return null;
    const st = this.byBridge.get(o.master);
    if (!st || o.ifname === st.cfg.vxlan || o.ifname === st.cfg.bridge) return null;
    const slot = `${o.ifname}|${o.vlan ?? ''}`;
    const ok = action === 'new' && (o.state & NUD_PERMANENT) === 0 && !o.externLearned
      && o.mac !== ZERO_MAC && !isMulticast(o.mac);
    let m = st.fdb.get(o.mac);
    if (ok) {
      if (!m) st.fdb.set(o.mac, (m = new Map()));
      m.set(slot, (o.state & NUD_NOARP) !== 0);
      return st;
    }
    if (!m || !m.delete(slot)) return null;
    if (m.size === 0) st.fdb.delete(o.mac);
    return st;
  }

  private qualifies(o: Extract<ObservedEntry, { kind: 'neigh' }>): boolean {
    if (o.mac === null || o.mac === ZERO_MAC || isMulticast(o.mac)) return false;
    if (o.externLearned || (o.flags & NTF_EXT_LEARNED) !== 0 || o.protocol === this.protocol) return false;
    if ((o.state & ENDPOINT_NUD) === 0) return false;
    return !(o.family === 6 && /^fe[89ab][0-9a-f]:/i.test(o.ip));
  }

  private dropPort(bridge: string, port: string): void {
    const st = this.byBridge.get(bridge);
    if (!st) return;
    for (const [mac, m] of [...st.fdb]) {
      let any = false;
      for (const slot of [...m.keys()]) {
        if (slot.slice(0, slot.lastIndexOf('|')) === port) { m.delete(slot); any = true; }
      }
      if (m.size === 0) st.fdb.delete(mac);
      if (any) this.settle(st, mac);
    }
  }

  /** Compare a MAC's derived state with what was reported, and report the difference. */
  private settle(st: VniState, mac: string): void {
    const vni = st.cfg.vni;
    const m = st.fdb.get(mac);
    const local = m !== undefined && m.size > 0 && !this.bridgeMacs.has(mac);
    const was = st.announced.get(mac);
    if (!local) {
      if (!was) return;
      for (const ip of [...was.ips].sort()) this.emit({ kind: 'ip-down', vni, mac, ip });
      st.announced.delete(mac);
      this.emit({ kind: 'mac-down', vni, mac });
      return;
    }
    // Sticky when any of its entries is static.
    let sticky = false;
    for (const s of m.values()) sticky ||= s;
    const ips = st.ipsOf.get(mac) ?? new Set<string>();
    let a = was;
    if (!a || a.sticky !== sticky) {
      if (!a) st.announced.set(mac, (a = { sticky, ips: new Set() }));
      a.sticky = sticky;
      this.emit({ kind: 'mac-up', vni, mac, sticky });
    }
    for (const ip of [...a.ips].sort()) {
      if (ips.has(ip)) continue;
      a.ips.delete(ip);
      this.emit({ kind: 'ip-down', vni, mac, ip });
    }
    for (const ip of [...ips].sort()) {
      if (a.ips.has(ip)) continue;
      a.ips.add(ip);
      this.emit({ kind: 'ip-up', vni, mac, ip });
    }
  }
}
