// Keeps the kernel's neighbour/FDB entries on our devices equal to what the RIB
// wants (docs/agent.md, "Kernel sync").
//
//  * `desired` (set by the agent from the RIB) and `observed` (a dump, then kept
//    current by kernel events and by our own successful writes) are compared per
//    dirty key with reconcile.plan(): a change of best path is one replace;
//  * dumps and writes run in one serial worker; route changes are flushed on the
//    next timer tick (batched), foreign changes after `restoreDelay` (debounced);
//  * entries a previous run left are deleted only once the stale gate is open;
//    entries this run wrote and no longer wants are deleted at once;
//  * failed writes are retried after `retryDelay`, reported once per streak;
//  * with FDB nexthop groups on (setNexthopGroups), FDB wants go through the
//    FdbGroupPlanner (kernel-plan.ts): a failover becomes one group replace, the FDB
//    entries keep their nhid. Our nexthops are swept and restored like other entries;
//    a deleted group of ours (the kernel flushes its FDB entries silently) triggers a
//    resync;
//  * switchGroups() writes a predicted failover at group level at once (before the
//    RIB's per-MAC decisions), and holdFdbPlan() keeps the planner from planning
//    partial batches while those decisions come in chunks.
import {
  FLOOD_MAC, entryKey, nexthopKey, observedKey,
  type KernelEntry, type KernelOp, type KernelPort, type ObservedEntry,
} from '../kernel/port.js';
import { FdbGroupPlanner, type AdoptHint, type GroupInfo } from './kernel-plan.js';
import { groupObserved, plan, planByKey } from '../kernel/reconcile.js';
import type { Clock, Timer } from '../util/clock.js';
import { DirtyKeys } from './dirty-keys.js';
import { applyObserved, isWritten, materialize, sameEntry, type Observed } from './observed-store.js';
import { EarliestTimer } from './earliest-timer.js';
import type { AgentEvent, KernelTrigger } from './events.js';
import { failureProblems } from './kernel-failures.js';

export interface KernelSyncOptions {
  kernel: KernelPort;
  clock: Clock;
  /** The bridges and vxlan devices we manage. */
  devices: Iterable<string>;
  /** NDA_PROTOCOL of our entries. */
  protocol: number;
  /** Debounce before undoing a foreign change, ms (read at each use: it may be reconfigured). */
  restoreDelay: () => number;
  /** Delay before retrying failed writes or a failed dump, ms. */
  retryDelay: number;
  /**
   * How long an entry stays after its last route went away, ms (0: deleted at once;
   * read at each use). A route that comes back in time leaves the entry untouched,
   * so a neighbour agent's restart does not interrupt traffic. Replacements (another
   * next hop or MAC) are never delayed.
   */
  withdrawDelay?: () => number;
  /** May entries left by a previous run be deleted yet? */
  gateOpen: () => boolean;
  emit: (ev: AgentEvent) => void;
}

type EntryEvent = { key: string; action: 'new' | 'del'; entry: ObservedEntry };

/** Most entry keys planned in one flush (see takeChunk()). */
const FLUSH_CHUNK = 2048;

export class KernelSync {
  private readonly o: KernelSyncOptions;
  private readonly devices: Set<string>;
  /** entryKey -> what the RIB wants there */
  private readonly desired = new Map<string, KernelEntry>();
  /**
   * entryKey -> the kernel's entries there (on our devices). A key whose last write
   * succeeded and whose echo said nothing else holds just the entry written (a
   * `Written`, materialized by obsList() when read): the kernel's 1-2 entry records
   * per key were the largest holder of the agent's heap (38 MiB of ~100 at 50,000
   * routes on both networks).
   */
  private observed = new Map<string, Observed>();
  private readonly dirty = new DirtyKeys();
  /** Dirty keys of a group switch: flushed first and on their own (switchGroups). */
  private readonly urgent = new Set<string>();
  /** Keys dirtied by kernel events (someone else's change, or the echo of our own). */
  private readonly eventDirty = new Set<string>();
  /** Keys whose last write failed: tried again when the retry timer fires. */
  private readonly retryKeys = new Set<string>();
  /** Keys whose last write failed, with the error code (a repeated failure is not reported again). */
  private readonly failing = new Map<string, string>();
  /**
   * Keys written (replaced) by this run: deleted when unwanted even before the stale
   * gate opens. Kept only while the gate is closed (it never closes again): once it
   * is open every unwanted entry of ours goes anyway, and a set of every key we
   * wrote would be the largest thing here after the maps (7 MiB per 100,000 keys).
   */
  private readonly writtenThisRun = new Set<string>();
  /** Keys kernel events touched while an apply() was in flight (null when none is). */
  private touchedWhileApplying: Set<string> | null = null;
  /** Entry events received while a dump is in flight (null when none is). */
  private eventsDuringDump: EntryEvent[] | null = null;

  /** Keys whose routes are gone, kept until this time (clock ms). */
  private readonly lingering = new Map<string, number>();
  private readonly lingerTimer: EarliestTimer;
  private readonly flushTimer: EarliestTimer;
  private retryTimer: Timer | null = null;
  private resyncTimer: Timer | null = null;
  private flushDue = false;
  private wantResync = false;
  private staleCleanup = false;
  private worker: Promise<void> | null = null;
  private stopped = false;
  /** Non-null when FDB entries go through nexthop groups. */
  private planner: FdbGroupPlanner | null = null;
  /** The planner waits (holdFdbPlan) until every FDB want of a chunked operation is in. */
  private planHeld = false;

  constructor(opts: KernelSyncOptions) {
    this.o = opts;
    this.devices = new Set(opts.devices);
    this.lingerTimer = new EarliestTimer(opts.clock, () => this.lingerDue());
    this.flushTimer = new EarliestTimer(opts.clock, () => {
      this.flushDue = true;
      this.kick();
    });
  }

  get deviceNames(): string[] {
    return [...this.devices];
  }

  /** Program FDB entries through nexthop groups (before the first setDesired). */
  setNexthopGroups(on: boolean): void {
    if (!on) { this.planner = null; return; }
    this.planner = new FdbGroupPlanner({
      taken: (id) => this.observed.has(nexthopKey(id)),
      hint: (key) => this.adoptHint(key),
    });
  }

  get nexthopGroups(): boolean {
    return this.planner !== null;
  }

  /** Our groups now (empty without nexthop groups). */
  groups(): GroupInfo[] {
    return this.planner?.groupsInfo() ?? [];
  }

  /** Group member replacements so far (one per failover of a group). */
  get groupReplaces(): number {
    return this.planner?.groupReplaces ?? 0;
  }

  /** The group a previous run left at an FDB key, if it has one member of ours. */
  private adoptHint(key: string): AdoptHint | null {
    const vx = this.obsList(key)?.find((o) => o.kind === 'fdb' && o.table === 'vxlan');
    if (!vx || vx.kind !== 'fdb' || vx.nhid == null || !vx.externLearned) return null;
    const g = this.obsList(nexthopKey(vx.nhid))?.[0];
    if (!g || g.kind !== 'nexthop' || g.protocol !== this.o.protocol || !g.fdb || g.group?.length !== 1) return null;
    const n = this.obsList(nexthopKey(g.group[0]!))?.[0];
    if (!n || n.kind !== 'nexthop' || n.protocol !== this.o.protocol || n.dst === null) return null;
    return { groupId: g.id, nexthopId: n.id, vtep: n.dst };
  }

  /**
   * Prefix-independent switch (docs/kernel.md "Failover before the per-MAC work"):
   * every group leading to a `from` VTEP leads to its `to` now. The writes start in
   * this turn of the event loop (unless a write is in flight: then right after it),
   * in a batch of their own: other dirty keys and the planner's pending wants wait
   * for the next flush.
   * Returns the number of groups switched.
   */
  switchGroups(switches: ReadonlyArray<{ from: string; to: string }>): number {
    if (!this.planner || switches.length === 0 || this.stopped) return 0;
    let n = 0;
    for (const [key, e] of this.planner.switchGroups(switches)) {
      if (e?.kind === 'nhgroup') n++;
      this.setKey(key, e);
      this.urgent.add(key);
    }
    for (const m of this.planner.drainMoves()) this.o.emit({ type: 'nexthop-group', ...m });
    if (n) {
      this.flushDue = true;
      this.kick();
    }
    return n;
  }

  /**
   * While held, FDB wants wait in the planner (other keys flush as usual): a chunked
   * RIB operation hands in its wants a chunk at a time, and the planner must see them
   * all to move a group by one replace. Releasing schedules a flush.
   */
  holdFdbPlan(hold: boolean): void {
    if (this.planHeld === hold) return;
    this.planHeld = hold;
    if (!hold && this.planner?.hasPending) this.scheduleFlush(0);
  }

  /** Dump the devices and compare everything (at start, after lost events, when a device changed). */
  resyncNow(): void {
    this.wantResync = true;
    this.kick();
  }

  /** The same after the restore delay (debounced), or after `delay`. */
  scheduleResync(delay = this.o.restoreDelay()): void {
    if (this.stopped || this.resyncTimer) return;
    this.resyncTimer = this.o.clock.setTimer(delay, () => {
      this.resyncTimer = null;
      this.resyncNow();
    });
  }

  /**
   * New desired state for some keys (null: nothing wanted there). Flushed on the next
   * tick. `noLinger`: removals go at once (a flood entry that moved to another VTEP).
   */
  setDesired(delta: Iterable<[string, KernelEntry | null]>, opts: { noLinger?: boolean } = {}): void {
    let any = false;
    const linger = opts.noLinger ? 0 : this.o.withdrawDelay?.() ?? 0;
    for (const [key, e] of delta) {
      if (e !== null) {
        if (this.lingering.size !== 0) this.lingering.delete(key);
        // Flood-list entries ('flood|' keys, FLOOD_MAC) never go through groups (docs/kernel.md).
        if (this.planner && e.kind === 'fdb' && e.mac !== FLOOD_MAC) {
          // The planner finds out itself whether anything changed (same VTEP: nothing).
          // It keeps the entry as the want (ifname, mac, dst), not a copy.
          this.planner.want(key, e);
          any = true;
          continue;
        }
        const old = this.desired.get(key);
        if (old !== undefined && sameEntry(old, e)) continue;
        this.setKey(key, e);
        any = true;
        continue;
      }
      const old = this.desired.get(key);
      if (old !== undefined && linger > 0) {
        if (!this.lingering.has(key)) this.lingering.set(key, this.o.clock.now() + linger);
        continue;
      }
      if (this.planner && key.startsWith('fdb|')) {
        this.planner.want(key, null);
        // A removal that may not wait (a MAC that came here) goes now, also while the
        // plan is held for chunked decisions: held, it would be restored over the
        // bridge's entry. The planner's own null for the key later finds nothing.
        if (opts.noLinger && old !== undefined) this.setKey(key, null);
        any = true;
        continue;
      }
      if (old === undefined) continue;
      this.setKey(key, null);
      any = true;
    }
    if (any) this.scheduleFlush(0);
    if (this.lingering.size) this.armLinger();
  }

  private setKey(key: string, e: KernelEntry | null): void {
    if (e) this.desired.set(key, e);
    else this.desired.delete(key);
    this.dirty.add(key);
    this.eventDirty.delete(key);
  }

  /** The planner's changes into the desired state. */
  private runPlanner(): void {
    if (!this.planner?.hasPending || this.planHeld) return;
    for (const [key, e] of this.planner.plan()) {
      const old = this.desired.get(key);
      if (e === null ? old === undefined : old !== undefined && sameEntry(old, e)) continue;
      this.setKey(key, e);
    }
    for (const m of this.planner.drainMoves()) this.o.emit({ type: 'nexthop-group', ...m });
  }

  /** Delete lingering entries whose time has come (one timer for the earliest). */
  private armLinger(): void {
    if (this.stopped) return;
    let due = Infinity;
    for (const t of this.lingering.values()) if (t < due) due = t;
    if (due !== Infinity) this.lingerTimer.at(due);
  }

  private lingerDue(): void {
    const now = this.o.clock.now();
    for (const [key, t] of this.lingering) {
      if (t > now) continue;
      this.lingering.delete(key);
      if (this.planner && key.startsWith('fdb|')) this.planner.want(key, null);
      else if (this.desired.delete(key)) {
        this.dirty.add(key);
        this.eventDirty.delete(key);
      }
    }
    this.scheduleFlush(0);
    if (this.lingering.size) this.armLinger();
  }

  /** A neighbour/FDB event from the kernel. */
  onEntryEvent(action: 'new' | 'del', o: ObservedEntry): void {
    if (this.stopped) return;
    if (o.kind === 'nexthop') {
      this.onNexthopEvent(action, o);
      return;
    }
    if (!this.devices.has(o.ifname)) return;
    const key = observedKey(o);
    if (key === null) return;
    this.touchedWhileApplying?.add(key);
    this.eventsDuringDump?.push({ key, action, entry: o });
    // The echo of our own write finds what we already recorded after it (synthesize):
    // nothing changed, nothing to compare again.
    const changed = applyObserved(this.observed, key, action, o, this.o.protocol);
    if (!changed) return;
    // Only keys we care about: wanted ones, and ones we may own.
    if (this.desired.has(key) || this.writtenThisRun.has(key) || o.externLearned) {
      this.dirty.add(key);
      this.eventDirty.add(key);
      this.scheduleFlush(this.o.restoreDelay());
    }
  }

  /**
   * A nexthop event: kept when it is ours, in our id range, or at an id we want.
   * Someone deleting one of our groups also flushed its FDB entries (without events):
   * resync after the restore delay.
   */
  private onNexthopEvent(action: 'new' | 'del', o: Extract<ObservedEntry, { kind: 'nexthop' }>): void {
    const key = nexthopKey(o.id);
    const wanted = this.desired.has(key);
    if (!wanted && o.protocol !== this.o.protocol && !this.planner?.inRange(o.id) && !this.observed.has(key)) return;
    this.touchedWhileApplying?.add(key);
    this.eventsDuringDump?.push({ key, action, entry: o });
    if (!applyObserved(this.observed, key, action, o, this.o.protocol)) return;
    if (wanted || this.writtenThisRun.has(key) || o.protocol === this.o.protocol) {
      this.dirty.add(key);
      this.eventDirty.add(key);
      this.scheduleFlush(this.o.restoreDelay());
    }
    if (action === 'del' && wanted && o.group !== null) this.scheduleResync();
  }

  /** Deleting a group flushes the vxlan FDB entries using it (no events): forget them too. */
  private forgetFlushed(groups: Set<number>): void {
    for (const [k, v] of this.observed) {
      if (!k.startsWith('fdb|')) continue;
      if (!Array.isArray(v) && (v.kind !== 'fdb' || v.nhid === undefined || !groups.has(v.nhid))) continue;
      const list = materialize(v, this.o.protocol);
      const left = list.filter((o) => !(o.kind === 'fdb' && o.table === 'vxlan' && o.nhid != null && groups.has(o.nhid)));
      if (left.length === list.length) continue;
      if (left.length) this.observed.set(k, left);
      else this.observed.delete(k);
    }
  }

  /** The stale gate opened: compare every key we saw, so unwanted owned entries go. */
  staleGateOpened(): void {
    this.staleCleanup = true;
    if (this.o.gateOpen()) this.writtenThisRun.clear();
    for (const k of this.observed.keys()) this.dirty.add(k);
    this.scheduleFlush(0);
  }

  /** What we want in the kernel; an FDB entry with nhid shows the VTEP its group leads to now. */
  desiredEntries(): KernelEntry[] {
    const out: KernelEntry[] = [];
    for (const e of this.desired.values()) {
      if (e.kind === 'fdb' && e.nhid !== undefined) {
        const vtep = this.planner?.vtepOf(e.nhid);
        out.push(vtep !== undefined && vtep !== e.dst ? { ...e, dst: vtep } : e);
      } else out.push(e);
    }
    return out;
  }

  observedEntries(): ObservedEntry[] {
    return [...this.observed.values()].flatMap((v) => materialize(v, this.o.protocol));
  }

  /** The kernel's entries at a key (a Written one materialized; a copy then), undefined when none. */
  private obsList(key: string): ObservedEntry[] | undefined {
    const v = this.observed.get(key);
    return v === undefined ? undefined : materialize(v, this.o.protocol);
  }

  /** A dump or write is running. */
  get busy(): boolean {
    return this.worker !== null;
  }

  /** Resolves when no dump or write is running (timers may still be pending). */
  async settled(): Promise<void> {
    while (this.worker) await this.worker;
  }

  /** Stop all timers and work; with `flush`, delete every entry we own first. */
  async stop(flush: boolean): Promise<void> {
    this.stopped = true;
    this.flushTimer.cancel();
    this.lingerTimer.cancel();
    for (const t of [this.retryTimer, this.resyncTimer]) t?.cancel();
    this.retryTimer = this.resyncTimer = null;
    await this.settled();
    if (flush) {
      const p = plan([], this.observedEntries(), { protocol: this.o.protocol, deleteStale: true });
      await this.applyOps(p.ops, 'shutdown');
    }
  }

  // --- the worker ---

  private scheduleFlush(delay: number): void {
    if (!this.stopped) this.flushTimer.after(delay);
  }

  private kick(): void {
    if (this.worker || this.stopped) return;
    this.worker = this.work().finally(() => { this.worker = null; });
  }

  private async work(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      if (this.wantResync) {
        this.wantResync = false;
        await this.resync();
        continue;
      }
      if (this.flushDue) {
        this.flushDue = false;
        if (this.dirty.size || (this.planner?.hasPending && !this.planHeld)) await this.flush();
        continue;
      }
      return;
    }
  }

  private async resync(): Promise<void> {
    let entries: ObservedEntry[];
    const during: EntryEvent[] = [];
    this.eventsDuringDump = during;
    try {
      entries = await this.o.kernel.dump([...this.devices]);
      if (this.o.kernel.dumpNexthops) {
        let nhs: Awaited<ReturnType<NonNullable<KernelPort['dumpNexthops']>>> = [];
        try {
          nhs = await this.o.kernel.dumpNexthops();
        } catch (e) {
          // Without nexthop groups a kernel without nexthops is fine: nothing to sweep.
          if (this.planner) throw e;
        }
        for (const n of nhs) {
          // Ours (to sweep or keep), and any in our range (ids we must not take).
          if (n.protocol === this.o.protocol || (this.planner?.inRange(n.id) ?? false)) entries.push(n);
        }
      }
    } catch (e) {
      this.o.emit({ type: 'problem', message: `kernel dump: ${String(e)}` });
      this.scheduleResync(this.o.retryDelay);
      return;
    } finally {
      this.eventsDuringDump = null;
    }
    const observed: Map<string, Observed> = groupObserved(entries);
    // Events that arrived while dumping may be newer than what the dump read;
    // replaying them in order is right either way (a change already seen is idempotent).
    for (const ev of during) applyObserved(observed, ev.key, ev.action, ev.entry, this.o.protocol);
    this.observed = observed;
    for (const k of observed.keys()) this.dirty.add(k);
    for (const k of this.desired.keys()) this.dirty.add(k);
    this.flushDue = true;
  }

  private async flush(): Promise<void> {
    let keys: string[];
    if (this.urgent.size) {
      keys = [...this.urgent];
      this.urgent.clear();
      for (const k of keys) this.dirty.delete(k);
      if (this.dirty.size || this.planner?.hasPending) this.scheduleFlush(0);
    } else {
      this.runPlanner();
      keys = this.takeChunk();
    }
    const desired: KernelEntry[] = [];
    const observed = new Map<string, ObservedEntry[]>();
    // Each op's key, by its entry: the flush's own key strings, never built again.
    const keyOf = new Map<KernelEntry, string>();
    for (const k of keys) {
      const d = this.desired.get(k);
      if (d) { desired.push(d); keyOf.set(d, k); }
      const o = this.obsList(k);
      if (o) observed.set(k, [...o]);
    }
    const open = this.o.gateOpen();
    const p = planByKey(desired, observed, { protocol: this.o.protocol, deleteStale: open }, keyOf);
    const ops = p.ops;
    if (!open) {
      // Entries this run wrote and no longer wants go now; only a previous run's wait for the gate.
      for (const e of p.stale) if (this.writtenThisRun.has(entryKey(e))) ops.push({ op: 'delete', entry: e });
    }
    for (const s of p.skipped) this.o.emit({ type: 'kernel-conflict', entry: s.entry, reason: s.reason });
    // Ops at keys only kernel events touched undo someone else's change.
    const restores = ops.filter((o) => this.eventDirty.has(entryKey(o.entry))).length;
    for (const k of keys) this.eventDirty.delete(k);
    if (restores) this.o.emit({ type: 'kernel-restore', keys: restores });
    const trigger: KernelTrigger = restores === ops.length ? 'restore' : open && this.staleCleanup ? 'stale-cleanup' : 'routes';
    this.staleCleanup = false;
    await this.applyOps(ops, trigger, keys, keyOf);
  }

  /**
   * The dirty keys of one flush: at most FLUSH_CHUNK entry keys, so that planning a
   * large burst (an install of 50,000 routes arrives faster than the kernel takes
   * it) never keeps the event loop from BFD and keepalives for long; the rest is
   * flushed right after, with the kernel's answer in between. Nexthops that are
   * wanted go in the first chunk (the FDB entries that point at them may be in any
   * chunk); nexthops to delete go in the last one (after every FDB entry that used
   * them has been moved away; the kernel drops the FDB entries of a deleted group).
   * Costs the chunk (DirtyKeys), not the number of dirty keys.
   */
  private takeChunk(): string[] {
    const big = this.dirty.size > FLUSH_CHUNK;
    const keys = this.dirty.take(FLUSH_CHUNK, (k) => this.desired.has(k));
    if (big) this.flushDue = true;
    return keys;
  }

  /**
   * `keys`: the flush's keys, whose strings the observed map reuses (one copy of each
   * key in memory); `keyOf`: the key of an op's entry, when the plan told it.
   */
  private async applyOps(ops: KernelOp[], trigger: KernelTrigger, keys?: readonly string[], keyOf?: ReadonlyMap<KernelEntry, string>): Promise<void> {
    if (ops.length === 0) return;
    let canon: Map<string, string> | null = null;
    const keyFor = (e: KernelEntry): string => {
      const k = keyOf?.get(e);
      if (k !== undefined) return k;
      const k0 = entryKey(e);
      if (keys && canon === null) canon = new Map(keys.map((x) => [x, x]));
      return canon?.get(k0) ?? k0;
    };
    const touched = new Set<string>();
    this.touchedWhileApplying = touched;
    let results;
    try {
      results = await this.o.kernel.apply(ops);
    } finally {
      this.touchedWhileApplying = null;
    }
    // The stale gate is open: written keys need no record any more (see writtenThisRun).
    const gateOpen = trigger === 'shutdown' || this.o.gateOpen();
    if (gateOpen) this.writtenThisRun.clear();
    const failed: Array<{ op: KernelOp; code: string; message: string }> = [];
    const newFailures: Array<{ op: KernelOp; code: string; message: string }> = [];
    let replaced = 0;
    let deleted = 0;
    const deletedGroups = new Set<number>();
    for (const r of results) {
      const op = r.op;
      const key = keyFor(op.entry);
      if (!r.ok) {
        failed.push({ op, code: r.code, message: r.message });
        if (trigger !== 'shutdown') this.retryKeys.add(key);
        if (this.failing.get(key) !== r.code) {
          this.failing.set(key, r.code);
          newFailures.push({ op, code: r.code, message: r.message });
        }
        continue;
      }
      this.failing.delete(key);
      // A kernel event for the key arrived meanwhile: it knows better than we do
      // (it may even be someone else's change right after ours).
      const known = touched.has(key);
      if (op.op === 'replace') {
        replaced++;
        if (!gateOpen) this.writtenThisRun.add(key);
        // What we wrote, recorded compactly; the desired entry itself when it is the
        // same (not a second copy of the same state).
        const d = this.desired.get(key);
        const w = d !== undefined && sameEntry(d, op.entry) && (d.kind !== 'fdb' || d.nhid !== undefined || d.dst === (op.entry as typeof d).dst) ? d : op.entry;
        if (!known) this.observed.set(key, w);
        else {
          // The echo came during the write: when it says just what we wrote, keep that compactly.
          const cur = this.observed.get(key);
          if (Array.isArray(cur) && isWritten(cur, w, this.o.protocol)) this.observed.set(key, w);
        }
      } else {
        deleted++;
        this.writtenThisRun.delete(key);
        if (known) continue;
        // Only a one-half FDB delete leaves something; a whole delete leaves nothing to
        // materialize (a withdraw of 50,000 routes spent 0.5 s here doing it).
        const left = op.only === undefined ? [] : (this.obsList(key) ?? []).filter((o) => o.kind === 'fdb' && o.table !== op.only);
        if (op.entry.kind === 'nhgroup') deletedGroups.add(op.entry.id);
        if (left.length) this.observed.set(key, left);
        else this.observed.delete(key);
      }
    }
    if (deletedGroups.size) this.forgetFlushed(deletedGroups);
    this.o.emit({ type: 'kernel', trigger, replaced, deleted, failed, ops });
    if (failed.length === 0) return;
    for (const message of failureProblems(newFailures, trigger === 'shutdown' ? null : this.o.retryDelay)) this.o.emit({ type: 'problem', message });
    if (trigger !== 'shutdown' && !this.retryTimer && !this.stopped) {
      this.retryTimer = this.o.clock.setTimer(this.o.retryDelay, () => {
        this.retryTimer = null;
        for (const k of this.retryKeys) this.dirty.add(k);
        this.retryKeys.clear();
        this.flushDue = true;
        this.kick();
      });
    }
  }
}
