// What the rest of the program sees of BFD: the `bfd:` options, the session's
// events and snapshot, and the BfdService / BfdSessionHandle interfaces that both
// the in-process BfdManager (manager.ts) and the BFD process host (host.ts)
// implement. No sockets, no timers.

import { isIpv4, isIpv6, normalizeIp } from '../wire/addr.js';
import type { EventEmitter } from 'node:events';
import type { Diag, SessionState } from './packet.js';
import type { BfdTimers } from './fsm.js';

/** RFC 5881 §4: destination port of single-hop Control packets. */
export const BFD_SINGLE_HOP_PORT = 3784;
/** RFC 5883 §5: destination port of multihop Control packets. */
export const BFD_MULTIHOP_PORT = 4784;
/** RFC 5881 §4: source port range. */
export const BFD_SOURCE_PORT_MIN = 49152;
export const BFD_SOURCE_PORT_MAX = 65535;
/** RFC 5881 §5: single-hop packets are sent with TTL / Hop Limit 255. */
export const BFD_TTL = 255;

/** The uplink `bfd:` block (docs/bfd.md). Intervals in milliseconds. */
export interface BfdOptions {
  /** Desired Min TX Interval once Up, ms (default 300). */
  minTx?: number;
  /** Required Min RX Interval, ms (default 300). */
  minRx?: number;
  /** Detect Mult (default 3). */
  multiplier?: number;
}

export const BFD_DEFAULTS: Readonly<Required<BfdOptions>> = { minTx: 300, minRx: 300, multiplier: 3 };

export interface BfdPeerConfig extends BfdOptions {
  /** Local address the session's sockets bind to (the uplink's address). */
  local: string;
  /** The peer's address (the route reflector). */
  remote: string;
  /** RFC 5883 multihop (port 4784) instead of RFC 5881 single hop (port 3784). */
  multihop?: boolean;
  /** Interface; used only as the scope of IPv6 link-local addresses (no SO_BINDTODEVICE in Node). */
  device?: string;
}

/** Convert the ms options into FSM timers (µs), filling defaults. */
export function toTimers(o: BfdOptions): BfdTimers {
  const minTx = o.minTx ?? BFD_DEFAULTS.minTx;
  const minRx = o.minRx ?? BFD_DEFAULTS.minRx;
  const multiplier = o.multiplier ?? BFD_DEFAULTS.multiplier;
  for (const [k, v] of [['minTx', minTx], ['minRx', minRx]] as const) {
    if (!Number.isFinite(v) || v < 1 || v > 4_294_967) throw new RangeError(`bfd.${k} ${v} ms out of range 1..4294967`);
  }
  if (!Number.isInteger(multiplier) || multiplier < 1 || multiplier > 255) {
    throw new RangeError(`bfd.multiplier ${multiplier} out of range 1..255`);
  }
  return { desiredMinTxUs: Math.round(minTx * 1000), requiredMinRxUs: Math.round(minRx * 1000), detectMult: multiplier };
}

/** Canonical text of an address for keys: lower-case, IPv6 compressed, IPv4-mapped unwrapped, no scope. */
export function canonicalAddress(a: string): string {
  let s = a.trim().toLowerCase();
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  if (s.startsWith('::ffff:') && isIpv4(s.slice(7))) return s.slice(7);
  if (isIpv6(s)) {
    const n = normalizeIp(s);
    // RFC 5952 §5 writes an IPv4-mapped address with a dotted quad: unwrap it too.
    return n.startsWith('::ffff:') && isIpv4(n.slice(7)) ? n.slice(7) : n;
  }
  return s;
}

export function sessionKey(local: string, remote: string, multihop = false): string {
  return `${canonicalAddress(local)}|${canonicalAddress(remote)}|${multihop ? 'mh' : 'sh'}`;
}

export interface BfdDownEvent {
  diag: Diag;
  /**
   * Operator-facing diag name, e.g. ControlDetectionTimeExpired; `BfdProcessExited`
   * when the BFD process (host.ts) died under an Up session.
   */
  diagName: string;
  /** How long the session had been Up, ms. */
  upForMs: number;
}

export interface BfdSessionInfo {
  local: string;
  remote: string;
  multihop: boolean;
  state: SessionState;
  remoteState: SessionState;
  diag: Diag;
  diagName: string;
  localDiscriminator: number;
  remoteDiscriminator: number;
  /** Negotiated transmit interval (before jitter), ms. */
  txIntervalMs: number;
  /** Current Detection Time, ms (0 before any packet was received). */
  detectTimeMs: number;
  remoteMinRxMs: number;
  remoteMinTxMs: number;
  remoteMultiplier: number;
  /** Source port of our packets (0 while the sockets are not open). */
  sourcePort: number;
  /** Clock time of the last transition to Up / out of Up (undefined if never). */
  lastUpAt: number | undefined;
  lastDownAt: number | undefined;
  counters: { txPackets: number; rxPackets: number; txErrors: number; upTransitions: number; downTransitions: number };
}

export interface BfdSessionEvents {
  /** Entered Up. */
  up: [];
  /**
   * Left Up for Down because the path failed (detection time expired, or the peer
   * reported Down): the client protocol (BGP) should go down at once (RFC 5882 §4.1).
   */
  down: [BfdDownEvent];
  /**
   * Left Up because the peer signalled AdminDown (diag NeighborSignaledSessionDown,
   * remote state AdminDown): not a path failure, so per RFC 5882 §3.2 the client
   * should NOT be taken down. Emitted instead of `down`.
   */
  peerAdminDown: [BfdDownEvent];
  /** Local AdminDown (adminDown() or close()). */
  adminDown: [];
  /** Every state transition, for logging and observability. */
  stateChange: [from: SessionState, to: SessionState, diag: Diag];
}

/**
 * The logger BFD writes to: the part of a pino Logger it uses. The BFD process
 * (child.ts) has a small one of its own instead of pino (~9 MiB less RSS).
 */
export interface BfdLog {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const silentLog: BfdLog = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

/** Counters of packets the demultiplexer dropped, by reason. */
export type BfdDropCounters = Record<string, number>;

/** One BFD session as its user (BGP wiring, show, metrics) sees it. */
export interface BfdSessionHandle extends EventEmitter<BfdSessionEvents> {
  readonly local: string;
  readonly remote: string;
  readonly multihop: boolean;
  readonly state: SessionState;
  readonly isUp: boolean;
  snapshot(): BfdSessionInfo;
  /** §6.8.16: take the session administratively down (the peer sees AdminDown, diag 7). */
  adminDown(): void;
  /** Leave AdminDown; the session comes back Up through the normal handshake. */
  adminUp(): void;
  /** Change timers; when Up a Poll Sequence applies them without a flap (§6.8.3). */
  setOptions(o: BfdOptions): void;
}

/** A set of BFD sessions: BfdManager (in this thread) or BfdHost (in a BFD process). */
export interface BfdService {
  /** Create (or return the existing, with its options updated) session to `cfg.remote` from `cfg.local`. Throws RangeError on bad options. */
  add(cfg: BfdPeerConfig): BfdSessionHandle;
  /** Remove a session; by default the peer is told AdminDown first so it does not see a failure. */
  remove(session: BfdSessionHandle, opts?: { adminDown?: boolean }): void;
  sessions(): BfdSessionHandle[];
  /** Remove every session; the host also stops its process (awaited). */
  close(opts?: { adminDown?: boolean }): void | Promise<void>;
  readonly drops: BfdDropCounters;
}
