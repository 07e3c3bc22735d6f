// MAC mobility (RFC 7432 §15) and duplicate detection (RFC 7432 §15.1) per
// (VNI, MAC). Pure: no I/O, time comes in as arguments (the agent passes its
// Clock's now() and arms one timer at nextExpiry()). Inputs: a MAC is local
// (up/down, sticky = a static FDB entry), the best remote path for a MAC we track
// changed, a clear request, time. Outputs: typed decisions the agent acts on.
//
// Rules (docs/agent.md "MAC mobility"):
//  * A MAC that appears locally while a remote route for it exists (or existed while
//    we tracked it) is announced with sequence = the highest seen + 1 (RFC 7432
//    §15.1); with no remote route ever seen it is announced without the community
//    (sequence 0, RFC 7432 §7.7: the community is attached from the first move on).
//  * A remote route with a higher sequence for a MAC we announce means it moved away
//    (RFC 7432 §15.1): withdraw ours and remove the stale local FDB entry. An equal
//    sequence keeps ours (as today: the other side's best path breaks the tie).
//  * Sticky/static MACs (RFC 7432 §15.2): a local sticky MAC never moves away
//    (announced with the static flag); a remote sticky route for a MAC we hold as
//    non-sticky wins (we stop announcing ours, the operator is told); a remote sticky
//    route for our own sticky MAC is a misconfiguration: logged, ours stays.
//  * Every sequence increase while we track the MAC is a move. More than maxMoves
//    moves within window mark it duplicate (RFC 7432 §15.1): no longer announced
//    (its IPs neither) until cleared, or until `freeze` (a duration) passed.
//  * RFC 7432 gives no wrap-around rule for the 32-bit sequence: it stops at
//    2^32-1 (a MAC that moved four billion times is reported, not wrapped to 0,
//    which every peer would take as older).
//
// Only MACs that are local or were local here are tracked: remote MACs that never
// touched this server cost nothing (a remote-only move cannot change what we
// announce).

export const MAX_SEQUENCE = 0xffffffff;

/** vnis[].mobility (docs/configuration.md); durations in ms. */
export interface MobilitySettings {
  maxMoves: number;
  window: number;
  /** true: a duplicate stays until `clear duplicate`; a number: lifted after that many ms. */
  freeze: true | number;
}

export const DEFAULT_MOBILITY: Readonly<MobilitySettings> = Object.freeze({ maxMoves: 5, window: 180_000, freeze: true });

/** The best remote path of a (VNI, MAC): its MAC Mobility community and VTEP. */
export interface RemoteMac {
  seq: number;
  sticky: boolean;
  vtep: string;
}

/** What origination needs per (VNI, MAC). */
export interface MacMobility {
  seq: number;
  sticky: boolean;
  duplicate: boolean;
  /** False when we must not announce it (duplicate, moved away, sticky elsewhere). */
  announce: boolean;
}

export const NOT_TRACKED: MacMobility = Object.freeze({ seq: 0, sticky: false, duplicate: false, announce: true });

/** Where a move went: 'local' (to this server) or the remote VTEP. */
export type MoveTarget = 'local' | string;

export type WithdrawReason = 'moved-away' | 'remote-sticky' | 'duplicate' | 'local-down';

export type MobilityDecision =
  /** (Re-)announce the MAC and its IPs with this sequence (0 and not sticky: no community). */
  | { kind: 'announce'; vni: number; mac: string; seq: number; sticky: boolean }
  /** Stop announcing the MAC and its IPs. */
  | { kind: 'withdraw'; vni: number; mac: string; reason: WithdrawReason; seq: number; by: string | null }
  /** The MAC moved away: a local FDB entry the kernel may still hold for it is stale. */
  | { kind: 'remove-local-fdb'; vni: number; mac: string; vtep: string; seq: number }
  /** More than maxMoves moves within window: duplicate (RFC 7432 §15.1). */
  | { kind: 'duplicate'; vni: number; mac: string; moves: number; window: number; targets: MoveTarget[]; until: number | null }
  | { kind: 'duplicate-cleared'; vni: number; mac: string; cause: 'cleared' | 'freeze-expired' }
  /** Something the operator must fix (RFC 7432 §15.2 sticky conflicts, sequence at its maximum). */
  | { kind: 'conflict'; vni: number; mac: string; message: string };

interface MacState {
  readonly vni: number;
  readonly mac: string;
  /** The local source says the MAC is here. */
  present: boolean;
  sticky: boolean;
  /** We announce it (or would, but for a duplicate). */
  ours: boolean;
  /** Our sequence (what we announce / announced last). */
  seq: number;
  /** Highest sequence seen in remote routes while tracked. */
  highest: number;
  remote: RemoteMac | null;
  /** Times (ms) and targets of the moves still in the window. */
  moves: Array<{ at: number; to: MoveTarget }>;
  duplicate: boolean;
  /** When a freeze duration lifts the duplicate flag; null: only a clear does. */
  until: number | null;
  /** A sticky conflict has been reported (once per conflict). */
  conflict: boolean;
  /** Where the MAC was last known to be ('local' or a VTEP), null before anything was known. */
  where: MoveTarget | null;
  /**
   * When we last claimed it blind (our view of the remote routes incomplete: an
   * uplink down or still receiving its initial table), null otherwise.
   */
  blindAt: number | null;
}

/**
 * How long after a blind claim a replayed remote route (one an uplink's initial table
 * transfer brings) still counts as known at the claim, ms.
 */
export const BLIND_CLAIM_WINDOW = 30_000;

/** What the caller knows of the remote routes' completeness. */
export interface ViewState {
  /** localUp: our view of the remote routes is incomplete (an uplink down or receiving its initial table). */
  blind?: boolean;
  /** remote: the path comes from an uplink's initial table transfer (End-of-RIB not yet received). */
  replay?: boolean;
}

function key(vni: number, mac: string): string {
  return `${vni}|${mac}`;
}

export class Mobility {
  private readonly macs = new Map<string, MacState>();
  /** MAC -> how many VNIs track it: a cheap first test for every RIB change (no key built). */
  private readonly macCount = new Map<string, number>();

  constructor(
    /** Settings per VNI (defaults for a VNI not listed). */
    private readonly settings: (vni: number) => MobilitySettings = () => DEFAULT_MOBILITY,
  ) {}

  get size(): number {
    return this.macs.size;
  }

  tracks(vni: number, mac: string): boolean {
    return this.macCount.has(mac) && this.macs.has(key(vni, mac));
  }

  /** What origination announces for (VNI, MAC). */
  of(vni: number, mac: string): MacMobility {
    const s = this.macs.get(key(vni, mac));
    if (!s) return NOT_TRACKED;
    return { seq: s.seq, sticky: s.sticky, duplicate: s.duplicate, announce: s.ours && !s.duplicate };
  }

  /** Every MAC marked duplicate (for `show` and metrics). */
  duplicates(): Array<{ vni: number; mac: string; moves: number; until: number | null }> {
    const out: Array<{ vni: number; mac: string; moves: number; until: number | null }> = [];
    for (const s of this.macs.values()) if (s.duplicate) out.push({ vni: s.vni, mac: s.mac, moves: s.moves.length, until: s.until });
    return out;
  }

  /**
   * The MAC is on a local port and this server is where it is (RFC 7432 §15.1: not
   * moved away to a higher sequence elsewhere, nor sticky elsewhere). Its remote paths
   * must then stay out of the kernel.
   */
  heldLocally(vni: number, mac: string): boolean {
    if (!this.macCount.has(mac)) return false;
    const s = this.macs.get(key(vni, mac));
    return s !== undefined && s.present && s.where === 'local';
  }

  isDuplicate(vni: number, mac: string): boolean {
    return this.macs.get(key(vni, mac))?.duplicate ?? false;
  }

  /**
   * The MAC is local (again). `remote` is its current best remote path (the agent
   * reads it from the RIB: a MAC not tracked yet has no remote history here).
   */
  localUp(vni: number, mac: string, sticky: boolean, remote: RemoteMac | null, now: number, view: ViewState = {}): MobilityDecision[] {
    const out: MobilityDecision[] = [];
    let s = this.macs.get(key(vni, mac));
    if (!s) {
      s = {
        vni, mac, present: false, sticky, ours: false, seq: 0, highest: remote?.seq ?? 0, remote, moves: [],
        duplicate: false, until: null, conflict: false, where: remote?.vtep ?? null, blindAt: null,
      };
      this.macs.set(key(vni, mac), s);
      this.macCount.set(mac, (this.macCount.get(mac) ?? 0) + 1);
    } else {
      this.setRemote(s, remote, now, out);
    }
    if (s.present && s.ours) {
      if (s.sticky !== sticky) {
        s.sticky = sticky;
        if (!s.duplicate) out.push(this.announce(s));
      }
      return out;
    }
    s.present = true;
    s.sticky = sticky;
    this.claim(s, now, out);
    s.blindAt = s.ours && view.blind === true ? now : null;
    return out;
  }

  /** The MAC is no longer local (aged out, port gone). */
  localDown(vni: number, mac: string, now: number): MobilityDecision[] {
    const s = this.macs.get(key(vni, mac));
    if (!s) return [];
    const out: MobilityDecision[] = [];
    s.present = false;
    s.blindAt = null;
    if (s.ours) {
      s.ours = false;
      if (!s.duplicate) out.push({ kind: 'withdraw', vni, mac, reason: 'local-down', seq: s.seq, by: null });
    }
    this.prune(s, now);
    return out;
  }

  /** The best remote path of a tracked MAC changed (null: no remote path left). Untracked MACs are ignored. */
  remote(vni: number, mac: string, remote: RemoteMac | null, now: number, view: ViewState = {}): MobilityDecision[] {
    const s = this.macs.get(key(vni, mac));
    if (!s) return [];
    const out: MobilityDecision[] = [];
    this.setRemote(s, remote, now, out, view.replay === true);
    // Nobody else claims a MAC that is still here (e.g. the bridge's own): take it back.
    if (s.present && !s.ours && s.remote === null) this.claim(s, now, out);
    this.prune(s, now);
    return out;
  }

  /** `clear duplicate`: lift the flag of (vni, mac), or of the MAC in every VNI when vni is null. Returns what was cleared. */
  clear(mac: string, vni: number | null, now: number): { cleared: Array<{ vni: number; mac: string }>; decisions: MobilityDecision[] } {
    const cleared: Array<{ vni: number; mac: string }> = [];
    const decisions: MobilityDecision[] = [];
    for (const s of [...this.macs.values()]) {
      if (s.mac !== mac || (vni !== null && s.vni !== vni) || !s.duplicate) continue;
      cleared.push({ vni: s.vni, mac: s.mac });
      this.lift(s, 'cleared', now, decisions);
    }
    return { cleared, decisions };
  }

  /** When the next freeze duration runs out (ms, the clock's scale), or null. */
  nextExpiry(): number | null {
    let t: number | null = null;
    for (const s of this.macs.values()) if (s.duplicate && s.until !== null && (t === null || s.until < t)) t = s.until;
    return t;
  }

  /** Lift the duplicates whose freeze duration ran out by `now`. */
  expire(now: number): MobilityDecision[] {
    const out: MobilityDecision[] = [];
    for (const s of [...this.macs.values()]) if (s.duplicate && s.until !== null && s.until <= now) this.lift(s, 'freeze-expired', now, out);
    return out;
  }

  /** Forget every MAC of a VNI (e.g. the VNI was removed). */
  forgetVni(vni: number): void {
    for (const s of [...this.macs.values()]) if (s.vni === vni) this.drop(s);
  }

  private drop(s: MacState): void {
    this.macs.delete(key(s.vni, s.mac));
    const n = (this.macCount.get(s.mac) ?? 1) - 1;
    if (n > 0) this.macCount.set(s.mac, n);
    else this.macCount.delete(s.mac);
  }

  // --- internals ---

  private announce(s: MacState): MobilityDecision {
    return { kind: 'announce', vni: s.vni, mac: s.mac, seq: s.seq, sticky: s.sticky };
  }

  /** RFC 7432 §15.2: a non-sticky local MAC does not take over a MAC that is sticky elsewhere. */
  private mayClaim(s: MacState): boolean {
    return s.remote === null || !s.remote.sticky || s.sticky;
  }

  /** The MAC is present here: announce it, with highest + 1 when it comes from elsewhere. */
  private claim(s: MacState, now: number, out: MobilityDecision[], countMove = true): void {
    const r = s.remote;
    if (r !== null && r.sticky && !s.sticky) {
      if (!s.conflict) {
        s.conflict = true;
        out.push({ kind: 'conflict', vni: s.vni, mac: s.mac, message: `MAC ${s.mac} (VNI ${s.vni}) is local here but sticky (static) at VTEP ${r.vtep} (RFC 7432 §15.2): not announced` });
      }
      return;
    }
    const elsewhere = r !== null || s.highest > 0;
    if (elsewhere) {
      const base = Math.max(s.highest, s.seq);
      if (base >= MAX_SEQUENCE) {
        out.push({ kind: 'conflict', vni: s.vni, mac: s.mac, message: `MAC ${s.mac} (VNI ${s.vni}): MAC Mobility sequence at its maximum ${MAX_SEQUENCE}; announced with it unchanged` });
        s.seq = MAX_SEQUENCE;
      } else {
        s.seq = base + 1;
      }
      if (s.where !== 'local' && countMove) this.move(s, 'local', now, out);
    }
    s.where = 'local';
    s.ours = true;
    s.conflict = false;
    if (!s.duplicate) out.push(this.announce(s));
  }

  private setRemote(s: MacState, remote: RemoteMac | null, now: number, out: MobilityDecision[], replay = false): void {
    s.remote = remote;
    if (remote === null) return;
    const higher = remote.seq > s.highest;
    if (higher) s.highest = remote.seq;
    if (s.ours) {
      if (remote.sticky && s.sticky) {
        if (!s.conflict) {
          s.conflict = true;
          out.push({ kind: 'conflict', vni: s.vni, mac: s.mac, message: `MAC ${s.mac} (VNI ${s.vni}) is sticky (static) here and at VTEP ${remote.vtep}: misconfiguration (RFC 7432 §15.2); ours stays` });
        }
        return;
      }
      // RFC 7432 §15.2: our sticky MAC never moves.
      if (s.sticky) return;
      const movedAway = remote.sticky || remote.seq > s.seq;
      if (!movedAway) return;
      if (!remote.sticky && replay && s.blindAt !== null && now - s.blindAt < BLIND_CLAIM_WINDOW) {
        // We claimed the MAC blind, and this route comes with an uplink's initial table:
        // it was there before the MAC appeared here, and had we known it, the claim would
        // have carried its sequence + 1 (RFC 7432 §15.1). Not a move away: claim again
        // above it, counting the move here the blind claim could not count.
        s.blindAt = null;
        s.ours = false;
        s.where = remote.vtep;
        this.claim(s, now, out);
        return;
      }
      s.blindAt = null;
      s.ours = false;
      if (remote.sticky && !s.conflict) {
        s.conflict = true;
        out.push({ kind: 'conflict', vni: s.vni, mac: s.mac, message: `MAC ${s.mac} (VNI ${s.vni}) is sticky (static) at VTEP ${remote.vtep} (RFC 7432 §15.2): ours withdrawn` });
      }
      if (!s.duplicate) {
        out.push({ kind: 'withdraw', vni: s.vni, mac: s.mac, reason: remote.sticky ? 'remote-sticky' : 'moved-away', seq: s.seq, by: remote.vtep });
      }
      if (!remote.sticky) out.push({ kind: 'remove-local-fdb', vni: s.vni, mac: s.mac, vtep: remote.vtep, seq: remote.seq });
      if (higher) this.move(s, remote.vtep, now, out);
      s.where = remote.vtep;
      return;
    }
    // A move away from here, or between other servers, while we track the MAC.
    if (higher && s.where !== null) this.move(s, remote.vtep, now, out);
    s.where = remote.vtep;
    if (!remote.sticky) s.conflict = false;
  }

  /** Count a move; more than maxMoves within the window marks the MAC duplicate. */
  private move(s: MacState, to: MoveTarget, now: number, out: MobilityDecision[]): void {
    const cfg = this.settings(s.vni);
    s.moves.push({ at: now, to });
    this.trim(s, now, cfg);
    if (s.duplicate || s.moves.length <= cfg.maxMoves) return;
    s.duplicate = true;
    s.until = cfg.freeze === true ? null : now + cfg.freeze;
    out.push({ kind: 'duplicate', vni: s.vni, mac: s.mac, moves: s.moves.length, window: cfg.window, targets: s.moves.map((m) => m.to), until: s.until });
    if (s.ours) out.push({ kind: 'withdraw', vni: s.vni, mac: s.mac, reason: 'duplicate', seq: s.seq, by: null });
  }

  private trim(s: MacState, now: number, cfg: MobilitySettings): void {
    let i = 0;
    while (i < s.moves.length && now - s.moves[i]!.at >= cfg.window) i++;
    if (i > 0) s.moves.splice(0, i);
  }

  private lift(s: MacState, cause: 'cleared' | 'freeze-expired', now: number, out: MobilityDecision[]): void {
    s.duplicate = false;
    s.until = null;
    s.moves = [];
    s.blindAt = null;
    out.push({ kind: 'duplicate-cleared', vni: s.vni, mac: s.mac, cause });
    if (s.present && this.mayClaim(s)) {
      // Announced again above every sequence seen, so that it wins where it is now (RFC 7432 §15.1).
      const seenHigher = s.highest > 0 && s.highest >= s.seq;
      if (seenHigher || !s.ours) {
        s.ours = false;
        // The claim after a clear starts the new history: not a move.
        this.claim(s, now, out, false);
      } else {
        out.push(this.announce(s));
      }
    }
    this.prune(s, now);
  }

  /** Forget a MAC that is neither local, nor remote, nor duplicate. */
  private prune(s: MacState, _now: number): void {
    if (!s.present && s.remote === null && !s.duplicate) this.drop(s);
  }
}
