// The control API's vocabulary: what the agent shows through its UNIX socket
// (`evpn-ha show ...`, `evpn-ha watch`, `evpn-ha reload`) and the metrics
// endpoint. Everything here is plain JSON (no Maps, no bigint, no undefined
// where a value is expected): the same objects travel over the socket and are
// printed by `--json`. docs/cli.md shows each shape.
//
// Protocol (one JSON object per line, UTF-8, both ways):
//   request   {"id": 1, "method": "routes", "params": {"vni": 100}}
//   response  {"id": 1, "result": ...}  or  {"id": 1, "error": {"code": "...", "message": "..."}}
//   watch     {"id": 2, "result": {"watching": true}} then {"event": {...}} lines
//             until the client disconnects.
import type { AgentEvent, PathSummary } from '../agent/agent.js';
import type { KernelEntry, ObservedEntry, ObservedNexthop } from '../kernel/port.js';

/** Default control socket (config key `control.socket`). */
export const DEFAULT_CONTROL_SOCKET = '/run/evpn-ha/evpn-ha.sock';

// --- show neighbors --------------------------------------------------------------

export interface NeighborInfo {
  /** Uplink (= underlay network) name. */
  uplink: string;
  peer: string;
  /** Our session source address; null while the uplink has none. */
  localAddress: string | null;
  localAs: number;
  peerAs: number;
  /** RFC 4271 §8.2.2 state name ('Idle' ... 'Established'), or 'no-address' when the uplink has no address. */
  state: string;
  established: boolean;
  /** Milliseconds in Established, null when not established. */
  uptimeMs: number | null;
  /** Times the session left Established since the agent started. */
  flaps: number;
  peerRouterId: string | null;
  /** Negotiated multiprotocol families ('l2vpn-evpn'), empty when not established. */
  families: string[];
  /** Negotiated capabilities ('four-octet-as', 'route-refresh', 'enhanced-route-refresh', 'graceful-restart'). */
  capabilities: string[];
  /** Negotiated hold time / keepalive (s) when established, else the configured ones. */
  holdTime: number;
  keepalive: number;
  bfd: BfdInfo | null;
  routes: NeighborRoutes;
  lastError: LastErrorInfo | null;
  /** Session authentication: 'md5' (RFC 2385), 'tcp-ao' (RFC 5925) or null. Never the secret. */
  auth?: 'md5' | 'tcp-ao' | null;
  /** RFC 5082 GTSM: the most hops the peer may be away; null when off. */
  ttlSecurity?: number | null;
}

export interface BfdInfo {
  /** RFC 5880 state: 'AdminDown' | 'Down' | 'Init' | 'Up'. */
  state: string;
  remoteState: string;
  /** Local diagnostic name, e.g. 'ControlDetectionTimeExpired'. */
  diag: string;
  txIntervalMs: number;
  detectTimeMs: number;
}

export interface NeighborRoutes {
  /** Reach NLRI received (cumulative). */
  received: number;
  /** Received NLRI that passed the import policy (cumulative). */
  accepted: number;
  /** Rejected by the import policy, per reason (cumulative). */
  rejected: Record<string, number>;
  /** Withdrawn NLRI received (cumulative). */
  withdrawn: number;
  /** Paths held now in this session's Adj-RIB-In. */
  paths: number;
  /** Loc-RIB entries whose best path came over this session. */
  best: number;
  /** Routes we advertise over this session. */
  advertised: number;
}

export interface LastErrorInfo {
  /** NOTIFICATION error code and subcode (RFC 4271 §4.5), null when the session ended without one. */
  code: number | null;
  subcode: number | null;
  /** e.g. "Hold Timer Expired / Unspecific"; null without a NOTIFICATION. */
  notification: string | null;
  text: string;
}

// --- show routes -----------------------------------------------------------------

/** The `routes` params (checked by the schema in protocol.ts). */
export type { RouteFilter } from './protocol.js';
import type { RouteFilter } from './protocol.js';

/** One Loc-RIB entry: every path for (VNI, MAC, IP). */
export interface RouteInfo {
  vni: number;
  mac: string;
  ip: string | null;
  paths: PathInfo[];
  /** Why the best path won over the runner-up ('local-pref 200 > 100', 'only path', ...). */
  bestReason: string | null;
  /**
   * Present (true) when the MAC is marked duplicate in this VNI (RFC 7432 §15.1,
   * docs/agent.md "Duplicate detection"): we do not announce it until
   * `evpn-ha clear duplicate` or the freeze time lifts it. A duplicate MAC without
   * remote paths is listed with `paths: []`.
   */
  duplicate?: true;
}

/** `clear duplicate`: the (VNI, MAC) pairs whose duplicate flag was lifted (empty: none was marked). */
export interface ClearDuplicateResult {
  cleared: Array<{ vni: number; mac: string }>;
}

export interface PathInfo {
  /** The uplink (network) the path was learned over. */
  network: string;
  peer: string;
  nextHop: string;
  rd: string;
  routeTargets: string[];
  localPref: number;
  /** MAC Mobility sequence (RFC 7432 §7.7), 0 when absent. */
  macMobilitySeq: number;
  originatorId: string | null;
  /** The VTEP probe's state for (network, next hop); 'not-probed' without a prober or target. */
  vtep: string;
  /** False while the probe says the VTEP is unreachable over this network. */
  eligible: boolean;
  best: boolean;
}

// --- show kernel -----------------------------------------------------------------

/**
 * 'ok': the kernel holds what we want. 'missing': nothing there. 'different':
 * something else there (other MAC / dst, or not marked as ours). 'extra': ours,
 * not wanted. 'conflict': a foreign static entry we leave alone.
 */
export type KernelStatus = 'ok' | 'missing' | 'different' | 'extra' | 'conflict';

export const KERNEL_STATUSES: readonly KernelStatus[] = ['ok', 'missing', 'different', 'extra', 'conflict'];

export interface KernelEntryInfo {
  kind: 'neigh' | 'fdb';
  /** Bridge (neigh) or vxlan device (fdb). */
  device: string;
  ip: string | null;
  mac: string;
  status: KernelStatus;
  /** What the agent wants there; null for 'extra'. */
  desired: KernelEntry | null;
  /** What the kernel holds there now. */
  observed: ObservedEntry[];
}

export interface KernelInfo {
  /** NDA_PROTOCOL that marks our entries. */
  protocol: number;
  /** False while entries of a previous run are kept (waiting for End-of-RIB). */
  staleGateOpen: boolean;
  /** 'agent' (the agent's view, kept current by events) or 'dump' (read from the kernel for this request). */
  source: 'agent' | 'dump';
  counts: Record<KernelStatus, number>;
  entries: KernelEntryInfo[];
  /**
   * How remote MACs are programmed: 'nexthop-groups' (the vxlan FDB entry points at an
   * FDB nexthop group, `nhid`) or 'dst' (per-entry remote). Absent from older agents.
   */
  fdbMode?: 'nexthop-groups' | 'dst';
  /** Why that mode (e.g. the kernel lacks FDB nexthops, or kernel.nexthopGroups is false). */
  fdbModeReason?: string;
  /** Our FDB nexthops and nexthop groups, wanted or owned. */
  nexthops?: NexthopEntryInfo[];
}

/** An FDB nexthop (`via` a remote VTEP) or an FDB nexthop group of ours (docs/kernel.md). */
export interface NexthopEntryInfo {
  id: number;
  kind: 'nexthop' | 'group';
  status: KernelStatus;
  /** The remote VTEP of a nexthop; null for a group. */
  dst: string | null;
  /** Member ids of a group; null for a nexthop. */
  members: number[] | null;
  /** MACs whose FDB entry points at this group (groups only). */
  macs?: number;
  desired: KernelEntry | null;
  observed: ObservedNexthop | null;
}

// --- show vteps ------------------------------------------------------------------

export interface VtepInfo {
  network: string;
  localVtep: string | null;
  remoteVtep: string;
  /** 'unknown' | 'up' | 'down' | 'holddown' (docs/probe.md), or 'not-probed'. */
  state: string;
  eligible: boolean;
  rttMs: number | null;
  srttMs: number | null;
  /** Milliseconds since the last reply, null if none. */
  lastReplyAgoMs: number | null;
  /** Milliseconds in the current state. */
  sinceMs: number | null;
  sent: number;
  replies: number;
  /** Paths in the RIB using this next hop over this network. */
  paths: number;
}

// --- reload ----------------------------------------------------------------------

export interface ReloadResult {
  ok: boolean;
  message: string;
}

// --- events ----------------------------------------------------------------------

/**
 * Why traffic for a (VNI, MAC, IP) moved to another VTEP or network:
 * 'session-down' the old path's BGP session went down; 'bfd-down' ... because BFD
 * said so; 'vtep-unreachable' the probe found the old VTEP unreachable; 'withdrawn'
 * the old path was withdrawn by the peer; 'failback' a better path (higher
 * local-pref, or reachable again) returned; 'mac-moved' a higher MAC Mobility
 * sequence; 'other' anything else.
 */
export type FailoverCause = 'session-down' | 'bfd-down' | 'vtep-unreachable' | 'withdrawn' | 'failback' | 'mac-moved' | 'other';

export const FAILOVER_CAUSES: readonly FailoverCause[] = ['session-down', 'bfd-down', 'vtep-unreachable', 'withdrawn', 'failback', 'mac-moved', 'other'];

/** A 'kernel' event carries at most this many ops and failures; the rest are counted. */
export const MAX_EVENT_OPS = 100;

export type ControlEventBody =
  | Exclude<AgentEvent, { type: 'kernel' | 'best-path' }>
  /** The agent's best-path event with its reason as text ('local-pref 200 > 100', 'only path', 'withdrawn', ...). */
  | (Omit<Extract<AgentEvent, { type: 'best-path' }>, 'reason'> & { reason: string })
  /**
   * Kernel writes. When a batch is bigger than MAX_EVENT_OPS, `ops` and `failed` are cut:
   * `opsOmitted` / `failedOmitted` say how many were left out, `failedCounts` counts every failure by op and errno.
   */
  | (Extract<AgentEvent, { type: 'kernel' }> & {
    opsOmitted?: number; failedOmitted?: number; failedCounts?: Array<{ op: 'replace' | 'delete'; code: string; count: number }>;
  })
  /** A best-path change that moved traffic to another network or VTEP (follows its 'best-path' event). */
  | { type: 'failover'; vni: number; mac: string; ip: string | null; from: PathSummary; to: PathSummary; cause: FailoverCause; reason: string }
  /** A VTEP probe state change (the same shape as the agent's own 'probe' event). */
  | { type: 'probe'; network: string; remoteVtep: string; from: string; to: string; reason: string; eligible: boolean; rttMs?: number | null | undefined }
  | { type: 'reload'; ok: boolean; message: string };

/** An event with the wall time (ISO 8601) it happened. */
export type ControlEvent = ControlEventBody & { time: string };

// --- the provider ----------------------------------------------------------------

/**
 * What the control server (and the metrics) need from the agent. agent-adapter.ts
 * implements it on the real Agent; tests use a fake.
 */
export interface ControlProvider {
  neighbors(): Promise<NeighborInfo[]>;
  routes(filter: RouteFilter): Promise<RouteInfo[]>;
  kernel(): Promise<KernelInfo>;
  vteps(): Promise<VtepInfo[]>;
  /** The same as SIGHUP. */
  reload(): Promise<ReloadResult>;
  /** `evpn-ha clear duplicate <mac> [--vni N]` (vni null: every VNI). */
  clearDuplicate?(mac: string, vni: number | null): Promise<ClearDuplicateResult>;
  /** Receive every event until the returned function is called. */
  subscribe(cb: (ev: ControlEvent) => void): () => void;
}

// --- wire protocol ---------------------------------------------------------------

export type ControlMethod = 'neighbors' | 'routes' | 'kernel' | 'vteps' | 'reload' | 'watch' | 'ping' | 'clear-duplicate';

export const CONTROL_METHODS: readonly ControlMethod[] = ['neighbors', 'routes', 'kernel', 'vteps', 'reload', 'watch', 'ping', 'clear-duplicate'];

export type ControlErrorCode = 'parse-error' | 'invalid-request' | 'unknown-method' | 'invalid-params' | 'internal-error';

/** A request line (checked by the schema in protocol.ts). */
export type { ControlRequest } from './protocol.js';

export type ControlResponse =
  | { id: number | string | null; result: unknown }
  | { id: number | string | null; error: { code: ControlErrorCode; message: string } };

/** Results per method, for the typed client. */
export interface ControlResults {
  neighbors: NeighborInfo[];
  routes: RouteInfo[];
  kernel: KernelInfo;
  vteps: VtepInfo[];
  reload: ReloadResult;
  ping: { pong: true; pid: number };
  watch: { watching: true };
  'clear-duplicate': ClearDuplicateResult;
}
