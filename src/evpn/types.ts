// EVPN data types: route distinguishers, extended communities and the closed
// union of EVPN route types (RFC 7432 §7, RFC 9136 §3). Pure data, no codecs.

/** RFC 4364 §4.2: the three RD types, plus any other type kept as its 6 value bytes. */
export type RouteDistinguisher =
  | { type: 0; asn: number; assigned: number } // 2-octet AS : 4-octet number
  | { type: 1; ip: string; assigned: number } // IPv4 address : 2-octet number
  | { type: 2; asn: number; assigned: number } // 4-octet AS : 2-octet number
  | { type: 'unknown'; typeCode: number; value: Uint8Array };

/** 10-octet Ethernet Segment Identifier (RFC 7432 §5) as colon-separated hex. */
export type Esi = string;
export const ZERO_ESI: Esi = '00:00:00:00:00:00:00:00:00:00';

/**
 * MPLS label fields as raw 24-bit values. For VXLAN (RFC 8365 §5.1.3) the VNI
 * fills all 24 bits; no shift is applied anywhere in the codec.
 */
export type Label = number;

/** RFC 7432 §7.1 Ethernet Auto-Discovery route (type 1). */
export interface EthernetAdRoute {
  type: 'ethernet-ad';
  rd: RouteDistinguisher;
  esi: Esi;
  ethernetTag: number;
  label: Label;
}

/** RFC 7432 §7.2 MAC/IP Advertisement route (type 2). */
export interface MacIpRoute {
  type: 'mac-ip';
  rd: RouteDistinguisher;
  esi: Esi;
  ethernetTag: number;
  mac: string; // aa:bb:cc:dd:ee:ff
  ip: string | null; // IPv4, IPv6 or null (MAC only)
  label1: Label;
  label2: Label | null; // RFC 9135 L3 VNI, when present
}

/** RFC 7432 §7.3 Inclusive Multicast Ethernet Tag route (type 3). */
export interface InclusiveMulticastRoute {
  type: 'inclusive-multicast';
  rd: RouteDistinguisher;
  ethernetTag: number;
  originatorIp: string;
}

/** RFC 7432 §7.4 Ethernet Segment route (type 4). */
export interface EthernetSegmentRoute {
  type: 'ethernet-segment';
  rd: RouteDistinguisher;
  esi: Esi;
  originatorIp: string;
}

/** RFC 9136 §3.1 IP Prefix route (type 5). */
export interface IpPrefixRoute {
  type: 'ip-prefix';
  rd: RouteDistinguisher;
  esi: Esi;
  ethernetTag: number;
  prefix: string; // address part
  prefixLength: number;
  gatewayIp: string;
  label: Label;
}

/** RFC 7606 §5.4: an unknown route type is kept, not an error. */
export interface UnknownEvpnRoute {
  type: 'unknown';
  routeType: number;
  value: Uint8Array;
}

export type EvpnRoute =
  | EthernetAdRoute
  | MacIpRoute
  | InclusiveMulticastRoute
  | EthernetSegmentRoute
  | IpPrefixRoute
  | UnknownEvpnRoute;

/** Route type numbers on the wire, RFC 7432 §7 / RFC 9136. */
export const EVPN_ROUTE_TYPE = {
  'ethernet-ad': 1,
  'mac-ip': 2,
  'inclusive-multicast': 3,
  'ethernet-segment': 4,
  'ip-prefix': 5,
} as const;

export function routeTypeNumber(r: EvpnRoute): number {
  return r.type === 'unknown' ? r.routeType : EVPN_ROUTE_TYPE[r.type];
}

/** Extended communities (RFC 4360 and the EVPN/encapsulation RFCs). */
export type ExtCommunity =
  // RFC 4360 §4, RFC 5668 §2: route target in its three forms.
  | { kind: 'route-target'; form: 'as2'; asn: number; local: number }
  | { kind: 'route-target'; form: 'ip4'; ip: string; local: number }
  | { kind: 'route-target'; form: 'as4'; asn: number; local: number }
  // RFC 9012 §4.1: encapsulation; tunnelType 8 = VXLAN.
  | { kind: 'encapsulation'; tunnelType: number }
  // RFC 7432 §7.7: MAC mobility.
  | { kind: 'mac-mobility'; sequence: number; sticky: boolean }
  // RFC 7432 §7.8: default gateway.
  | { kind: 'default-gateway' }
  // RFC 9135 §8.1: EVPN router's MAC.
  | { kind: 'router-mac'; mac: string }
  // Anything else: the 8 bytes as received (type, subtype, value).
  | { kind: 'unknown'; bytes: Uint8Array };

export type RouteTarget = Extract<ExtCommunity, { kind: 'route-target' }>;
