// BGP message and path attribute types (RFC 4271 §4). Pure data: the codecs
// in message.ts / attributes.ts turn these into bytes and back.
import type { AttrError } from './errors.js';

export const AFI = { IPv4: 1, IPv6: 2, L2VPN: 25 } as const;
export const SAFI = { Unicast: 1, Evpn: 70 } as const;

export interface Family {
  afi: number;
  safi: number;
}

/** OPEN capabilities, RFC 5492 and the RFCs named per member. */
export type Capability =
  | { kind: 'multiprotocol'; afi: number; safi: number } // RFC 4760 §8, code 1
  | { kind: 'route-refresh' } // RFC 2918 §2, code 2
  | { kind: 'enhanced-route-refresh' } // RFC 7313 §3.1, code 70
  | { kind: 'four-octet-as'; asn: number } // RFC 6793 §3, code 65
  | {
      kind: 'graceful-restart'; // RFC 4724 §3, code 64
      restartState: boolean;
      notification: boolean; // RFC 8538 N bit
      restartTime: number;
      families: Array<{ afi: number; safi: number; forwardingPreserved: boolean }>;
    }
  | { kind: 'extended-next-hop'; entries: Array<{ afi: number; safi: number; nextHopAfi: number }> } // RFC 8950 §3, code 5
  | { kind: 'unknown'; code: number; value: Uint8Array }; // kept and ignored (RFC 5492 §3)

export interface OpenMessage {
  type: 'open';
  version: number;
  /** The 2-octet My Autonomous System field (AS_TRANS 23456 when the real AS needs 4 octets). */
  myAs: number;
  holdTime: number;
  bgpId: string;
  capabilities: Capability[];
}

export interface IpPrefix {
  prefix: string;
  length: number;
}

export type AsPathSegmentType = 'set' | 'sequence' | 'confed-sequence' | 'confed-set';

export interface AsPathSegment {
  type: AsPathSegmentType;
  asns: number[];
}

/** RFC 6514 §5 PMSI_TUNNEL attribute. */
export interface PmsiTunnel {
  flags: number;
  tunnelType: number; // 6 = ingress replication
  label: number; // raw 24 bits; for VXLAN the VNI (RFC 8365 §5.1.3)
  tunnelId: Uint8Array; // for ingress replication: the endpoint address bytes
}

/**
 * Route types of the registered address families by `NlriSet` kind. Empty here:
 * each family adds its own by declaration merging (evpn/types.ts adds
 * `evpn: EvpnRoute`) and registers its codec in nlri.ts.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface NlriRouteKinds {}
export type NlriKind = keyof NlriRouteKinds;
/** A route of any registered family. */
export type NlriRoute = NlriRouteKinds[NlriKind];

/** The NLRI carried in MP_REACH / MP_UNREACH, by family. */
export type NlriSet =
  | { [K in NlriKind]: { kind: K; routes: Array<NlriRouteKinds[K]> } }[NlriKind]
  | { kind: 'prefix'; prefixes: IpPrefix[] }
  | { kind: 'opaque'; bytes: Uint8Array };

export interface MpReach {
  afi: number;
  safi: number;
  /** One address, or global + link-local for IPv6 (RFC 2545 §3). */
  nextHop: string[];
  nlri: NlriSet;
}

export interface MpUnreach {
  afi: number;
  safi: number;
  nlri: NlriSet;
}

/** A route in an Adj-RIB-Out with what we say about it. */
export interface OutRoute {
  route: NlriRoute;
  nextHop: string;
  attributes: PathAttributes;
}

export interface UnknownAttribute {
  flags: number;
  typeCode: number;
  value: Uint8Array;
}

export type Origin = 0 | 1 | 2; // IGP, EGP, INCOMPLETE (RFC 4271 §5.1.1)

/** Decoded path attributes; absent means not present in the UPDATE. */
export interface PathAttributes {
  origin?: Origin;
  asPath?: AsPathSegment[];
  nextHop?: string;
  med?: number;
  localPref?: number;
  atomicAggregate?: boolean;
  aggregator?: { asn: number; ip: string };
  communities?: number[];
  originatorId?: string;
  clusterList?: string[];
  mpReach?: MpReach;
  mpUnreach?: MpUnreach;
  extCommunities?: ExtCommunity[];
  as4Path?: AsPathSegment[];
  as4Aggregator?: { asn: number; ip: string };
  pmsiTunnel?: PmsiTunnel;
  /** Unrecognized optional attributes, passed through with their flags. */
  unknown?: UnknownAttribute[];
}

export interface UpdateMessage {
  type: 'update';
  withdrawn: IpPrefix[];
  attributes: PathAttributes;
  nlri: IpPrefix[];
  /**
   * RFC 7606 outcomes found while decoding. If any has action 'withdraw', every
   * NLRI in this UPDATE (including MP_REACH) must be treated as withdrawn.
   */
  attrErrors?: AttrError[];
}

export interface NotificationMessage {
  type: 'notification';
  code: number;
  subcode: number;
  data: Uint8Array;
}

export interface KeepaliveMessage {
  type: 'keepalive';
}

/** RFC 2918 §3 / RFC 7313 §3.2 (subtype 0 normal, 1 BoRR, 2 EoRR). */
export interface RouteRefreshMessage {
  type: 'route-refresh';
  afi: number;
  safi: number;
  subtype: number;
}

export type Message = OpenMessage | UpdateMessage | NotificationMessage | KeepaliveMessage | RouteRefreshMessage;

/** Message type codes, RFC 4271 §4.1 and RFC 2918 §3. */
export const MessageType = { open: 1, update: 2, notification: 3, keepalive: 4, 'route-refresh': 5 } as const;

/** What decoding/encoding depends on, negotiated in OPEN. */
export interface CodecContext {
  /** RFC 6793: both sides advertised the 4-octet AS capability. */
  fourOctetAs: boolean;
}

export const BGP_MAX_MESSAGE = 4096; // RFC 4271 §4.1
export const BGP_HEADER_LENGTH = 19;
export const AS_TRANS = 23456; // RFC 6793 §9

/** RFC 4364 §4.2: the three RD types, plus any other type kept as its 6 value bytes. */
export type RouteDistinguisher =
  | { type: 0; asn: number; assigned: number } // 2-octet AS : 4-octet number
  | { type: 1; ip: string; assigned: number } // IPv4 address : 2-octet number
  | { type: 2; asn: number; assigned: number } // 4-octet AS : 2-octet number
  | { type: 'unknown'; typeCode: number; value: Uint8Array };

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
