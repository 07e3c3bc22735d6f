// OPEN construction, validation and capability negotiation (RFC 4271 §4.2,
// §6.2; RFC 5492; RFC 6793; RFC 4760; RFC 2918; RFC 7313; RFC 4724).
import { AFI, AS_TRANS, SAFI, type Capability, type Family, type OpenMessage } from './types.js';
import { BgpError, ErrorCode, OpenSubcode } from './errors.js';
import { ipv4ToUint, isIpv4 } from '../wire/addr.js';

/** What this side brings to the OPEN exchange. Times are in seconds, as on the wire. */
export interface LocalBgpConfig {
  localAs: number;
  peerAs: number;
  routerId: string;
  /** Proposed hold time: 0 (no keepalives) or 3..65535. */
  holdTime: number;
  /** Keepalive interval upper bound; the negotiated one is min(this, hold / 3). */
  keepalive?: number;
  families: Family[];
  /**
   * RFC 4724: advertised only when given. `families` (default: all of `families`)
   * are the AFI/SAFIs whose state we claim to preserve; an empty list with restart
   * time 0 asks for End-of-RIB only: per §4.2 the peer must then remove our routes
   * at once when the session goes (no stale retention by a helper).
   */
  gracefulRestart: { restartTime: number; families?: Family[] } | false;
  /** RFC 7313 capability; advertised unless false. */
  enhancedRouteRefresh?: boolean;
}

/** The peer's RFC 4724 capability, as parsed. */
export interface PeerGracefulRestart {
  restartState: boolean;
  notification: boolean;
  restartTime: number;
  families: Array<{ afi: number; safi: number; forwardingPreserved: boolean }>;
}

/** The outcome of a successful OPEN exchange. Times are in seconds. */
export interface Negotiated {
  peerAs: number;
  peerRouterId: string;
  /** min(local, peer); 0 means no hold timer and no keepalives. */
  holdTime: number;
  /** 0 when holdTime is 0. */
  keepalive: number;
  /** Multiprotocol families both sides advertised (RFC 4760 §8). */
  families: Family[];
  fourOctetAs: boolean;
  routeRefresh: boolean;
  enhancedRouteRefresh: boolean;
  gracefulRestart: { local: boolean; peer: PeerGracefulRestart | null };
  peerCapabilities: Capability[];
  /** Things an operator should know that did not prevent the session (e.g. no common family). */
  notes: string[];
}

export const DEFAULT_FAMILIES: Family[] = [{ afi: AFI.L2VPN, safi: SAFI.Evpn }];

// Dotted quads: src/wire/addr.ts; re-exported for the BGP Identifier users.
export { isIpv4, ipv4ToUint };

export function isValidAsn(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 0xffffffff;
}

/** Throws RangeError on a configuration that cannot produce a valid OPEN. */
export function checkLocalConfig(c: LocalBgpConfig): void {
  if (!isValidAsn(c.localAs)) throw new RangeError(`local AS out of range: ${c.localAs}`);
  if (!isValidAsn(c.peerAs)) throw new RangeError(`peer AS out of range: ${c.peerAs}`);
  if (!isIpv4(c.routerId) || c.routerId === '0.0.0.0') throw new RangeError(`bad router ID: ${c.routerId}`);
  if (!Number.isInteger(c.holdTime) || c.holdTime < 0 || c.holdTime > 65535 || c.holdTime === 1 || c.holdTime === 2) {
    throw new RangeError(`hold time must be 0 or 3..65535 seconds: ${c.holdTime}`);
  }
  if (c.keepalive !== undefined && (!Number.isInteger(c.keepalive) || c.keepalive < 1 || c.keepalive > 21845)) {
    throw new RangeError(`keepalive must be 1..21845 seconds: ${c.keepalive}`);
  }
  if (c.gracefulRestart && (c.gracefulRestart.restartTime < 0 || c.gracefulRestart.restartTime > 4095)) {
    throw new RangeError(`graceful restart time must be 0..4095: ${c.gracefulRestart.restartTime}`);
  }
}

/** Our OPEN (RFC 4271 §4.2); AS_TRANS in My AS when the AS needs 4 octets (RFC 6793 §4.1). */
export function buildOpen(c: LocalBgpConfig): OpenMessage {
  const capabilities: Capability[] = c.families.map((f) => ({ kind: 'multiprotocol', afi: f.afi, safi: f.safi }));
  capabilities.push({ kind: 'route-refresh' });
  if (c.enhancedRouteRefresh !== false) capabilities.push({ kind: 'enhanced-route-refresh' });
  capabilities.push({ kind: 'four-octet-as', asn: c.localAs });
  if (c.gracefulRestart) {
    capabilities.push({
      kind: 'graceful-restart',
      restartState: false,
      notification: false,
      restartTime: c.gracefulRestart.restartTime,
      families: (c.gracefulRestart.families ?? c.families).map((f) => ({ afi: f.afi, safi: f.safi, forwardingPreserved: false })),
    });
  }
  return {
    type: 'open',
    version: 4,
    myAs: c.localAs > 0xffff ? AS_TRANS : c.localAs,
    holdTime: c.holdTime,
    bgpId: c.routerId,
    capabilities,
  };
}

function familyKey(f: Family): string {
  return `${f.afi}/${f.safi}`;
}

export function familyName(f: Family): string {
  if (f.afi === AFI.L2VPN && f.safi === SAFI.Evpn) return 'l2vpn-evpn';
  if (f.afi === AFI.IPv4 && f.safi === SAFI.Unicast) return 'ipv4-unicast';
  if (f.afi === AFI.IPv6 && f.safi === SAFI.Unicast) return 'ipv6-unicast';
  return `afi ${f.afi} safi ${f.safi}`;
}

/**
 * Validates the peer's OPEN in the order of RFC 4271 §6.2 and negotiates the
 * session parameters. Throws the BgpError that goes into the NOTIFICATION.
 */
export function negotiate(c: LocalBgpConfig, open: OpenMessage): Negotiated {
  if (open.version !== 4) {
    // Data: the largest supported version, 2 octets (RFC 4271 §6.2).
    throw new BgpError(ErrorCode.OpenMessage, OpenSubcode.UnsupportedVersionNumber, new Uint8Array([0, 4]),
      `peer speaks BGP version ${open.version}, only 4 is supported`);
  }
  const notes: string[] = [];
  const as4 = open.capabilities.find((cap) => cap.kind === 'four-octet-as');
  // RFC 6793 §4.1: with the capability the real AS is in the capability; My AS may be AS_TRANS.
  const peerAs = as4 ? as4.asn : open.myAs;
  if (as4 && open.myAs !== as4.asn && open.myAs !== AS_TRANS) {
    notes.push(`OPEN My AS ${open.myAs} differs from 4-octet AS capability ${as4.asn}; using the capability`);
  }
  if (peerAs !== c.peerAs) {
    throw new BgpError(ErrorCode.OpenMessage, OpenSubcode.BadPeerAs, new Uint8Array(0),
      `peer AS ${peerAs} is not the configured ${c.peerAs}`);
  }
  if (open.holdTime === 1 || open.holdTime === 2) {
    throw new BgpError(ErrorCode.OpenMessage, OpenSubcode.UnacceptableHoldTime, new Uint8Array(0),
      `unacceptable hold time ${open.holdTime}`);
  }
  if (!isIpv4(open.bgpId) || open.bgpId === '0.0.0.0') {
    throw new BgpError(ErrorCode.OpenMessage, OpenSubcode.BadBgpIdentifier, new Uint8Array(0),
      `bad BGP identifier ${open.bgpId}`);
  }
  // RFC 6286 §2.2: the identifiers must differ within an AS (iBGP); across ASes they may be equal.
  if (c.localAs === c.peerAs && open.bgpId === c.routerId) {
    throw new BgpError(ErrorCode.OpenMessage, OpenSubcode.BadBgpIdentifier, new Uint8Array(0),
      `peer BGP identifier ${open.bgpId} equals ours (iBGP)`);
  }

  const holdTime = Math.min(c.holdTime, open.holdTime);
  const keepalive = holdTime === 0 ? 0 : Math.max(1, Math.min(c.keepalive ?? Infinity, Math.floor(holdTime / 3)));

  const peerFamilies = new Set<string>();
  for (const cap of open.capabilities) if (cap.kind === 'multiprotocol') peerFamilies.add(familyKey(cap));
  const families = c.families.filter((f) => peerFamilies.has(familyKey(f)));
  if (families.length === 0) {
    notes.push(`no common address family (we offer ${c.families.map(familyName).join(', ') || 'none'}, ` +
      `peer offers ${[...peerFamilies].join(', ') || 'none'}): the session carries no routes`);
  }

  const peerGr = open.capabilities.find((cap) => cap.kind === 'graceful-restart');
  const has = (kind: Capability['kind']): boolean => open.capabilities.some((cap) => cap.kind === kind);
  return {
    peerAs,
    peerRouterId: open.bgpId,
    holdTime,
    keepalive,
    families,
    fourOctetAs: as4 !== undefined,
    routeRefresh: has('route-refresh'),
    enhancedRouteRefresh: c.enhancedRouteRefresh !== false && has('enhanced-route-refresh'),
    gracefulRestart: {
      local: c.gracefulRestart !== false,
      peer: peerGr
        ? {
            restartState: peerGr.restartState,
            notification: peerGr.notification,
            restartTime: peerGr.restartTime,
            families: peerGr.families.map((f) => ({ ...f })),
          }
        : null,
    },
    peerCapabilities: open.capabilities,
    notes,
  };
}

/** Which of two colliding connections survives (RFC 4271 §6.8). */
export type CollisionWinner = 'locally-initiated' | 'remotely-initiated';

/**
 * RFC 4271 §6.8: compare the BGP Identifiers as unsigned 32-bit integers. If
 * ours is lower, the connection we initiated is closed (the peer's survives);
 * otherwise the one the peer initiated is closed.
 */
export function resolveCollision(localId: string, peerId: string): CollisionWinner {
  return ipv4ToUint(localId) < ipv4ToUint(peerId) ? 'remotely-initiated' : 'locally-initiated';
}
