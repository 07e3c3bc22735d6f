// Desired vs observed kernel state -> the operations that close the gap. Pure.
//
// Rules:
// * A desired entry that is missing or differs gets ONE replace (create-or-replace);
//   an entry already right gets nothing, so a restart does not flap anything.
// * Entries we own and nobody wants any more are deleted, but only when
//   `deleteStale` is true (the agent holds that back at start until every session
//   sent End-of-RIB or the grace period passed; see StaleGate).
// * Entries we did not write are never deleted. At a key we want, a foreign
//   *dynamic* entry (learned: reachable/stale/...; not extern_learn) is replaced, as
//   the kernel's own learning would be overridden by FRR too; a foreign *static* one
//   (permanent, noarp, or another daemon's extern_learn) is left alone and reported
//   as a conflict unless `overrideForeign` is set.
//
// Ownership. Neighbours: NDA_PROTOCOL == ours and NTF_EXT_LEARNED. FDB entries:
// Linux (checked on 6.18) does not store NDA_PROTOCOL for bridge or vxlan FDB entries,
// so by default an FDB entry is ours when it is NTF_EXT_LEARNED on a device we manage
// (the vxlan device(s) the agent dumps). `fdbOwnership: 'protocol'` requires the
// protocol too, for kernels that keep it. Nexthop objects: nh_protocol == ours.
//
// Order of the operations (one socket, handled in order by the kernel): nexthops,
// then groups, then neighbour/FDB replaces; then FDB/neighbour deletes, group
// deletes, nexthop deletes. So a group's new member exists before the group points
// at it, an FDB entry's group exists before the entry, and nothing is deleted while
// something still written later in the batch points at it (deleting a group flushes
// the FDB entries using it; deleting a group's last member deletes the group).
import { normalizeIp, normalizeMac } from '../wire/addr.js';
import { NUD_NOARP, NUD_PERMANENT } from './nl.js';
import {
  EVPN_HA_PROTOCOL,
  FLOOD_MAC,
  entryKey,
  observedKey,
  type KernelEntry,
  type KernelOp,
  type ObservedEntry,
  type ObservedFdb,
  type ObservedNeigh,
} from './port.js';

export interface DiffOptions {
  /** Our NDA_PROTOCOL (default EVPN_HA_PROTOCOL). */
  protocol?: number;
  /** Delete owned entries that are not desired (default true). */
  deleteStale?: boolean;
  /** Replace foreign static entries at desired keys too (default false). */
  overrideForeign?: boolean;
  /** How FDB entries are recognised as ours (default 'extern_learn', see above). */
  fdbOwnership?: 'extern_learn' | 'protocol';
}

export type SkipReason =
  /** A foreign static entry holds the key; see `observed`. */
  | 'foreign-static'
  /** The desired entry has an unparsable MAC/IP. */
  | 'invalid'
  /** The same key appears twice in `desired`; the first one wins. */
  | 'duplicate';

export interface Skipped {
  entry: KernelEntry;
  reason: SkipReason;
  observed: ObservedEntry[];
}

export interface Plan {
  /** Replaces (in the order of `desired`) then deletes. */
  ops: KernelOp[];
  /** Desired entries not written, and why. */
  skipped: Skipped[];
  /** Owned, undesired entries kept because `deleteStale` is false. */
  stale: KernelEntry[];
}

const STATIC_STATES = NUD_PERMANENT | NUD_NOARP;

/**
 * A desired entry with canonical MAC/IP text; throws AddressError when invalid.
 * An entry already canonical (what the RIB hands in) is returned as it is: no copy.
 */
export function normalizeEntry(e: KernelEntry): KernelEntry {
  switch (e.kind) {
    case 'neigh': {
      const ip = normalizeIp(e.ip);
      const mac = normalizeMac(e.mac);
      return ip === e.ip && mac === e.mac ? e : { kind: 'neigh', ifname: e.ifname, ip, mac };
    }
    case 'fdb': {
      const mac = normalizeMac(e.mac);
      const dst = normalizeIp(e.dst);
      if (mac === e.mac && dst === e.dst) return e;
      const f: KernelEntry = { kind: 'fdb', ifname: e.ifname, mac, dst };
      if (e.nhid !== undefined) f.nhid = e.nhid;
      return f;
    }
    case 'nexthop': {
      const dst = normalizeIp(e.dst);
      return dst === e.dst ? e : { kind: 'nexthop', id: e.id, dst };
    }
    case 'nhgroup': return { kind: 'nhgroup', id: e.id, members: [...e.members] };
  }
}

/** Written by us (protocol or, for FDB by default, extern_learn): may be replaced. */
function isOurs(o: ObservedEntry, opts: DiffOptions): boolean {
  const proto = opts.protocol ?? EVPN_HA_PROTOCOL;
  if (o.kind === 'fdb' && (opts.fdbOwnership ?? 'extern_learn') === 'extern_learn') return o.externLearned;
  return o.protocol === proto;
}

/** Ours and extern_learn (nexthops: ours): may be deleted when nobody wants it. */
export function isOwned(o: ObservedEntry, opts: DiffOptions = {}): boolean {
  if (o.kind === 'nexthop') return isOurs(o, opts);
  if (o.kind === 'fdb' && o.table === 'self') return false;
  return isOurs(o, opts) && o.externLearned;
}

/** Foreign and static: we leave it alone unless told to override. Every foreign nexthop is. */
function isForeignStatic(o: ObservedEntry, opts: DiffOptions): boolean {
  if (isOurs(o, opts)) return false;
  if (o.kind === 'nexthop') return true;
  return o.externLearned || (o.state & STATIC_STATES) !== 0;
}

function nexthopRight(want: Extract<KernelEntry, { kind: 'nexthop' | 'nhgroup' }>, obs: ObservedEntry[], opts: DiffOptions): boolean {
  if (obs.length !== 1) return false;
  const o = obs[0]!;
  if (o.kind !== 'nexthop' || !isOurs(o, opts) || !o.fdb) return false;
  if (want.kind === 'nexthop') return o.group === null && o.dst === want.dst;
  return o.group !== null && o.group.length === want.members.length && o.group.every((m, i) => m === want.members[i]);
}

/** Rank of an op in the output (see the header). */
function rank(op: KernelOp): number {
  const k = op.entry.kind;
  if (op.op === 'replace') return k === 'nexthop' ? 0 : k === 'nhgroup' ? 1 : 2;
  return k === 'nhgroup' ? 4 : k === 'nexthop' ? 5 : 3;
}

function neighRight(want: Extract<KernelEntry, { kind: 'neigh' }>, o: ObservedNeigh, opts: DiffOptions): boolean {
  return isOwned(o, opts) && o.mac === want.mac && (o.state & NUD_NOARP) !== 0;
}

function fdbRight(want: Extract<KernelEntry, { kind: 'fdb' }>, obs: ObservedFdb[], opts: DiffOptions): boolean {
  const bridge = obs.filter((o) => o.table === 'bridge');
  const vxlan = obs.filter((o) => o.table === 'vxlan');
  // A flood-list remote has its vxlan half only (port.ts), found at its dst's key.
  if (want.mac === FLOOD_MAC) return bridge.length === 0 && vxlan.length === 1 && isOwned(vxlan[0]!, opts);
  if (!(bridge.length === 1 && isOwned(bridge[0]!, opts) && vxlan.length === 1 && isOwned(vxlan[0]!, opts))) return false;
  const v = vxlan[0]!;
  return want.nhid !== undefined ? v.nhid === want.nhid : (v.nhid ?? null) === null && v.dst === want.dst;
}

/**
 * The kernel refuses to turn a vxlan FDB entry with a remote (`dst`) into one with a
 * nexthop group in place ("Cannot replace an existing non nexthop fdb with a
 * nexthop", and the reverse): the vxlan half has to be deleted first.
 */
function fdbModeSwitch(want: Extract<KernelEntry, { kind: 'fdb' }>, obs: ObservedFdb[], opts: DiffOptions): boolean {
  const v = obs.find((o) => o.table === 'vxlan');
  if (!v || !isOwned(v, opts)) return false;
  return (want.nhid !== undefined) !== ((v.nhid ?? null) !== null);
}

/** Group observed entries by entryKey(); 'self' FDB entries are never ours and are dropped. */
export function groupObserved(observed: Iterable<ObservedEntry>): Map<string, ObservedEntry[]> {
  const by = new Map<string, ObservedEntry[]>();
  for (const o of observed) {
    const key = observedKey(o);
    if (key === null) continue;
    let list = by.get(key);
    if (!list) by.set(key, (list = []));
    list.push(o);
  }
  return by;
}

/** The full plan: operations plus what was skipped or kept and why. */
export function plan(desired: KernelEntry[], observed: ObservedEntry[], opts: DiffOptions = {}): Plan {
  return planByKey(desired, groupObserved(observed), opts);
}

/**
 * plan() for observed entries already grouped as groupObserved() does (no 'self'
 * FDB entries). The lists end up in `skipped[].observed`: pass copies if they change.
 * `keyOf`, when given, learns the key of every op's entry (by identity; an entry
 * it already knows keeps its key), so the caller need not build each key again
 * from the entry. A delete's key is the `byKey` key itself.
 */
export function planByKey(desired: KernelEntry[], byKey: ReadonlyMap<string, ObservedEntry[]>, opts: DiffOptions = {},
  keyOf?: Map<KernelEntry, string>): Plan {
  const ops: KernelOp[] = [];
  const skipped: Skipped[] = [];
  const stale: KernelEntry[] = [];
  const wanted = new Set<string>();
  const switchDeletes = new WeakSet<KernelOp>();

  for (const raw of desired) {
    let want: KernelEntry;
    try {
      want = normalizeEntry(raw);
    } catch {
      skipped.push({ entry: raw, reason: 'invalid', observed: [] });
      continue;
    }
    const key = entryKey(want);
    const obs = byKey.get(key) ?? [];
    if (wanted.has(key)) {
      skipped.push({ entry: raw, reason: 'duplicate', observed: obs });
      continue;
    }
    wanted.add(key);
    if (keyOf && !keyOf.has(want)) keyOf.set(want, key);
    if (obs.length === 0) {
      ops.push({ op: 'replace', entry: want });
      continue;
    }
    const right = want.kind === 'neigh'
      ? obs.length === 1 && neighRight(want, obs[0] as ObservedNeigh, opts)
      : want.kind === 'fdb' ? fdbRight(want, obs as ObservedFdb[], opts)
        : nexthopRight(want, obs, opts);
    if (right) continue;
    if (!opts.overrideForeign && obs.some((o) => isForeignStatic(o, opts))) {
      skipped.push({ entry: want, reason: 'foreign-static', observed: obs });
      continue;
    }
    if (want.kind === 'fdb' && fdbModeSwitch(want, obs as ObservedFdb[], opts)) {
      const del: KernelOp = { op: 'delete', entry: want, only: 'vxlan' };
      switchDeletes.add(del);
      ops.push(del);
    }
    ops.push({ op: 'replace', entry: want });
  }

  const deletes: KernelOp[] = [];
  for (const [key, obs] of byKey) {
    if (wanted.has(key)) continue;
    const owned = obs.filter((o) => isOwned(o, opts));
    if (owned.length === 0) continue;
    const first = owned[0]!;
    let entry: KernelEntry;
    let only: 'bridge' | 'vxlan' | undefined;
    if (first.kind === 'nexthop') {
      entry = first.group !== null
        ? { kind: 'nhgroup', id: first.id, members: first.group }
        : { kind: 'nexthop', id: first.id, dst: first.dst ?? '0.0.0.0' };
    } else if (first.kind === 'neigh') {
      entry = { kind: 'neigh', ifname: first.ifname, ip: first.ip, mac: first.mac ?? '00:00:00:00:00:00' };
    } else {
      const fdbs = owned as ObservedFdb[];
      const vx = fdbs.find((o) => o.table === 'vxlan');
      entry = { kind: 'fdb', ifname: first.ifname, mac: first.mac, dst: vx?.dst ?? '0.0.0.0' };
      if (vx && vx.nhid != null) entry.nhid = vx.nhid;
      // Delete only the half we own when the other is absent or someone else's.
      const tables = new Set(fdbs.map((o) => o.table));
      if (tables.size === 1) only = tables.has('vxlan') ? 'vxlan' : 'bridge';
    }
    keyOf?.set(entry, key);
    if (opts.deleteStale ?? true) deletes.push(only ? { op: 'delete', entry, only } : { op: 'delete', entry });
    else stale.push(entry);
  }
  const all = [...ops, ...deletes];
  // Stable sort by rank (see the header); a mode switch's delete stays before its replace.
  const ranked = all.map((op, i) => ({ op, i, r: switchDeletes.has(op) ? 2 : rank(op) }));
  if (ranked.some((x, i) => i > 0 && x.r < ranked[i - 1]!.r)) ranked.sort((a, b) => a.r - b.r || a.i - b.i);
  return { ops: ranked.map((x) => x.op), skipped, stale };
}

/** The operations only (see plan()). */
export function diff(desired: KernelEntry[], observed: ObservedEntry[], opts: DiffOptions = {}): KernelOp[] {
  return plan(desired, observed, opts).ops;
}

/**
 * When may stale entries be deleted after a start? Once every session has sent
 * End-of-RIB, or `graceMs` after the start, whichever comes first. Until then the
 * agent diffs with `deleteStale: false`, so entries still supported stay in place and
 * ones no longer supported linger only until the gate opens. Time is passed in (ms
 * on any monotonic scale): no clock here.
 */
export class StaleGate {
  private readonly waiting: Set<string>;
  private opened = false;

  constructor(sessions: Iterable<string>, readonly startedAt: number, readonly graceMs = 30_000) {
    this.waiting = new Set(sessions);
  }

  /** When the gate opens at the latest (for arming a timer). */
  get deadline(): number {
    return this.startedAt + this.graceMs;
  }

  /** Record End-of-RIB from a session. Returns true if this opened the gate. */
  endOfRib(session: string, now: number): boolean {
    const was = this.isOpen(now);
    this.waiting.delete(session);
    return !was && this.isOpen(now);
  }

  /** A session that is not configured any more is not waited for. */
  forget(session: string): void {
    this.waiting.delete(session);
  }

  /** Sessions that have not sent End-of-RIB yet. */
  pending(): string[] {
    return [...this.waiting];
  }

  /** True once all sessions sent End-of-RIB or the grace period passed; stays true. */
  isOpen(now: number): boolean {
    if (!this.opened && (this.waiting.size === 0 || now >= this.deadline)) this.opened = true;
    return this.opened;
  }

  /** `{ deleteStale }` for diff()/plan() at time `now`. */
  options(now: number): { deleteStale: boolean } {
    return { deleteStale: this.isOpen(now) };
  }
}
