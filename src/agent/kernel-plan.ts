// FDB entries through FDB nexthop groups (docs/kernel.md, "Nexthop groups").
//
// The RIB says, per (vxlan device, MAC), which remote VTEP the FDB entry should lead
// to. Instead of writing that VTEP into each FDB entry (NDA_DST), the entry points at
// a nexthop group (NDA_NH_ID) whose one member is an FDB nexthop `via <VTEP>`. MACs
// that lead to the same VTEP share a group. When every MAC of a group moves to the
// same new VTEP at once (a failover or failback: the RIB reports one best-path change
// per MAC, all in one batch), the group's member is replaced: one kernel message, the
// FDB entries keep their nhid. When only some move, the majority decides: the group
// follows the larger part and the others are rewritten into other groups; a group
// that then follows them to a VTEP another group leads to merges with it (the
// smaller one's entries rewritten), so a failback split over several UPDATE batches
// does not leave two groups per VTEP behind.
//
// So a group's identity is stable across failover: it is not keyed by its current
// VTEP, only found through it when a MAC joins. Work per plan() is proportional to the
// MACs that changed (plus, when a group follows a majority, the minority that stays).
//
// A failover can also be made before the RIB has decided each MAC (prefix-independent
// convergence, docs/kernel.md "Failover before the per-MAC work"): switchGroups()
// replaces the member of every group leading to a failed VTEP with the alternative
// the RIB predicts, in O(groups). The per-MAC wants that follow agree with the group
// (want() settles them at once, nothing is planned) or are planned as usual: a MAC
// whose best path went elsewhere leaves the group.
//
// Nexthop and group ids come from a private range (default 0xE7000000.., "E7" = our
// protocol 231), skipping ids held by anyone else's nexthop; ids are not reused until
// the range wraps, so a delete and a create of the same id never meet in one batch.
//
// Pure state, no I/O: kernel-sync.ts feeds it the RIB's FDB wants and writes the
// entries it returns.
import { nexthopKey, type KernelEntry } from '../kernel/port.js';

/** What the RIB wants for one FDB key. */
export interface FdbWant {
  ifname: string;
  mac: string;
  /** The remote VTEP. */
  dst: string;
}

/** What a previous run left for an FDB key: its group and that group's single member. */
export interface AdoptHint {
  groupId: number;
  nexthopId: number;
  vtep: string;
}

export interface GroupPlannerOptions {
  /** First id of the private range (default 0xE7000000). */
  base?: number;
  /** Size of the range (default 2^24). */
  size?: number;
  /** Is this id held by a nexthop that is not one of ours in this plan (someone else's, or a stale one)? */
  taken?: (id: number) => boolean;
  /** The group a previous run left at this FDB key, to keep it without rewriting the entry. */
  hint?: (key: string) => AdoptHint | null;
}

interface Nexthop {
  id: number;
  vtep: string;
  /** Groups whose member this is. */
  refs: number;
}

interface Group {
  id: number;
  member: Nexthop;
  keys: Set<string>;
}

interface Slot {
  want: FdbWant;
  group: Group;
}

/** A want waiting for plan(), with the key's slot as want() found it (one lookup per key). */
interface Pending {
  key: string;
  want: FdbWant | null;
  slot: Slot | undefined;
}

/** A group as `show kernel` reports it. */
export interface GroupInfo {
  id: number;
  memberId: number;
  vtep: string;
  macs: number;
}

export const NEXTHOP_ID_BASE = 0xe7000000;
export const NEXTHOP_ID_RANGE = 1 << 24;

export class FdbGroupPlanner {
  private readonly base: number;
  private readonly size: number;
  private readonly taken: (id: number) => boolean;
  private readonly hint: (key: string) => AdoptHint | null;
  private readonly pending = new Map<string, Pending>();
  private readonly slots = new Map<string, Slot>();
  private readonly groups = new Map<number, Group>();
  /** vtep -> the group a MAC leading there joins */
  private readonly byVtep = new Map<string, Group>();
  /** vtep -> its FDB nexthop */
  private readonly nexthops = new Map<string, Nexthop>();
  /** ids of our groups and nexthops */
  private readonly used = new Set<number>();
  private next = 0;
  /** Group member replacements done by plan() so far (for tests and metrics). */
  groupReplaces = 0;
  /** Replacements since the last drainMoves(). */
  private moves: Array<{ id: number; from: string; to: string; macs: number }> = [];

  constructor(opts: GroupPlannerOptions = {}) {
    this.base = opts.base ?? NEXTHOP_ID_BASE;
    this.size = opts.size ?? NEXTHOP_ID_RANGE;
    this.taken = opts.taken ?? (() => false);
    this.hint = opts.hint ?? (() => null);
  }

  /** Is `id` in our private range? */
  inRange(id: number): boolean {
    return id >= this.base && id < this.base + this.size;
  }

  /**
   * The RIB's want for one FDB key (null: no entry). Planned on the next plan(); a
   * want its group already leads to (e.g. after switchGroups()) is settled now.
   */
  want(key: string, w: FdbWant | null): void {
    const p = this.pending.get(key);
    if (p !== undefined) {
      p.want = w;
      return;
    }
    const slot = this.slots.get(key);
    if (w !== null && slot && slot.group.member.vtep === w.dst) {
      slot.want = w;
      return;
    }
    // The slot found now is the one plan() finds: only plan() changes slots.
    this.pending.set(key, { key, want: w, slot });
  }

  /**
   * Prefix-independent switch: every group whose member leads to a `from` VTEP leads
   * to its `to` now (one member replace per group; the FDB entries keep their nhid).
   * Returns the nexthop/group changes, as plan() does.
   */
  switchGroups(switches: ReadonlyArray<{ from: string; to: string }>): Map<string, KernelEntry | null> {
    const out = new Map<string, KernelEntry | null>();
    if (switches.length === 0) return out;
    const to = new Map(switches.map((s) => [s.from, s.to]));
    for (const g of [...this.groups.values()]) {
      const t = to.get(g.member.vtep);
      if (t !== undefined && t !== g.member.vtep) this.setMember(g, t, out);
    }
    return out;
  }

  get hasPending(): boolean {
    return this.pending.size > 0;
  }

  /** The VTEP a group of ours leads to now. */
  vtepOf(groupId: number): string | undefined {
    return this.groups.get(groupId)?.member.vtep;
  }

  /** Group member replacements made by plan() since the last call. */
  drainMoves(): Array<{ id: number; from: string; to: string; macs: number }> {
    const m = this.moves;
    this.moves = [];
    return m;
  }

  groupsInfo(): GroupInfo[] {
    return [...this.groups.values()].map((g) => ({ id: g.id, memberId: g.member.id, vtep: g.member.vtep, macs: g.keys.size }));
  }

  /** Every nexthop and group entry we want now (for a full compare). */
  nexthopEntries(): KernelEntry[] {
    const out: KernelEntry[] = [];
    for (const n of this.nexthops.values()) out.push({ kind: 'nexthop', id: n.id, dst: n.vtep });
    for (const g of this.groups.values()) out.push({ kind: 'nhgroup', id: g.id, members: [g.member.id] });
    return out;
  }

  /**
   * Turn the pending wants into desired-state changes: FDB keys -> entry with nhid
   * (or null), nexthop keys (`nh|<id>`) -> nexthop/group entry (or null).
   */
  plan(): Map<string, KernelEntry | null> {
    const out = new Map<string, KernelEntry | null>();
    const moves = new Map<Group, Pending[]>();
    const touched = new Set<Group>();
    const joins: Array<[string, FdbWant]> = [];
    /** Groups whose member this plan replaced. */
    const arrived: Group[] = [];
    for (const p of this.pending.values()) {
      const { key, want: w, slot } = p;
      if (w === null) {
        if (!slot) continue;
        this.leave(key, slot, touched);
        out.set(key, null);
        continue;
      }
      if (!slot) { joins.push([key, w]); continue; }
      if (slot.group.member.vtep === w.dst) {
        slot.want = w;
        continue;
      }
      let list = moves.get(slot.group);
      if (!list) moves.set(slot.group, (list = []));
      list.push(p);
    }
    this.pending.clear();

    for (const [g, list] of moves) {
      // The most wanted new VTEP among the movers.
      const count = new Map<string, number>();
      let top = '';
      let topN = 0;
      for (const { want: w } of list) {
        const n = (count.get(w!.dst) ?? 0) + 1;
        count.set(w!.dst, n);
        if (n > topN) { topN = n; top = w!.dst; }
      }
      if (topN * 2 > g.keys.size) {
        // The group follows the majority: one replace of its member.
        const old = g.member.vtep;
        this.setMember(g, top, out);
        arrived.push(g);
        for (const { key, want: w, slot } of list) {
          if (w!.dst === top) slot!.want = w!;
          else this.rejoin(key, w!, touched, out);
        }
        if (g.keys.size > topN) {
          // The minority that still wants the old VTEP goes to another group (the
          // movers left want `top` now, the others of the list are gone).
          for (const key of [...g.keys]) {
            const slot = this.slots.get(key)!;
            if (slot.want.dst === old) this.rejoin(key, slot.want, touched, out);
          }
        }
      } else {
        for (const { key, want: w } of list) this.rejoin(key, w!, touched, out);
      }
    }
    for (const [key, w] of joins) this.assign(key, w, out);
    for (const g of touched) if (g.keys.size === 0) this.dropGroup(g, out);
    for (const g of arrived) this.mergeAtVtep(g, out);
    return out;
  }

  // --- internals ---

  private allocate(): number {
    for (let i = 0; i < this.size; i++) {
      const id = this.base + this.next;
      this.next = (this.next + 1) % this.size;
      if (!this.used.has(id) && !this.taken(id)) {
        this.used.add(id);
        return id;
      }
    }
    throw new RangeError('no free nexthop id in the private range');
  }

  private nexthop(vtep: string, out: Map<string, KernelEntry | null>, id?: number): Nexthop {
    let n = this.nexthops.get(vtep);
    if (n) return n;
    if (id !== undefined) this.used.add(id);
    n = { id: id ?? this.allocate(), vtep, refs: 0 };
    this.nexthops.set(vtep, n);
    out.set(nexthopKey(n.id), { kind: 'nexthop', id: n.id, dst: vtep });
    return n;
  }

  private unref(n: Nexthop, out: Map<string, KernelEntry | null>): void {
    if (--n.refs > 0) return;
    this.nexthops.delete(n.vtep);
    this.used.delete(n.id);
    out.set(nexthopKey(n.id), null);
  }

  private setMember(g: Group, vtep: string, out: Map<string, KernelEntry | null>): void {
    const old = g.member;
    if (this.byVtep.get(old.vtep) === g) this.byVtep.delete(old.vtep);
    const n = this.nexthop(vtep, out);
    n.refs++;
    g.member = n;
    if (!this.byVtep.has(vtep)) this.byVtep.set(vtep, g);
    out.set(nexthopKey(g.id), { kind: 'nhgroup', id: g.id, members: [n.id] });
    this.unref(old, out);
    this.groupReplaces++;
    this.moves.push({ id: g.id, from: old.vtep, to: vtep, macs: g.keys.size });
  }

  private newGroup(vtep: string, out: Map<string, KernelEntry | null>, adopt?: AdoptHint): Group {
    const n = this.nexthop(vtep, out, adopt && !this.used.has(adopt.nexthopId) ? adopt.nexthopId : undefined);
    n.refs++;
    let id: number;
    if (adopt) {
      id = adopt.groupId;
      this.used.add(id);
    } else id = this.allocate();
    const g: Group = { id, member: n, keys: new Set() };
    this.groups.set(id, g);
    if (!this.byVtep.has(vtep)) this.byVtep.set(vtep, g);
    out.set(nexthopKey(id), { kind: 'nhgroup', id, members: [n.id] });
    return g;
  }

  /**
   * One group per VTEP: a group that followed its MACs to a VTEP another group
   * already leads to (the part of a failback that came in a later UPDATE batch than
   * the rest, split off when the group followed the first part) merges with it, the
   * smaller into the larger. The smaller one's FDB entries are rewritten (work
   * proportional to the split-off part), then it goes. Without this, both groups
   * stayed, and every flap whose failback came in several batches split off more.
   */
  private mergeAtVtep(g: Group, out: Map<string, KernelEntry | null>): void {
    const vtep = g.member.vtep;
    const other = this.byVtep.get(vtep);
    if (!this.groups.has(g.id) || !other || other === g || other.member.vtep !== vtep) return;
    const [small, big] = g.keys.size <= other.keys.size ? [g, other] : [other, g];
    for (const key of small.keys) {
      const slot = this.slots.get(key)!;
      slot.group = big;
      big.keys.add(key);
      out.set(key, { kind: 'fdb', ifname: slot.want.ifname, mac: slot.want.mac, dst: vtep, nhid: big.id });
    }
    small.keys.clear();
    this.dropGroup(small, out);
    this.byVtep.set(vtep, big);
  }

  private dropGroup(g: Group, out: Map<string, KernelEntry | null>): void {
    this.groups.delete(g.id);
    this.used.delete(g.id);
    if (this.byVtep.get(g.member.vtep) === g) this.byVtep.delete(g.member.vtep);
    out.set(nexthopKey(g.id), null);
    this.unref(g.member, out);
  }

  private leave(key: string, slot: Slot, touched: Set<Group>): void {
    slot.group.keys.delete(key);
    touched.add(slot.group);
    this.slots.delete(key);
  }

  private rejoin(key: string, w: FdbWant, touched: Set<Group>, out: Map<string, KernelEntry | null>): void {
    const slot = this.slots.get(key);
    if (slot) this.leave(key, slot, touched);
    this.assign(key, w, out, false);
  }

  private assign(key: string, w: FdbWant, out: Map<string, KernelEntry | null>, adopt = true): void {
    let g = this.byVtep.get(w.dst);
    if (adopt) {
      // A previous run's group at this key that still leads to the right VTEP: keep it.
      const h = this.hint(key);
      if (h && h.vtep === w.dst) {
        const mine = this.groups.get(h.groupId);
        if (mine && mine.member.vtep === w.dst) g = mine;
        else if (!mine && !this.used.has(h.groupId)) g = this.newGroup(w.dst, out, h);
      }
    }
    if (!g) g = this.newGroup(w.dst, out);
    g.keys.add(key);
    this.slots.set(key, { want: w, group: g });
    // An adopted entry is already right in the kernel: kernel-sync's compare finds it so.
    out.set(key, { kind: 'fdb', ifname: w.ifname, mac: w.mac, dst: w.dst, nhid: g.id });
  }
}
