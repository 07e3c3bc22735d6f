// EVPN data types: ESIs, labels and the closed union of EVPN route types
// (RFC 7432 §7, RFC 9136 §3). Pure data, no codecs. Route distinguishers and
// extended communities are BGP's (bgp/types.ts).
import type { RouteDistinguisher } from '../bgp/types.js';

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

// EVPN routes travel in `NlriSet`s of kind 'evpn' (RFC 7432 §7, AFI 25 / SAFI 70);
// the codec is registered in nlri.ts.
declare module '../bgp/types.js' {
  interface NlriRouteKinds {
    evpn: EvpnRoute;
  }
}
