// Best-path selection among the agent's paths for one (VNI, MAC, IP) (docs/agent.md
// "Best path"): eligible (VTEP reachable) first, then sticky (static) before
// movable (RFC 7432 §15.2), highest MAC Mobility sequence (RFC 7432 §15: where the
// MAC is), highest LOCAL_PREF (which network leads there), lowest ORIGINATOR_ID or
// BGP identifier (RFC 4456 §9 / RFC 4271 §9.1.2.2 f), lowest peer address
// (RFC 4271 §9.1.2.2 g).
//
// The decision is data: STEPS is the selection order, and the winner carries the
// step that beat the runner-up as a BestPathReason; reasonText() makes the text
// operators see, at the edge (logs, the control socket). Pure functions.
import type { MacIpRoute } from '../evpn/types.js';
import type { RouteDistinguisher, RouteTarget } from '../bgp/types.js';
import { routeKey } from '../evpn/route.js';
import { compareIp } from '../wire/addr.js';

/** One path as the rest of the agent sees it (read-only). */
export interface Path {
  /** Session (uplink name) the path was learned over. */
  readonly uplink: string;
  /** The peer's address (session remote address). */
  readonly peer: string;
  readonly route: MacIpRoute;
  /** label1 of the route (RFC 8365 §5.1.3). */
  readonly vni: number;
  /** The remote VTEP (MP_REACH next hop). */
  readonly nextHop: string;
  /** From the uplink's policy; the received LOCAL_PREF is ignored. */
  readonly localPref: number;
  /** MAC Mobility sequence number (RFC 7432 §7.7), 0 when absent. */
  readonly macMobilitySeq: number;
  /** MAC Mobility static (sticky) flag (RFC 7432 §7.7), false when absent. */
  readonly macMobilitySticky: boolean;
  /** ORIGINATOR_ID (RFC 4456 §8), null when absent. */
  readonly originatorId: string | null;
  /** The peer's BGP identifier. */
  readonly routerId: string;
  readonly routeTargets: readonly RouteTarget[];
  readonly rd: RouteDistinguisher;
  /** False while the VTEP probe says this next hop is unreachable over this network. */
  readonly eligible: boolean;
}

/**
 * The step of best-path selection that decided, with what it compared (phrased for
 * the winner). 'uplink-name' and 'route-key' are deterministic last resorts.
 */
export type BestPathReason =
  | { step: 'only-path' }
  /** The loser's VTEP is unreachable over its network (VTEP probe). */
  | { step: 'eligible'; nextHop: string; uplink: string }
  /** The winner's MAC is sticky (static), the loser's is not (RFC 7432 §15.2). */
  | { step: 'sticky' }
  | { step: 'mobility-seq'; better: number; worse: number }
  | { step: 'local-pref'; better: number; worse: number }
  | { step: 'router-id'; better: string; worse: string }
  | { step: 'peer-address'; better: string; worse: string }
  | { step: 'uplink-name' }
  | { step: 'route-key' }
  | { step: 'equal' };

/** Why an entry's best path is what it is after a change: a BestPathReason, or nothing left. */
export type ChangeReason = BestPathReason | { step: 'withdrawn' };

export type ReasonStep = ChangeReason['step'];

/** The text operators see in logs, `watch` and `show routes` (docs/agent.md "Best path"). */
export function reasonText(r: ChangeReason): string {
  switch (r.step) {
    case 'only-path': return 'only path';
    case 'eligible': return `VTEP ${r.nextHop} unreachable on ${r.uplink}`;
    case 'sticky': return 'sticky MAC';
    case 'mobility-seq': return `mobility-seq ${r.better} > ${r.worse}`;
    case 'local-pref': return `local-pref ${r.better} > ${r.worse}`;
    case 'router-id': return `router-id ${r.better} < ${r.worse}`;
    case 'peer-address': return `peer-address ${r.better} < ${r.worse}`;
    case 'uplink-name': return 'uplink name';
    case 'route-key': return 'route key';
    case 'equal': return 'equal';
    case 'withdrawn': return 'withdrawn';
  }
}

export const ONLY_PATH: BestPathReason = Object.freeze({ step: 'only-path' });
export const WITHDRAWN: ChangeReason = Object.freeze({ step: 'withdrawn' });

/** What best-path selection returns: the winner and why it beat the runner-up. */
export interface BestPath {
  winner: Path;
  reason: BestPathReason;
}

/** IPv4 before IPv6, then numerically (src/wire/addr.ts). */
export { compareIp };

/** The identifier RFC 4456 §9 compares: ORIGINATOR_ID when present, else the peer's BGP identifier. */
function originator(p: Path): string {
  return p.originatorId ?? p.routerId;
}

function textOrder(a: string, b: string): number {
  return a === b ? 0 : a < b ? -1 : 1;
}

interface Step {
  /** < 0 when `a` is better at this step, > 0 when `b` is, 0 when this step cannot tell. */
  compare(a: Path, b: Path): number;
  reason(better: Path, worse: Path): BestPathReason;
}

/** The selection steps in order (docs/agent.md "Best path"); the first that tells decides. */
const STEPS: readonly Step[] = [
  {
    compare: (a, b) => (a.eligible === b.eligible ? 0 : a.eligible ? -1 : 1),
    reason: (_, worse) => ({ step: 'eligible', nextHop: worse.nextHop, uplink: worse.uplink }),
  },
  {
    // RFC 7432 §15.2: a static (sticky) MAC does not move: its route beats a movable one.
    compare: (a, b) => (a.macMobilitySticky === b.macMobilitySticky ? 0 : a.macMobilitySticky ? -1 : 1),
    reason: () => ({ step: 'sticky' }),
  },
  {
    // RFC 7432 §15.1: the higher sequence number says where the MAC is now. Before
    // local-preference: a MAC that moved to a server reachable only over the backup
    // network is there, not at its old server over the primary one.
    compare: (a, b) => b.macMobilitySeq - a.macMobilitySeq,
    reason: (better, worse) => ({ step: 'mobility-seq', better: better.macMobilitySeq, worse: worse.macMobilitySeq }),
  },
  {
    // Among the paths to that location (one per network): our primary/backup choice.
    compare: (a, b) => b.localPref - a.localPref,
    reason: (better, worse) => ({ step: 'local-pref', better: better.localPref, worse: worse.localPref }),
  },
  {
    // RFC 4456 §9, RFC 4271 §9.1.2.2 f.
    compare: (a, b) => compareIp(originator(a), originator(b)),
    reason: (better, worse) => ({ step: 'router-id', better: originator(better), worse: originator(worse) }),
  },
  {
    // RFC 4271 §9.1.2.2 g.
    compare: (a, b) => compareIp(a.peer, b.peer),
    reason: (better, worse) => ({ step: 'peer-address', better: better.peer, worse: worse.peer }),
  },
  // Deterministic last resorts (same peer, same originator: two RDs for one MAC/IP).
  { compare: (a, b) => textOrder(a.uplink, b.uplink), reason: () => ({ step: 'uplink-name' }) },
  { compare: (a, b) => textOrder(routeKey(a.route), routeKey(b.route)), reason: () => ({ step: 'route-key' }) },
];

/** Compare two paths: < 0 when `a` is better, > 0 when `b` is, 0 when equal. */
export function comparePaths(a: Path, b: Path): number {
  for (const s of STEPS) {
    const c = s.compare(a, b);
    if (c !== 0) return c;
  }
  return 0;
}

/** Why `better` beats `worse` (the first step that tells them apart). */
export function explain(better: Path, worse: Path): BestPathReason {
  for (const s of STEPS) {
    const c = s.compare(better, worse);
    if (c !== 0) return s.reason(c < 0 ? better : worse, c < 0 ? worse : better);
  }
  return { step: 'equal' };
}

/** The best of `paths` (non-empty) and why it beat the second best. */
export function bestPath(paths: readonly Path[]): BestPath {
  if (paths.length === 0) throw new RangeError('bestPath of no paths');
  let winner = paths[0]!;
  for (let i = 1; i < paths.length; i++) {
    const p = paths[i]!;
    if (comparePaths(p, winner) < 0) winner = p;
  }
  if (paths.length === 1) return { winner, reason: ONLY_PATH };
  let runnerUp: Path | null = null;
  for (const p of paths) {
    if (p === winner) continue;
    if (runnerUp === null || comparePaths(p, runnerUp) < 0) runnerUp = p;
  }
  return { winner, reason: explain(winner, runnerUp!) };
}
