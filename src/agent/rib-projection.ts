// The RIB's kernel projection (moved out of rib.ts): one FDB entry per (VNI, MAC)
// and one neighbour entry per (VNI, IP), worked out from the Loc-RIB's best paths.
// When several Loc-RIB entries feed one kernel entry (a MAC announced with several
// IPs, an IP announced by two MACs) the best of their best paths decides.
//
// It reads the RIB's two indexes (the chains by MAC and by (VNI, IP), rib-store.ts)
// and writes nothing in them but the entries' fdbMark / neighMark, its own marks.
import { entryKey, type KernelEntry } from '../kernel/port.js';
import { comparePaths, type Path } from './bestpath.js';
import type { Entry, StoredPath } from './rib-store.js';
import type { RibChange } from './rib-types.js';

/** The VNI's devices, for the kernel projection. */
export interface VniDevices {
  vni: number;
  bridge: string;
  vxlan: string;
}

/**
 * The (VNI, MAC) of a change that kernelDelta works out (a RibChange, or a MAC to
 * re-project: that one has no before/after).
 */
export type ProjectionKey = Pick<RibChange, 'vni' | 'mac' | 'ip'> & Partial<Pick<RibChange, 'before' | 'after'>>;

export class KernelProjection {
  /** Incremented per kernelDelta; entries worked out by it carry it in fdbMark / neighMark. */
  private epoch = 0;
  /**
   * MACs held on a local bridge port (MAC mobility: present here and ours, RFC 7432
   * §15.1: the highest sequence says where the MAC is). A remote path for such a MAC
   * is not put into the kernel: its FDB entry (`master extern_learn` on the vxlan
   * port) would take the bridge's entry away from the local port the MAC was learned
   * on, and its neighbour entry would hide the kernel's own one for the endpoint.
   */
  private isLocal: (vni: number, mac: string) => boolean = () => false;
  /** The first entry the last fdbWinner / neighWinner walk visited: it holds the key strings. */
  private holder: Entry | null = null;

  constructor(
    /** MAC -> chain of entries with that MAC (Entry.nextInMac). */
    private readonly byMac: ReadonlyMap<string, Entry>,
    /** VNI -> IP -> chain of entries with that (VNI, IP) (Entry.nextInIp). */
    private readonly byIp: ReadonlyMap<number, ReadonlyMap<string, Entry>>,
  ) {}

  /** Which MACs are held locally (set once by the agent; see isLocal). */
  setLocalMacs(isLocal: (vni: number, mac: string) => boolean): void {
    this.isLocal = isLocal;
  }

  /** kernelDelta for one (VNI, MAC): its FDB entry and the neighbour entry of each of its IPs. */
  macDelta(vni: number, mac: string, vnis: readonly VniDevices[]): Map<string, KernelEntry | null> {
    const keys: ProjectionKey[] = [{ vni, mac, ip: null }];
    for (let e = this.byMac.get(mac) ?? null; e; e = e.nextInMac) if (e.vni === vni && e.ip !== null) keys.push({ vni, mac, ip: e.ip });
    return this.kernelDelta(keys, vnis);
  }

  /** The FDB winner for (vni, mac): the best among the best paths of every entry with that MAC. */
  fdbPath(vni: number, mac: string): Path | null {
    return this.fdbWinner(vni, mac, 0) ?? null;
  }

  /** The neighbour winner for (vni, ip). */
  neighPath(vni: number, ip: string): Path | null {
    return this.neighWinner(vni, ip, 0) ?? null;
  }

  /**
   * The best of the best paths of the entries with (vni, mac). With a mark (> 0) each
   * entry visited is marked, and undefined says one already was: that (VNI, MAC) has
   * been worked out in this kernelDelta.
   */
  private fdbWinner(vni: number, mac: string, mark: number): StoredPath | null | undefined {
    let best: StoredPath | null = null;
    this.holder = null;
    for (let e = this.byMac.get(mac) ?? null; e; e = e.nextInMac) {
      if (e.vni !== vni) continue;
      this.holder ??= e;
      if (mark > 0) {
        if (e.fdbMark === mark) return undefined;
        e.fdbMark = mark;
      }
      const w = e.winner;
      if (w && (best === null || comparePaths(w, best) < 0)) best = w;
    }
    return best;
  }

  /** The same for (vni, ip), along the IP chain, with neighMark. */
  private neighWinner(vni: number, ip: string, mark: number): StoredPath | null | undefined {
    let best: StoredPath | null = null;
    this.holder = null;
    for (let e = this.byIp.get(vni)?.get(ip) ?? null; e; e = e.nextInIp) {
      this.holder ??= e;
      if (mark > 0) {
        if (e.neighMark === mark) return undefined;
        e.neighMark = mark;
      }
      const w = e.winner;
      if (w && (best === null || comparePaths(w, best) < 0)) best = w;
    }
    return best;
  }

  /** Everything the kernel should hold for the RIB's current best paths. */
  desiredKernelState(vnis: readonly VniDevices[]): KernelEntry[] {
    const dev = new Map(vnis.map((v) => [v.vni, v]));
    const out: KernelEntry[] = [];
    for (const [mac, head] of this.byMac) {
      const done = new Set<number>();
      for (let e: Entry | null = head; e; e = e.nextInMac) {
        if (done.has(e.vni)) continue;
        done.add(e.vni);
        const k = this.fdbEntry(e.vni, mac, dev);
        if (k) out.push(k);
      }
    }
    for (const [vni, ips] of this.byIp) {
      for (const ip of ips.keys()) {
        const k = this.neighEntry(vni, ip, dev);
        if (k) out.push(k);
      }
    }
    return out;
  }

  /**
   * The kernel entries affected by `changes`: entryKey -> desired entry, or null
   * when nothing should be there any more. Each (VNI, MAC) and (VNI, IP) is worked
   * out once, however many changes touch it (entries are marked, no key sets).
   */
  kernelDelta(changes: readonly ProjectionKey[], vnis: readonly VniDevices[]): Map<string, KernelEntry | null> {
    const dev = new Map(vnis.map((v) => [v.vni, v]));
    const out = new Map<string, KernelEntry | null>();
    const mark = ++this.epoch;
    for (const c of changes) {
      const d = dev.get(c.vni);
      if (!d) continue;
      const fdb = this.fdbWinner(c.vni, c.mac, mark);
      if (fdb !== undefined) {
        out.set(this.key('fdb', d, c.mac),
          fdb && !this.isLocal(c.vni, c.mac) ? { kind: 'fdb', ifname: d.vxlan, mac: fdb.entry.mac, dst: fdb.attrs.nh.address } : null);
      }
      if (c.ip === null) continue;
      // A change from one path to another of the only entry with this (VNI, IP) leaves
      // its neighbour entry as it was (the IP -> this entry's MAC): not handed on. A
      // withdraw or failover of 50,000 routes with an alternative otherwise looked
      // each one up in the desired state to find it unchanged. Checked before the
      // walk: the walk's marks say the entry was handed on (an entry of the chain
      // removed by a later change of this delta finds it marked).
      if (c.before && c.after) {
        const head = this.byIp.get(c.vni)?.get(c.ip);
        if (head !== undefined && head.nextInIp === null && head.mac === c.mac) continue;
      }
      const neigh = this.neighWinner(c.vni, c.ip, mark);
      if (neigh !== undefined) {
        out.set(this.key('neigh', d, c.ip),
          neigh && !this.isLocal(c.vni, neigh.entry.mac) ? { kind: 'neigh', ifname: d.bridge, ip: c.ip, mac: neigh.entry.mac } : null);
      }
    }
    return out;
  }

  /**
   * The kernel key of the FDB (`what` 'fdb', `name` the MAC) or neighbour entry (the
   * IP) the last walk worked out, kept on its first entry (Entry.fdbKey/neighKey):
   * a withdraw of 50,000 routes built two fresh key strings per route, and each
   * map downstream (desired, the planner's pending and slots) hashed them again.
   */
  private key(what: 'fdb' | 'neigh', d: VniDevices, name: string): string {
    const h = this.holder;
    if (h !== null && h.keyDevices === d) {
      const k = what === 'fdb' ? h.fdbKey : h.neighKey;
      if (k !== null) return k;
    }
    const k = what === 'fdb' ? entryKey({ kind: 'fdb', ifname: d.vxlan, mac: name, dst: '' }) : entryKey({ kind: 'neigh', ifname: d.bridge, ip: name, mac: '' });
    if (h === null) return k;
    if (h.keyDevices !== d) {
      h.keyDevices = d;
      h.fdbKey = h.neighKey = null;
    }
    if (what === 'fdb') h.fdbKey = k;
    else h.neighKey = k;
    return k;
  }

  private fdbEntry(vni: number, mac: string, dev: Map<number, VniDevices>): KernelEntry | null {
    const p = this.fdbPath(vni, mac) as StoredPath | null;
    const d = p && dev.get(vni);
    return p && d && !this.isLocal(vni, mac) ? { kind: 'fdb', ifname: d.vxlan, mac: p.entry.mac, dst: p.attrs.nh.address } : null;
  }

  private neighEntry(vni: number, ip: string, dev: Map<number, VniDevices>): KernelEntry | null {
    const p = this.neighPath(vni, ip) as StoredPath | null;
    const d = p && dev.get(vni);
    return p && d && p.entry.ip !== null && !this.isLocal(vni, p.entry.mac) ? { kind: 'neigh', ifname: d.bridge, ip: p.entry.ip, mac: p.entry.mac } : null;
  }
}
