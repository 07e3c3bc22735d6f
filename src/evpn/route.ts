// Building, keying and describing EVPN routes (used by the CLI and the agent).
import { checkUint, toHex } from '../wire/bytes.js';
import { normalizeIp, normalizeMac } from '../wire/addr.js';
import { normalizeEsi } from './esi.js';
import { formatRd, parseRd } from '../bgp/rd.js';
import { ZERO_ESI, type Esi, type EvpnRoute, type InclusiveMulticastRoute, type MacIpRoute } from './types.js';
import { type RouteDistinguisher } from '../bgp/types.js';

export interface MacIpRouteInput {
  /** An RD value or its text ("192.168.1.87:100"). */
  rd: RouteDistinguisher | string;
  mac: string;
  /** IPv4, IPv6 or null for a MAC-only route. */
  ip: string | null;
  /** Carried in MPLS Label1 as a raw 24-bit value (RFC 8365 §5.1.3). */
  vni: number;
  esi?: Esi;
  ethernetTag?: number;
}

/**
 * A type 2 route in canonical form (lowercase MAC, RFC 5952 IPv6 text), so that
 * its routeKey equals that of the same route decoded from the wire.
 * Throws Error/RangeError on bad input.
 */
export function macIpRoute(input: MacIpRouteInput): MacIpRoute {
  return {
    type: 'mac-ip',
    rd: toRd(input.rd),
    esi: input.esi === undefined ? ZERO_ESI : normalizeEsi(input.esi),
    ethernetTag: checkUint(input.ethernetTag ?? 0, 0xffffffff, 'Ethernet Tag'),
    mac: normalizeMac(input.mac),
    ip: input.ip === null ? null : normalizeIp(input.ip),
    label1: checkVni(input.vni),
    label2: null,
  };
}

export interface InclusiveMulticastRouteInput {
  rd: RouteDistinguisher | string;
  originatorIp: string;
  ethernetTag?: number;
}

/** A type 3 route (RFC 7432 §7.3); with VXLAN the VNI goes in the PMSI tunnel attribute. */
export function inclusiveMulticastRoute(input: InclusiveMulticastRouteInput): InclusiveMulticastRoute {
  return {
    type: 'inclusive-multicast',
    rd: toRd(input.rd),
    ethernetTag: checkUint(input.ethernetTag ?? 0, 0xffffffff, 'Ethernet Tag'),
    originatorIp: normalizeIp(input.originatorIp),
  };
}

// routeKey, the route's identity, is the NLRI codec's (nlri.ts); kept importable from here.
export { routeKey } from './nlri.js';

/**
 * One line in the style of FRR's "show bgp l2vpn evpn", e.g.
 * "[2]:[0]:[48]:[aa:bb:cc:dd:ee:ff]:[32]:[192.168.0.87] rd 192.168.1.87:100 vni 100".
 */
export function describeRoute(route: EvpnRoute): string {
  switch (route.type) {
    case 'ethernet-ad':
      return `[1]:[${route.ethernetTag}]:[${route.esi}] rd ${formatRd(route.rd)} label ${route.label}`;
    case 'mac-ip': {
      let s = `[2]:[${route.ethernetTag}]:[48]:[${route.mac}]`;
      if (route.ip !== null) s += `:[${ipBits(route.ip)}]:[${route.ip}]`;
      s += ` rd ${formatRd(route.rd)} vni ${route.label1}`;
      if (route.label2 !== null) s += ` l3vni ${route.label2}`;
      if (route.esi !== ZERO_ESI) s += ` esi ${route.esi}`;
      return s;
    }
    case 'inclusive-multicast':
      return `[3]:[${route.ethernetTag}]:[${ipBits(route.originatorIp)}]:[${route.originatorIp}] rd ${formatRd(route.rd)}`;
    case 'ethernet-segment':
      return `[4]:[${route.esi}]:[${ipBits(route.originatorIp)}]:[${route.originatorIp}] rd ${formatRd(route.rd)}`;
    case 'ip-prefix': {
      let s = `[5]:[${route.ethernetTag}]:[${route.prefixLength}]:[${route.prefix}] rd ${formatRd(route.rd)}`;
      s += ` gw ${route.gatewayIp} label ${route.label}`;
      if (route.esi !== ZERO_ESI) s += ` esi ${route.esi}`;
      return s;
    }
    case 'unknown':
      return `[${route.routeType}]:[${toHex(route.value)}]`;
  }
}

function toRd(rd: RouteDistinguisher | string): RouteDistinguisher {
  return typeof rd === 'string' ? parseRd(rd) : rd;
}

function ipBits(ip: string): number {
  return ip.includes(':') ? 128 : 32;
}

function checkVni(v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffff) throw new RangeError(`VNI out of 24-bit range: ${v}`);
  return v;
}
