// An in-memory KernelPort for unit tests of the agent. It behaves like the kernel
// where the agent can tell the difference:
// * a neigh lives on a device; an fdb replace writes two entries (bridge + vxlan)
//   and needs a vxlan device enslaved to a bridge;
// * FDB entries do not keep NDA_PROTOCOL (as Linux 6.18), neighbours do;
// * events are emitted only for real changes, synchronously after each change; a
//   neighbour deleted (by us or someone else) is first reported changed to FAILED,
//   then deleted, as Linux does (neigh_update to NUD_FAILED, then RTM_DELNEIGH);
// * deleting what is already gone succeeds (as RtnetlinkPort reports it);
// * FDB nexthops and groups (unless `nexthops: false`): a group needs existing fdb
//   members of one family, an FDB entry's nhid an existing fdb group; a vxlan entry
//   with a dst does not take an nhid in place (EOPNOTSUPP), one with an nhid ignores a
//   new dst (ok, unchanged), as Linux 6.18; deleting a group flushes the vxlan FDB
//   entries using it without an event, deleting a group's last member deletes the
//   group (as Linux does);
// * an fdb replace whose vxlan half the kernel refuses (wrong family, missing group)
//   leaves the bridge half written, as Linux does.
// test/lib/kernel-contract.ts runs the same behaviour tests against this and the real kernel.
// Tests play "someone else" with the foreign*/remove* methods, inject failures with
// failWith(), and read back the applied operations in `applied`.
import { normalizeIp, normalizeMac } from '../wire/addr.js';
import { NTF_EXT_LEARNED, NTF_SELF, NUD_FAILED, NUD_NOARP, NUD_PERMANENT, NUD_REACHABLE } from './nl.js';
import {
  EVPN_HA_PROTOCOL,
  FLOOD_MAC,
  type KernelEvent,
  type KernelOp,
  type KernelOpResult,
  type KernelPort,
  type LinkAddress,
  type LinkInfo,
  type ObservedDeviceEntry,
  type ObservedFdb,
  type ObservedNeigh,
  type ObservedNexthop,
} from './port.js';

export interface FakeLinkSpec {
  name: string;
  kind?: string | null;
  mac?: string | null;
  up?: boolean;
  carrier?: boolean;
  master?: string | null;
  mtu?: number;
  vni?: number;
  /** A vxlan device's underlay family (default 4): its FDB takes only `dst` of that family. */
  family?: 4 | 6;
  addresses?: LinkAddress[];
}

export interface FakeKernelOptions {
  /** Links to start with. Default: the reference topology `br-vxlan` + `vxlan0` (VNI 100, port 4789). */
  links?: FakeLinkSpec[];
  protocol?: number;
  /** Keep NDA_PROTOCOL on FDB entries (Linux 6.18 does not). Default false. */
  fdbKeepsProtocol?: boolean;
  /** FDB nexthop groups supported (Linux >= 5.8). Default true. */
  nexthops?: boolean;
}

export type FailurePredicate = (op: KernelOp) => boolean;

interface FakeLink {
  index: number;
  name: string;
  kind: string | null;
  mac: string | null;
  up: boolean;
  carrier: boolean;
  master: string | null;
  mtu: number;
  vni: number | null;
  family: 4 | 6;
  addresses: LinkAddress[];
  /** Bridge port flag neigh_suppress (only meaningful with a master). */
  neighSuppress: boolean;
}

export const DEFAULT_FAKE_LINKS: FakeLinkSpec[] = [
  { name: 'br-vxlan', kind: 'bridge', mac: '02:00:00:00:00:65', addresses: [{ family: 4, address: '192.168.0.65', prefixLen: 24 }] },
  { name: 'vxlan0', kind: 'vxlan', mac: '02:00:00:00:01:65', master: 'br-vxlan', vni: 100 },
];

function errnoResult(op: KernelOp, code: string, errno: number, message: string): KernelOpResult {
  return { ok: false, op, code, errno, message };
}

const ENODEV = 19;
const EOPNOTSUPP = 95;
const EINVAL = 22;
const EAFNOSUPPORT = 97;

export class FakeKernel implements KernelPort {
  /** Every op passed to apply(), in order (including failed ones). */
  readonly applied: KernelOp[] = [];
  /** Number of apply() calls. */
  applyCalls = 0;
  private readonly linkTable = new Map<string, FakeLink>();
  private nextIndex = 1;
  /** neigh|ifname|ip, fdb-bridge|port|mac, fdb-vxlan|dev|mac, flood|dev|dst */
  private readonly table = new Map<string, ObservedDeviceEntry>();
  private readonly subscribers = new Set<(ev: KernelEvent) => void>();
  private readonly failures: Array<{ when: FailurePredicate; code: string; errno: number; times: number }> = [];
  private readonly protocol: number;
  private readonly fdbKeepsProtocol: boolean;
  private readonly nexthopsSupported: boolean;
  /** id -> nexthop object (single or group) */
  private readonly nhTable = new Map<number, ObservedNexthop>();
  private closed = false;

  constructor(opts: FakeKernelOptions = {}) {
    this.protocol = opts.protocol ?? EVPN_HA_PROTOCOL;
    this.fdbKeepsProtocol = opts.fdbKeepsProtocol ?? false;
    this.nexthopsSupported = opts.nexthops ?? true;
    for (const l of opts.links ?? DEFAULT_FAKE_LINKS) this.addLink(l, false);
  }

  // --- KernelPort ---

  async links(): Promise<LinkInfo[]> {
    return [...this.linkTable.values()].map((l) => this.info(l));
  }

  async vxlanFamily(ifname: string): Promise<4 | 6 | null> {
    const l = this.linkTable.get(ifname);
    return l?.kind === 'vxlan' ? l.family : null;
  }

  async dump(ifnames: string[]): Promise<ObservedDeviceEntry[]> {
    const want = new Set(ifnames);
    return [...this.table.values()].filter((e) => want.has(e.ifname)).map((e) => ({ ...e }));
  }

  async neighSuppress(ifname: string): Promise<boolean | null> {
    const l = this.linkTable.get(ifname);
    return l && l.master !== null ? l.neighSuppress : null;
  }

  async setNeighSuppress(ifname: string, on: boolean): Promise<void> {
    const l = this.linkTable.get(ifname);
    if (!l) throw Object.assign(new Error(`${ifname}: no such device`), { code: 'ENODEV' });
    if (l.master === null) throw Object.assign(new Error(`${ifname}: not a bridge port`), { code: 'EOPNOTSUPP' });
    l.neighSuppress = on;
  }

  async nexthopSupport(): Promise<{ supported: boolean; reason: string }> {
    return this.nexthopsSupported
      ? { supported: true, reason: 'fake kernel with FDB nexthops' }
      : { supported: false, reason: 'fake kernel without FDB nexthops' };
  }

  async dumpNexthops(): Promise<ObservedNexthop[]> {
    return [...this.nhTable.values()].map((n) => ({ ...n, group: n.group && [...n.group] }));
  }

  async apply(ops: KernelOp[]): Promise<KernelOpResult[]> {
    this.applyCalls++;
    return ops.map((op) => {
      this.applied.push(op);
      if (this.closed) return errnoResult(op, 'ECANCELED', 125, 'kernel port closed');
      const f = this.failures.find((x) => x.times > 0 && x.when(op));
      if (f) {
        f.times--;
        return errnoResult(op, f.code, f.errno, `injected ${f.code}`);
      }
      return this.applyOne(op);
    });
  }

  subscribe(cb: (ev: KernelEvent) => void): () => void {
    this.subscribers.add(cb);
    return () => { this.subscribers.delete(cb); };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.subscribers.clear();
  }

  // --- test controls ---

  /** Make the next `times` ops matching `when` fail with `code` (default: every op, once). */
  failWith(code: string, errno: number, when: FailurePredicate = () => true, times = 1): void {
    this.failures.push({ when, code, errno, times });
  }

  /** Current state, like a dump of every device. */
  entries(): ObservedDeviceEntry[] {
    return [...this.table.values()].map((e) => ({ ...e }));
  }

  neigh(ifname: string, ip: string): ObservedNeigh | undefined {
    return this.table.get(`neigh|${ifname}|${normalizeIp(ip)}`) as ObservedNeigh | undefined;
  }

  fdb(ifname: string, mac: string, table: 'bridge' | 'vxlan'): ObservedFdb | undefined {
    return this.table.get(`fdb-${table}|${ifname}|${normalizeMac(mac)}`) as ObservedFdb | undefined;
  }

  /** Someone else writes a neighbour (default: a dynamically learned one, REACHABLE, no protocol). */
  foreignNeigh(e: { ifname: string; ip: string; mac: string; state?: number; flags?: number; protocol?: number | null }): void {
    const l = this.mustLink(e.ifname);
    const ip = normalizeIp(e.ip);
    const flags = e.flags ?? 0;
    this.put(`neigh|${l.name}|${ip}`, {
      kind: 'neigh', ifname: l.name, ifindex: l.index, family: ip.includes(':') ? 6 : 4, ip,
      mac: normalizeMac(e.mac), state: e.state ?? NUD_REACHABLE, flags, protocol: e.protocol ?? null,
      externLearned: (flags & NTF_EXT_LEARNED) !== 0,
    });
  }

  /** Someone else writes one FDB half (default: dynamically learned, REACHABLE). */
  foreignFdb(e: { ifname: string; mac: string; table: 'bridge' | 'vxlan'; dst?: string; state?: number; flags?: number }): void {
    const l = this.mustLink(e.ifname);
    const mac = normalizeMac(e.mac);
    const flags = e.flags ?? (e.table === 'vxlan' ? NTF_SELF : 0);
    this.put(`fdb-${e.table}|${l.name}|${mac}`, {
      kind: 'fdb', ifname: l.name, ifindex: l.index, mac, table: e.table,
      dst: e.table === 'vxlan' ? normalizeIp(e.dst ?? '0.0.0.0') : null, nhid: null,
      vlan: null, master: e.table === 'bridge' ? l.master : null,
      state: e.state ?? NUD_REACHABLE, flags, protocol: null, externLearned: (flags & NTF_EXT_LEARNED) !== 0,
    });
  }

  /** A nexthop object by id (single or group). */
  nexthop(id: number): ObservedNexthop | undefined {
    return this.nhTable.get(id);
  }

  /** Every nexthop object. */
  nexthops(): ObservedNexthop[] {
    return [...this.nhTable.values()];
  }

  /** Someone else writes a nexthop (default: a plain one, no protocol). */
  foreignNexthop(n: { id: number; dst?: string | null; group?: number[] | null; fdb?: boolean; protocol?: number | null }): void {
    this.putNh({ kind: 'nexthop', id: n.id, dst: n.dst ?? null, group: n.group ?? null, fdb: n.fdb ?? false, protocol: n.protocol ?? null });
  }

  /** Someone else deletes a nexthop object (with the kernel's side effects). Returns whether it existed. */
  removeNexthop(id: number): boolean {
    return this.dropNh(id);
  }

  /** Someone else deletes a neighbour. Returns whether it existed. */
  removeNeigh(ifname: string, ip: string): boolean {
    return this.drop(`neigh|${ifname}|${normalizeIp(ip)}`);
  }

  /** Someone else deletes an FDB half (or both when `table` is omitted). */
  removeFdb(ifname: string, mac: string, table?: 'bridge' | 'vxlan'): boolean {
    const m = normalizeMac(mac);
    let any = false;
    if (table !== 'vxlan') any = this.drop(`fdb-bridge|${ifname}|${m}`) || any;
    if (table !== 'bridge') any = this.drop(`fdb-vxlan|${ifname}|${m}`) || any;
    return any;
  }

  /** Add a link (emits a link event). */
  addLink(spec: FakeLinkSpec, emit = true): void {
    const l: FakeLink = {
      index: this.nextIndex++, name: spec.name, kind: spec.kind ?? null, mac: spec.mac ? normalizeMac(spec.mac) : null,
      up: spec.up ?? true, carrier: spec.carrier ?? true, master: spec.master ?? null, mtu: spec.mtu ?? 1500,
      vni: spec.vni ?? null, family: spec.family ?? 4, addresses: [...(spec.addresses ?? [])], neighSuppress: false,
    };
    this.linkTable.set(l.name, l);
    if (emit) this.emit({ type: 'link', action: 'new', link: this.info(l) });
  }

  /** Change a link's state (e.g. carrier down); emits a link event. */
  setLink(name: string, patch: Partial<Pick<FakeLink, 'up' | 'carrier' | 'master' | 'mac'>>): void {
    const l = this.mustLink(name);
    Object.assign(l, patch);
    this.emit({ type: 'link', action: 'new', link: this.info(l) });
  }

  /** Remove a link and, as the kernel does, every entry on it. */
  removeLink(name: string): void {
    const l = this.mustLink(name);
    for (const [k, e] of this.table) if (e.ifname === name) this.drop(k, true);
    this.linkTable.delete(name);
    this.emit({ type: 'link', action: 'del', link: this.info(l) });
  }

  addAddress(name: string, a: LinkAddress): void {
    const l = this.mustLink(name);
    l.addresses.push(a);
    this.emit({ type: 'addr', action: 'new', ifindex: l.index, ifname: l.name, address: a });
  }

  removeAddress(name: string, address: string): void {
    const l = this.mustLink(name);
    const i = l.addresses.findIndex((a) => a.address === address);
    if (i < 0) return;
    const [a] = l.addresses.splice(i, 1);
    this.emit({ type: 'addr', action: 'del', ifindex: l.index, ifname: l.name, address: a! });
  }

  /** Tell subscribers that events were lost (as an ENOBUFS on the event socket). */
  overflow(): void {
    this.emit({ type: 'overflow' });
  }

  // --- internals ---

  private info(l: FakeLink): LinkInfo {
    return {
      name: l.name, index: l.index, mac: l.mac, up: l.up, carrier: l.carrier,
      operstate: l.up && l.carrier ? 'up' : 'down', mtu: l.mtu,
      masterIndex: l.master ? this.linkTable.get(l.master)?.index ?? null : null, master: l.master,
      kind: l.kind, vxlan: l.kind === 'vxlan' ? { vni: l.vni, port: 4789, local: null, learning: false } : null,
      addresses: [...l.addresses],
    };
  }

  private mustLink(name: string): FakeLink {
    const l = this.linkTable.get(name);
    if (!l) throw new Error(`fake kernel: no link ${name}`);
    return l;
  }

  private emit(ev: KernelEvent): void {
    for (const cb of [...this.subscribers]) cb(ev);
  }

  private put(key: string, e: ObservedDeviceEntry): void {
    const old = this.table.get(key);
    if (old && JSON.stringify(old) === JSON.stringify(e)) return;
    this.table.set(key, e);
    this.emit({ type: 'entry', action: 'new', entry: { ...e } });
  }

  private drop(key: string, flushed = false): boolean {
    const old = this.table.get(key);
    if (!old) return false;
    if (old.kind === 'neigh' && !flushed) this.emit({ type: 'entry', action: 'new', entry: { ...old, state: NUD_FAILED } });
    this.table.delete(key);
    this.emit({ type: 'entry', action: 'del', entry: old });
    return true;
  }

  private putNh(n: ObservedNexthop): void {
    const old = this.nhTable.get(n.id);
    if (old && JSON.stringify(old) === JSON.stringify(n)) return;
    this.nhTable.set(n.id, n);
    this.emit({ type: 'entry', action: 'new', entry: { ...n } });
  }

  /** Delete a nexthop object as Linux does: a group flushes its FDB entries, a last member its group. */
  private dropNh(id: number): boolean {
    const old = this.nhTable.get(id);
    if (!old) return false;
    this.nhTable.delete(id);
    this.emit({ type: 'entry', action: 'del', entry: old });
    if (old.group !== null) {
      // Flushed without a neighbour event (checked on 6.18 with `ip monitor all`).
      for (const [k, e] of this.table) if (e.kind === 'fdb' && e.table === 'vxlan' && e.nhid === id) this.table.delete(k);
      return true;
    }
    for (const g of [...this.nhTable.values()]) {
      if (g.group === null || !g.group.includes(id)) continue;
      const rest = g.group.filter((m) => m !== id);
      if (rest.length === 0) this.dropNh(g.id);
      else this.putNh({ ...g, group: rest });
    }
    return true;
  }

  private applyNexthop(op: KernelOp & { entry: { kind: 'nexthop' | 'nhgroup' } }): KernelOpResult {
    const e = op.entry;
    if (!this.nexthopsSupported) return errnoResult(op, 'EOPNOTSUPP', EOPNOTSUPP, 'no nexthop support');
    if (op.op === 'delete') {
      this.dropNh(e.id);
      return { ok: true, op };
    }
    const old = this.nhTable.get(e.id);
    if (e.kind === 'nexthop') {
      let dst: string;
      try { dst = normalizeIp(e.dst); } catch (err) { return errnoResult(op, 'EINVAL', EINVAL, (err as Error).message); }
      if (old && old.group !== null) return errnoResult(op, 'EINVAL', EINVAL, 'Can not replace a nexthop group with a nexthop');
      this.putNh({ kind: 'nexthop', id: e.id, dst, group: null, fdb: true, protocol: this.protocol });
      return { ok: true, op };
    }
    if (e.members.length === 0) return errnoResult(op, 'EINVAL', EINVAL, 'Invalid nexthop group');
    const fams = new Set<number>();
    for (const m of e.members) {
      const n = this.nhTable.get(m);
      if (!n || n.group !== null) return errnoResult(op, 'EINVAL', EINVAL, 'Invalid nexthop id');
      if (!n.fdb) return errnoResult(op, 'EINVAL', EINVAL, 'FDB nexthop group can only have fdb nexthops');
      fams.add(n.dst?.includes(':') ? 6 : 4);
    }
    if (fams.size > 1) return errnoResult(op, 'EINVAL', EINVAL, 'FDB nexthop group cannot have mixed family nexthops');
    if (old && old.group === null) return errnoResult(op, 'EINVAL', EINVAL, 'Can not replace a nexthop with a nexthop group');
    this.putNh({ kind: 'nexthop', id: e.id, dst: null, group: [...e.members], fdb: true, protocol: this.protocol });
    return { ok: true, op };
  }

  /**
   * A flood-list remote (port.ts): appended to the vxlan device's all-zeros entry, one
   * table slot per dst; the entry's flags (extern_learn) are those of whoever created
   * the all-zeros entry first, as in Linux (flags are per MAC, not per remote).
   */
  private applyFlood(op: KernelOp, l: FakeLink, dst: string): KernelOpResult {
    const key = `flood|${l.name}|${dst}`;
    if (op.op === 'delete') {
      this.drop(key);
      return { ok: true, op };
    }
    if (l.kind !== 'vxlan') return errnoResult(op, 'EOPNOTSUPP', EOPNOTSUPP, `${l.name} is not a vxlan device`);
    if ((dst.includes(':') ? 6 : 4) !== l.family) {
      return errnoResult(op, 'EAFNOSUPPORT', EAFNOSUPPORT, `${l.name} is an IPv${l.family} vxlan device; dst ${dst} refused`);
    }
    if (this.table.has(key)) return { ok: true, op };
    const first = [...this.table.values()].find((x) => x.kind === 'fdb' && x.ifname === l.name && x.mac === FLOOD_MAC);
    const flags = first ? first.flags : NTF_SELF | NTF_EXT_LEARNED;
    this.put(key, {
      kind: 'fdb', ifname: l.name, ifindex: l.index, mac: FLOOD_MAC, table: 'vxlan', dst, nhid: null, vlan: null, master: null,
      state: NUD_NOARP | NUD_PERMANENT, flags, protocol: null, externLearned: (flags & NTF_EXT_LEARNED) !== 0,
    });
    return { ok: true, op };
  }

  /** Someone else appends a flood-list remote (default flags: self, not extern_learn). */
  foreignFlood(ifname: string, dst: string, flags = NTF_SELF): void {
    const l = this.mustLink(ifname);
    const ip = normalizeIp(dst);
    this.put(`flood|${l.name}|${ip}`, {
      kind: 'fdb', ifname: l.name, ifindex: l.index, mac: FLOOD_MAC, table: 'vxlan', dst: ip, nhid: null, vlan: null, master: null,
      state: NUD_NOARP | NUD_PERMANENT, flags, protocol: null, externLearned: (flags & NTF_EXT_LEARNED) !== 0,
    });
  }

  /** The flood-list remotes of a vxlan device, in table order. */
  floodList(ifname: string): string[] {
    const out: string[] = [];
    for (const e of this.table.values()) if (e.kind === 'fdb' && e.ifname === ifname && e.mac === FLOOD_MAC && e.dst !== null) out.push(e.dst);
    return out;
  }

  /** Someone else deletes a flood-list remote. Returns whether it existed. */
  removeFlood(ifname: string, dst: string): boolean {
    return this.drop(`flood|${ifname}|${normalizeIp(dst)}`);
  }

  private applyOne(op: KernelOp): KernelOpResult {
    const e = op.entry;
    if (e.kind === 'nexthop' || e.kind === 'nhgroup') return this.applyNexthop(op as KernelOp & { entry: typeof e });
    const l = this.linkTable.get(e.ifname);
    if (!l) return errnoResult(op, 'ENODEV', ENODEV, `no device ${e.ifname}`);
    let mac: string;
    let ip: string;
    try {
      mac = normalizeMac(e.mac);
      ip = e.kind === 'neigh' ? normalizeIp(e.ip) : op.op === 'replace' || mac === FLOOD_MAC ? normalizeIp(e.dst) : '';
    } catch (err) {
      return errnoResult(op, 'EINVAL', EINVAL, (err as Error).message);
    }
    if (e.kind === 'neigh') {
      const key = `neigh|${l.name}|${ip}`;
      if (op.op === 'delete') {
        this.drop(key);
        return { ok: true, op };
      }
      this.put(key, {
        kind: 'neigh', ifname: l.name, ifindex: l.index, family: ip.includes(':') ? 6 : 4, ip, mac,
        state: NUD_NOARP, flags: NTF_EXT_LEARNED, protocol: this.protocol, externLearned: true,
      });
      return { ok: true, op };
    }
    if (mac === FLOOD_MAC) return this.applyFlood(op, l, ip);
    if (op.op === 'delete') {
      if (op.only !== 'vxlan') this.drop(`fdb-bridge|${l.name}|${mac}`);
      if (op.only !== 'bridge') this.drop(`fdb-vxlan|${l.name}|${mac}`);
      return { ok: true, op };
    }
    if (l.kind !== 'vxlan') return errnoResult(op, 'EOPNOTSUPP', EOPNOTSUPP, `${l.name} is not a vxlan device`);
    if (!l.master) return errnoResult(op, 'EINVAL', EINVAL, `${l.name} has no master bridge`);
    // One message, two halves, in the kernel's order (rtnl_fdb_add): the bridge's
    // (NTF_MASTER) first, then the vxlan device's (NTF_SELF). A vxlan half the
    // kernel refuses leaves the bridge half written (checked on 6.18).
    const protocol = this.fdbKeepsProtocol ? this.protocol : null;
    this.put(`fdb-bridge|${l.name}|${mac}`, {
      kind: 'fdb', ifname: l.name, ifindex: l.index, mac, table: 'bridge', dst: null, nhid: null, vlan: null, master: l.master,
      state: NUD_REACHABLE, flags: NTF_EXT_LEARNED, protocol, externLearned: true,
    });
    if ((ip.includes(':') ? 6 : 4) !== l.family) {
      return errnoResult(op, 'EAFNOSUPPORT', EAFNOSUPPORT, `${l.name} is an IPv${l.family} vxlan device; dst ${ip} refused`);
    }
    const nhid = e.nhid ?? null;
    if (nhid !== null) {
      if (!this.nexthopsSupported) return errnoResult(op, 'EINVAL', EINVAL, 'NDA_NH_ID not supported');
      const g = this.nhTable.get(nhid);
      if (!g) return errnoResult(op, 'EINVAL', EINVAL, 'Nexthop id does not exist');
      if (g.group === null || !g.fdb) return errnoResult(op, 'EINVAL', EINVAL, 'Nexthop is not a multipath group');
    }
    const cur = this.table.get(`fdb-vxlan|${l.name}|${mac}`);
    const curNhid = cur?.kind === 'fdb' ? cur.nhid ?? null : null;
    if (cur && curNhid === null && nhid !== null) {
      return errnoResult(op, 'EOPNOTSUPP', EOPNOTSUPP, 'Cannot replace an existing non nexthop fdb with a nexthop');
    }
    // The reverse (a dst for an entry with a nexthop group) succeeds and changes
    // nothing: the entry keeps its nhid (6.18; reconcile deletes the half first).
    if (curNhid !== null && nhid === null) return { ok: true, op };
    this.put(`fdb-vxlan|${l.name}|${mac}`, {
      kind: 'fdb', ifname: l.name, ifindex: l.index, mac, table: 'vxlan', dst: nhid !== null ? null : ip, nhid, vlan: null, master: null,
      state: NUD_REACHABLE, flags: NTF_SELF | NTF_EXT_LEARNED, protocol, externLearned: true,
    });
    return { ok: true, op };
  }
}
