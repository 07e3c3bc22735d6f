// KernelSync's observed-state store (moved out of kernel-sync.ts): what the kernel
// holds per key, kept compact as the entry we wrote when that is all there is, and
// the comparisons reconcile's rules depend on.
import { NTF_EXT_LEARNED, NTF_SELF, NUD_NOARP, NUD_PERMANENT, NUD_REACHABLE } from '../kernel/nl.js';
import { FLOOD_MAC, type KernelEntry, type ObservedEntry } from '../kernel/port.js';

/**
 * What the kernel holds at a key: its entries, or (in the common case) just the entry
 * we wrote there, meaning exactly what synthesize() makes of it.
 */
type Written = KernelEntry;
export type Observed = ObservedEntry[] | Written;

export function materialize(v: Observed, protocol: number): ObservedEntry[] {
  return Array.isArray(v) ? v : synthesize(v, protocol);
}

/** `list` is exactly what writing `e` leaves (as far as reconcile can tell). */
export function isWritten(list: readonly ObservedEntry[], e: KernelEntry, protocol: number): boolean {
  const w = synthesize(e, protocol);
  return list.length === w.length && w.every((x) => list.some((o) => sameSlot(x, o) && sameObserved(x, o, true)));
}

/**
 * Put an event's entry into (or take it out of) the observed map, per key and FDB
 * table. Returns false when that changes nothing reconcile looks at (e.g. the echo of
 * our own write, already recorded: a Written record stays as it is).
 */
export function applyObserved(m: Map<string, Observed>, key: string, action: 'new' | 'del', o: ObservedEntry, protocol: number): boolean {
  const v = m.get(key);
  let list: ObservedEntry[] | undefined;
  if (v !== undefined && !Array.isArray(v)) {
    list = synthesize(v, protocol);
    const j = list.findIndex((x) => sameSlot(x, o));
    // The echo of our write: keep the compact record.
    if (action === 'new' && j >= 0 && sameObserved(list[j]!, o, true)) return false;
    m.set(key, list);
  } else list = v;
  const i = list ? list.findIndex((x) => sameSlot(x, o)) : -1;
  if (action === 'new') {
    if (!list) m.set(key, [o]);
    else if (i >= 0) {
      const same = sameObserved(list[i]!, o);
      list[i] = o;
      return !same;
    } else list.push(o);
    return true;
  }
  if (list && i >= 0) {
    list.splice(i, 1);
    if (list.length === 0) m.delete(key);
    return true;
  }
  return false;
}

/**
 * Equal in everything reconcile's rules read (ownership, state class, MAC, remote,
 * group). With `synthesized` (a is what synthesize() wrote down), a's bridge master
 * is unknown (null) and is not compared.
 */
function sameObserved(a: ObservedEntry, b: ObservedEntry, synthesized = false): boolean {
  switch (a.kind) {
    case 'neigh':
      return b.kind === 'neigh' && a.mac === b.mac && a.state === b.state && a.protocol === b.protocol
        && a.externLearned === b.externLearned;
    case 'fdb':
      return b.kind === 'fdb' && a.table === b.table && a.dst === b.dst && (a.nhid ?? null) === (b.nhid ?? null)
        && a.externLearned === b.externLearned && a.protocol === b.protocol && (a.master === b.master || (synthesized && a.master === null))
        && (a.state & NUD_STATIC) === (b.state & NUD_STATIC);
    case 'nexthop':
      return b.kind === 'nexthop' && a.dst === b.dst && a.fdb === b.fdb && a.protocol === b.protocol
        && (a.group === null ? b.group === null : b.group !== null && a.group.length === b.group.length && a.group.every((x, k) => x === b.group![k]));
  }
}

const NUD_STATIC = NUD_NOARP | NUD_PERMANENT;

function sameSlot(a: ObservedEntry, b: ObservedEntry): boolean {
  return a.kind === 'fdb' && b.kind === 'fdb' ? a.table === b.table : a.kind === b.kind;
}

export function sameEntry(a: KernelEntry, b: KernelEntry): boolean {
  switch (a.kind) {
    case 'neigh': return b.kind === 'neigh' && a.ifname === b.ifname && a.ip === b.ip && a.mac === b.mac;
    // With a group the VTEP is the group's business: the entry is the same while its nhid is.
    case 'fdb': return b.kind === 'fdb' && a.ifname === b.ifname && a.mac === b.mac && a.nhid === b.nhid
      && (a.nhid !== undefined || a.dst === b.dst);
    case 'nexthop': return b.kind === 'nexthop' && a.id === b.id && a.dst === b.dst;
    case 'nhgroup': return b.kind === 'nhgroup' && a.id === b.id && a.members.length === b.members.length
      && a.members.every((m, i) => m === b.members[i]);
  }
}

/** What the kernel holds after a successful replace of `e` (until its own event says more). */
function synthesize(e: KernelEntry, protocol: number): ObservedEntry[] {
  if (e.kind === 'nexthop' || e.kind === 'nhgroup') {
    return [{
      kind: 'nexthop', id: e.id, dst: e.kind === 'nexthop' ? e.dst : null, group: e.kind === 'nhgroup' ? [...e.members] : null,
      fdb: true, protocol,
    }];
  }
  // Neither the ifindex nor the bridge's master is recorded (reconcile reads neither): 0 and null.
  const ifindex = 0;
  if (e.kind === 'neigh') {
    return [{
      kind: 'neigh', ifname: e.ifname, ifindex, family: e.ip.includes(':') ? 6 : 4, ip: e.ip, mac: e.mac,
      state: NUD_NOARP, flags: NTF_EXT_LEARNED, protocol, externLearned: true,
    }];
  }
  if (e.mac === FLOOD_MAC) {
    return [{
      kind: 'fdb', ifname: e.ifname, ifindex, mac: e.mac, table: 'vxlan', dst: e.dst, nhid: null, vlan: null, master: null,
      state: NUD_NOARP | NUD_PERMANENT, flags: NTF_SELF | NTF_EXT_LEARNED, protocol: null, externLearned: true,
    }];
  }
  return [
    {
      kind: 'fdb', ifname: e.ifname, ifindex, mac: e.mac, table: 'bridge', dst: null, nhid: null, vlan: null,
      master: null, state: NUD_REACHABLE, flags: NTF_EXT_LEARNED, protocol: null, externLearned: true,
    },
    {
      kind: 'fdb', ifname: e.ifname, ifindex, mac: e.mac, table: 'vxlan', dst: e.nhid !== undefined ? null : e.dst,
      nhid: e.nhid ?? null, vlan: null, master: null,
      state: NUD_REACHABLE, flags: NTF_SELF | NTF_EXT_LEARNED, protocol: null, externLearned: true,
    },
  ];
}
