// An in-memory KernelPort for unit tests of the agent. It behaves like the kernel
// where the agent can tell the difference:
// * a neigh lives on a device; an fdb replace writes two entries (bridge + vxlan)
//   and needs a vxlan device enslaved to a bridge;
// * FDB entries do not keep NDA_PROTOCOL (as Linux 6.18), neighbours do;
// * events are emitted only for real changes, synchronously after each change;
// * deleting what is already gone succeeds (as RtnetlinkPort reports it).
// Tests play "someone else" with the foreign*/remove* methods, inject failures with
// failWith(), and read back the applied operations in `applied`.
import { normalizeIp, normalizeMac } from './addr.js';
import { NTF_EXT_LEARNED, NTF_SELF, NUD_NOARP, NUD_REACHABLE } from './nl.js';
import {
  EVPN_HA_PROTOCOL,
  type KernelEvent,
  type KernelOp,
  type KernelOpResult,
  type KernelPort,
  type LinkAddress,
  type LinkInfo,
  type ObservedEntry,
  type ObservedFdb,
  type ObservedNeigh,
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
  /** neigh|ifname|ip, fdb-bridge|port|mac, fdb-vxlan|dev|mac */
  private readonly table = new Map<string, ObservedEntry>();
  private readonly subscribers = new Set<(ev: KernelEvent) => void>();
  private readonly failures: Array<{ when: FailurePredicate; code: string; errno: number; times: number }> = [];
  private readonly protocol: number;
  private readonly fdbKeepsProtocol: boolean;
  private closed = false;

  constructor(opts: FakeKernelOptions = {}) {
    this.protocol = opts.protocol ?? EVPN_HA_PROTOCOL;
    this.fdbKeepsProtocol = opts.fdbKeepsProtocol ?? false;
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

  async dump(ifnames: string[]): Promise<ObservedEntry[]> {
    const want = new Set(ifnames);
    return [...this.table.values()].filter((e) => want.has(e.ifname)).map((e) => ({ ...e }));
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
  entries(): ObservedEntry[] {
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
      dst: e.table === 'vxlan' ? normalizeIp(e.dst ?? '0.0.0.0') : null,
      vlan: null, master: e.table === 'bridge' ? l.master : null,
      state: e.state ?? NUD_REACHABLE, flags, protocol: null, externLearned: (flags & NTF_EXT_LEARNED) !== 0,
    });
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
      vni: spec.vni ?? null, family: spec.family ?? 4, addresses: [...(spec.addresses ?? [])],
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
    for (const [k, e] of this.table) if (e.ifname === name) this.drop(k);
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

  private put(key: string, e: ObservedEntry): void {
    const old = this.table.get(key);
    if (old && JSON.stringify(old) === JSON.stringify(e)) return;
    this.table.set(key, e);
    this.emit({ type: 'entry', action: 'new', entry: { ...e } });
  }

  private drop(key: string): boolean {
    const old = this.table.get(key);
    if (!old) return false;
    this.table.delete(key);
    this.emit({ type: 'entry', action: 'del', entry: old });
    return true;
  }

  private applyOne(op: KernelOp): KernelOpResult {
    const e = op.entry;
    const l = this.linkTable.get(e.ifname);
    if (!l) return errnoResult(op, 'ENODEV', ENODEV, `no device ${e.ifname}`);
    let mac: string;
    let ip: string;
    try {
      mac = normalizeMac(e.mac);
      ip = e.kind === 'neigh' ? normalizeIp(e.ip) : op.op === 'replace' ? normalizeIp(e.dst) : '';
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
    if (op.op === 'delete') {
      if (op.only !== 'vxlan') this.drop(`fdb-bridge|${l.name}|${mac}`);
      if (op.only !== 'bridge') this.drop(`fdb-vxlan|${l.name}|${mac}`);
      return { ok: true, op };
    }
    if (l.kind !== 'vxlan') return errnoResult(op, 'EOPNOTSUPP', EOPNOTSUPP, `${l.name} is not a vxlan device`);
    if ((ip.includes(':') ? 6 : 4) !== l.family) {
      return errnoResult(op, 'EAFNOSUPPORT', EAFNOSUPPORT, `${l.name} is an IPv${l.family} vxlan device; dst ${ip} refused`);
    }
    if (!l.master) return errnoResult(op, 'EINVAL', EINVAL, `${l.name} has no master bridge`);
    const protocol = this.fdbKeepsProtocol ? this.protocol : null;
    this.put(`fdb-bridge|${l.name}|${mac}`, {
      kind: 'fdb', ifname: l.name, ifindex: l.index, mac, table: 'bridge', dst: null, vlan: null, master: l.master,
      state: NUD_REACHABLE, flags: NTF_EXT_LEARNED, protocol, externLearned: true,
    });
    this.put(`fdb-vxlan|${l.name}|${mac}`, {
      kind: 'fdb', ifname: l.name, ifindex: l.index, mac, table: 'vxlan', dst: ip, vlan: null, master: null,
      state: NUD_REACHABLE, flags: NTF_SELF | NTF_EXT_LEARNED, protocol, externLearned: true,
    });
    return { ok: true, op };
  }
}
