// The agent's ports and its plain data types (moved out of agent.ts): what the
// agent needs from a BGP session and from the VTEP prober, its options, and the
// per-uplink state and status. agent.ts re-exports the exported ones.
import type { Logger } from 'pino';
import type { Family, UpdateMessage } from '../bgp/types.js';
import type { EvpnRoute } from '../evpn/types.js';
import type { KernelPort } from '../kernel/port.js';
import type { LocalUplink, ProbeStateEvent, ProbeTarget, ProbeTargetStatus } from '../probe/prober.js';
import type { Clock } from '../util/clock.js';
import type { TcpAuth } from '../net/sockopt-wire.js';
import type { Config, UplinkConfig } from './config.js';
import type { Advertisement } from './origination.js';
import type { ImportPolicy, PeerInfo, PolicyCounters } from './policy.js';

// --- what the agent needs from a BGP session ---------------------------------------

/** Everything a session needs to know, resolved from the config and the links. */
export interface SessionSpec {
  uplink: string;
  peerAddress: string;
  peerPort: number;
  localAddress: string;
  localAs: number;
  peerAs: number;
  routerId: string;
  holdTime: number;
  keepalive: number;
  /** First reconnect delay, seconds. */
  connectRetry: number;
  passive: boolean;
  bfd: UplinkConfig['bfd'];
  /**
   * RFC 4724 capability to advertise (restart time, s; `families: []` for the
   * End-of-RIB-only form), or false.
   */
  gracefulRestart: { restartTime: number; families?: [] } | false;
  /** TCP-MD5 / TCP-AO with the peer (uplinks[].password, uplinks[].tcpAo), or null. */
  auth: TcpAuth | null;
  /** RFC 5082 GTSM hops (uplinks[].ttlSecurity), or null. */
  ttlSecurity: number | null;
}

/** What the session reports; the factory connects these to the session's events. */
export interface SessionHandlers {
  established(info: { peerRouterId: string }): void;
  down(reason: string): void;
  update(u: UpdateMessage): void;
  endOfRib(family: Family): void;
}

/**
 * The part of BgpSession the agent uses. The session keeps its Adj-RIB-Out and
 * sends it whole after each establishment (so advertise() before start() is fine).
 */
export interface AgentSession {
  start(): void;
  /** Cease / Administrative Shutdown. */
  stop(reason: string): Promise<void> | void;
  advertise(routes: Advertisement[]): void;
  withdraw(routes: EvpnRoute[]): void;
  /** Ask the peer to send its routes again (ROUTE-REFRESH); false if it cannot now. */
  refresh?(): boolean;
}

export type SessionFactory = (spec: SessionSpec, handlers: SessionHandlers) => AgentSession;

// --- what the agent needs from the VTEP prober (docs/probe.md) ---------------------

/** The part of VtepProber the agent uses (VtepProber fits as is). */
export interface AgentProber {
  start(): void;
  stop(): void;
  setUplinks(uplinks: LocalUplink[]): void;
  setTargets(targets: Iterable<ProbeTarget>): void;
  onStateChange(fn: (ev: ProbeStateEvent) => void): () => void;
  /** Per-target status, for `show` (optional). */
  status?(): ProbeTargetStatus[];
}

/** One prober per VNI: it sends from the VNI's bridge (service address and MAC). */
export interface ProberSpec {
  vni: number;
  serviceIp: string;
  bridgeMac: string;
  uplinks: LocalUplink[];
  interval: number;
  multiplier: number;
  holdDown: number;
  port: number;
}

export type ProberFactory = (spec: ProberSpec) => AgentProber;

export interface AgentOptions {
  config: Config;
  kernel: KernelPort;
  sessions: SessionFactory;
  /** VTEP probers (used when config vtepProbe is on); without it every path stays eligible. */
  probers?: ProberFactory;
  clock: Clock;
  logger?: Logger;
  /** Delay before recomputing origination after link/address events, ms (default 100). */
  linkDelay?: number;
  /** Delay before retrying failed kernel operations, ms (default 1000). */
  retryDelay?: number;
  /**
   * Best-path decisions per turn of the event loop after a large session loss or VTEP
   * verdict (default 1024); an operation touching at most this many paths is decided
   * at once.
   */
  ribChunk?: number;
}

export interface UplinkState {
  cfg: UplinkConfig;
  address: string | null;
  /** The router ID the session was created with. */
  routerId: string | null;
  session: AgentSession | null;
  /** Increases with each new session object, so events of an old one are ignored. */
  generation: number;
  peer: PeerInfo | null;
  policy: ImportPolicy;
  advertised: Advertisement[];
  upSince: number | null;
  /** When the session's initial table ended (End-of-RIB received), null before (and while down). */
  tableAt: number | null;
  flaps: number;
}

export interface UplinkStatus {
  name: string;
  peer: string;
  address: string | null;
  state: 'established' | 'idle' | 'no-address';
  upSince: number | null;
  flaps: number;
  pathsReceived: number;
  advertised: number;
  counters: PolicyCounters;
}
