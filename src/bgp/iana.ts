// IANA code points used by the BGP codecs, as const objects. Message types and
// NOTIFICATION codes live in types.ts / errors.ts; this file holds the rest.
import type { Family } from './types.js';

/** Path attribute type codes (IANA "BGP Path Attributes"). */
export const AttrType = {
  Origin: 1, // RFC 4271 §5.1.1
  AsPath: 2, // RFC 4271 §5.1.2
  NextHop: 3, // RFC 4271 §5.1.3
  MultiExitDisc: 4, // RFC 4271 §5.1.4
  LocalPref: 5, // RFC 4271 §5.1.5
  AtomicAggregate: 6, // RFC 4271 §5.1.6
  Aggregator: 7, // RFC 4271 §5.1.7
  Communities: 8, // RFC 1997
  OriginatorId: 9, // RFC 4456 §8
  ClusterList: 10, // RFC 4456 §8
  MpReachNlri: 14, // RFC 4760 §3
  MpUnreachNlri: 15, // RFC 4760 §4
  ExtendedCommunities: 16, // RFC 4360 §2
  As4Path: 17, // RFC 6793 §3
  As4Aggregator: 18, // RFC 6793 §3
  PmsiTunnel: 22, // RFC 6514 §5
} as const;

/** An attribute type's name as the RFCs write it ("PMSI_TUNNEL"), or "type N". */
export function attrTypeName(type: number): string {
  const names: Record<number, string> = {
    1: 'ORIGIN', 2: 'AS_PATH', 3: 'NEXT_HOP', 4: 'MULTI_EXIT_DISC', 5: 'LOCAL_PREF', 6: 'ATOMIC_AGGREGATE',
    7: 'AGGREGATOR', 8: 'COMMUNITIES', 9: 'ORIGINATOR_ID', 10: 'CLUSTER_LIST', 14: 'MP_REACH_NLRI',
    15: 'MP_UNREACH_NLRI', 16: 'EXTENDED_COMMUNITIES', 17: 'AS4_PATH', 18: 'AS4_AGGREGATOR', 22: 'PMSI_TUNNEL',
  };
  return names[type] ?? `type ${type}`;
}

/** Attribute Flags bits, RFC 4271 §4.3. */
export const AttrFlag = {
  Optional: 0x80,
  Transitive: 0x40,
  Partial: 0x20,
  ExtendedLength: 0x10,
} as const;

/** Capability codes (IANA "Capability Codes"). */
export const CapabilityCode = {
  Multiprotocol: 1, // RFC 4760 §8
  RouteRefresh: 2, // RFC 2918 §2
  ExtendedNextHop: 5, // RFC 8950 §3
  GracefulRestart: 64, // RFC 4724 §3
  FourOctetAs: 65, // RFC 6793 §3
  EnhancedRouteRefresh: 70, // RFC 7313 §3.1
} as const;

/** OPEN Optional Parameter types. */
export const OptParamType = {
  Capabilities: 2, // RFC 5492 §4
  ExtendedLength: 255, // RFC 9072 §2 (marker in the Non-Ext OP Type position)
} as const;

/** AS_PATH segment type codes, RFC 4271 §4.3 and RFC 5065 §3. */
export const AsPathSegmentCode = {
  set: 1,
  sequence: 2,
  'confed-sequence': 3,
  'confed-set': 4,
} as const;

/** PMSI tunnel types, RFC 6514 §5 (and RFC 7385 registry). */
export const PmsiTunnelType = {
  NoTunnelInformation: 0,
  RsvpTeP2mp: 1,
  MldpP2mp: 2,
  PimSsm: 3,
  PimSm: 4,
  BidirPim: 5,
  IngressReplication: 6,
  MldpMp2mp: 7,
} as const;

/** ROUTE-REFRESH Message Subtype, RFC 7313 §3.2. */
export const RouteRefreshSubtype = {
  Normal: 0,
  BeginningOfRouteRefresh: 1,
  EndOfRouteRefresh: 2,
} as const;

export const IPV4_UNICAST: Family = Object.freeze({ afi: 1, safi: 1 });
export const IPV6_UNICAST: Family = Object.freeze({ afi: 2, safi: 1 });
export const L2VPN_EVPN: Family = Object.freeze({ afi: 25, safi: 70 });

/** Human name of a family, e.g. "l2vpn-evpn" or "afi 3 safi 1". */
export function familyName(f: Family): string {
  if (f.afi === 1 && f.safi === 1) return 'ipv4-unicast';
  if (f.afi === 2 && f.safi === 1) return 'ipv6-unicast';
  if (f.afi === 25 && f.safi === 70) return 'l2vpn-evpn';
  return `afi ${f.afi} safi ${f.safi}`;
}

export function sameFamily(a: Family, b: Family): boolean {
  return a.afi === b.afi && a.safi === b.safi;
}
