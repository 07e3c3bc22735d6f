// EVPN NLRI codec (RFC 7432 §7, RFC 9136 §3.1), AFI 25 / SAFI 70.
//
//   +-----------------------------------+
//   |    Route Type (1 octet)           |
//   +-----------------------------------+
//   |     Length (1 octet)              |   octets of the route-type-specific part
//   +-----------------------------------+
//   | Route Type specific (variable)    |
//   +-----------------------------------+
//
// Labels are raw 24-bit values: with VXLAN the VNI fills all 24 bits
// (RFC 8365 §5.1.3), so no MPLS shift is applied in either direction.
//
// Error handling (RFC 7606): an unknown route type is kept as opaque data
// (RFC 7606 §5.4). A known route type whose length fields are inconsistent, or
// an NLRI running past the end of the attribute, cannot be reduced to a route
// that could be withdrawn, so treat-as-withdraw is not possible (RFC 7606 §5.3,
// last paragraph of §3) and RFC 4760 §7 applies: the session is reset with
// UPDATE Message Error / Optional Attribute Error (RFC 4271 §6.3). This module
// throws that BgpError and nothing else; docs/evpn.md has the details.
import { BgpError, ErrorCode, UpdateSubcode } from '../bgp/errors.js';
import { checkUint, toHex, u24At, u32At, WireUnderflow, type Reader, type Writer } from '../wire/bytes.js';
import { formatIpv4, formatIpv6, readMac, writeIpv4, writeMac } from '../wire/addr.js';
import { ESI_LENGTH, parseEsi, readEsi } from './esi.js';
import { encodeRd, rdKey, readRd } from '../bgp/rd.js';
import { registerNlriCodec, type NlriCodec } from '../bgp/nlri.js';
import { AFI, SAFI } from '../bgp/types.js';
import {
  ZERO_ESI,
  type Esi,
  type EthernetAdRoute,
  type EthernetSegmentRoute,
  type EvpnRoute,
  type InclusiveMulticastRoute,
  type IpPrefixRoute,
  type MacIpRoute,
} from './types.js';

/**
 * Append one EVPN NLRI (route type, length, value) to w. Throws RangeError on
 * an invalid route, leaving w as it was (nothing half-written).
 */
export function encodeEvpnRoute(w: Writer, route: EvpnRoute): void {
  const start = w.length;
  try {
    writeRoute(w, route);
  } catch (e) {
    w.length = start;
    throw e;
  }
}

function writeRoute(w: Writer, route: EvpnRoute): void {
  switch (route.type) {
    case 'ethernet-ad': {
      // RFC 7432 §7.1: RD(8) ESI(10) Ethernet Tag(4) MPLS Label(3)
      w.u8(1).u8(25);
      encodeRd(w, route.rd);
      writeEsi(w, route.esi);
      w.u32(checkUint(route.ethernetTag, 0xffffffff, 'Ethernet Tag'));
      w.u24(checkLabel(route.label));
      return;
    }
    case 'mac-ip': {
      // RFC 7432 §7.2: RD(8) ESI(10) Ethernet Tag(4) MAC Len(1) MAC(6)
      // IP Len(1) IP(0/4/16) MPLS Label1(3) [MPLS Label2(3)]
      w.u8(2);
      const at = w.reserve(1);
      encodeRd(w, route.rd);
      writeEsi(w, route.esi);
      w.u32(checkUint(route.ethernetTag, 0xffffffff, 'Ethernet Tag'));
      w.u8(48); // MAC Address Length is in bits, always 48
      writeMac(w, route.mac);
      if (route.ip === null) w.u8(0);
      else if (route.ip.includes(':')) w.u8(128).ipv6(route.ip);
      else writeIpv4(w.u8(32), route.ip);
      w.u24(checkLabel(route.label1));
      if (route.label2 !== null) w.u24(checkLabel(route.label2));
      w.patchLength(at, 1);
      return;
    }
    case 'inclusive-multicast': {
      // RFC 7432 §7.3: RD(8) Ethernet Tag(4) IP Len(1) Originating Router's IP(4/16)
      const v6 = route.originatorIp.includes(':');
      w.u8(3).u8(v6 ? 29 : 17);
      encodeRd(w, route.rd);
      w.u32(checkUint(route.ethernetTag, 0xffffffff, 'Ethernet Tag'));
      if (v6) w.u8(128).ipv6(route.originatorIp);
      else writeIpv4(w.u8(32), route.originatorIp);
      return;
    }
    case 'ethernet-segment': {
      // RFC 7432 §7.4: RD(8) ESI(10) IP Len(1) Originating Router's IP(4/16)
      const v6 = route.originatorIp.includes(':');
      w.u8(4).u8(v6 ? 35 : 23);
      encodeRd(w, route.rd);
      writeEsi(w, route.esi);
      if (v6) w.u8(128).ipv6(route.originatorIp);
      else writeIpv4(w.u8(32), route.originatorIp);
      return;
    }
    case 'ip-prefix': {
      // RFC 9136 §3.1: RD(8) ESI(10) Ethernet Tag(4) IP Prefix Len(1)
      // IP Prefix(4/16) GW IP(4/16) MPLS Label(3); 34 or 58 octets in total.
      const v6 = route.prefix.includes(':');
      if (route.gatewayIp.includes(':') !== v6) {
        throw new RangeError(`IP prefix route: gateway ${route.gatewayIp} and prefix ${route.prefix} differ in family`);
      }
      const max = v6 ? 128 : 32;
      if (!Number.isInteger(route.prefixLength) || route.prefixLength < 0 || route.prefixLength > max) {
        throw new RangeError(`IP prefix length out of range: ${route.prefixLength}`);
      }
      w.u8(5).u8(v6 ? 58 : 34);
      encodeRd(w, route.rd);
      writeEsi(w, route.esi);
      w.u32(checkUint(route.ethernetTag, 0xffffffff, 'Ethernet Tag'));
      w.u8(route.prefixLength);
      if (v6) w.ipv6(route.prefix).ipv6(route.gatewayIp);
      else {
        writeIpv4(w, route.prefix);
        writeIpv4(w, route.gatewayIp);
      }
      w.u24(checkLabel(route.label));
      return;
    }
    case 'unknown': {
      // RFC 7606 §5.4: kept opaque, re-encoded as received.
      if (route.value.length > 0xff) throw new RangeError(`EVPN NLRI value too long: ${route.value.length}`);
      w.u8(checkUint(route.routeType, 0xff, 'route type')).u8(route.value.length).bytes(route.value);
      return;
    }
  }
}

/**
 * Decode every EVPN NLRI from r's position to r.end; r.pos ends at r.end.
 * `withdraw` is true inside MP_UNREACH_NLRI, where the trailing label fields
 * of types 1, 2 and 5 may be absent (RFC 7432 gives them no meaning there);
 * a missing label decodes as 0 (and label2 as null).
 * Throws BgpError(UPDATE Message Error, Optional Attribute Error) on malformed input.
 */
export function decodeEvpnRoutes(r: Reader, withdraw: boolean): EvpnRoute[] {
  const b = r.buf;
  const end = r.end;
  let p = r.pos;
  const out: EvpnRoute[] = [];
  try {
    while (p < end) {
      if (end - p < 2) throw malformed(`truncated NLRI header (${end - p} octet left)`, p);
      const type = b[p]!;
      const len = b[p + 1]!;
      const v = p + 2;
      const next = v + len;
      if (next > end) throw malformed(`route type ${type} length ${len} runs past the attribute end by ${next - end} octets`, p);
      switch (type) {
        case 2: out.push(decodeMacIp(b, v, len, withdraw)); break;
        case 3: out.push(decodeInclusiveMulticast(b, v, len)); break;
        case 1: out.push(decodeEthernetAd(b, v, len, withdraw)); break;
        case 4: out.push(decodeEthernetSegment(b, v, len)); break;
        case 5: out.push(decodeIpPrefix(b, v, len, withdraw)); break;
        default:
          // RFC 7606 §5.4: an unrecognized route type is not an error.
          out.push({ type: 'unknown', routeType: type, value: b.slice(v, next) });
      }
      p = next;
    }
  } catch (e) {
    // Defensive: nothing below uses Reader, but no WireUnderflow may leak.
    if (e instanceof WireUnderflow) throw malformed(e.message, p);
    throw e;
  }
  r.pos = end;
  return out;
}

// RFC 7432 §7.2
function decodeMacIp(b: Uint8Array, v: number, len: number, withdraw: boolean): MacIpRoute {
  if (len < 30) throw malformed(`MAC/IP route length ${len} < 30`, v - 2);
  const macBits = b[v + 22]!;
  if (macBits !== 48) throw malformed(`MAC/IP route MAC address length ${macBits} bits, expected 48`, v - 2);
  const ipBits = b[v + 29]!;
  const ipBytes = ipBits === 32 ? 4 : ipBits === 0 ? 0 : ipBits === 128 ? 16 : -1;
  if (ipBytes < 0) throw malformed(`MAC/IP route IP address length ${ipBits} bits, expected 0, 32 or 128`, v - 2);
  const labelAt = v + 30 + ipBytes;
  const labelBytes = len - 30 - ipBytes;
  if (labelBytes !== 3 && labelBytes !== 6 && !(withdraw && labelBytes === 0)) {
    throw malformed(`MAC/IP route length ${len} does not match IP length ${ipBits} bits plus one or two labels`, v - 2);
  }
  const mac = readMac(b, v + 23);
  const ipAt = v + 30;
  const ip = ipBytes === 4
    ? formatIpv4(b, ipAt)
    : ipBytes === 16 ? formatIpv6(b, ipAt) : null;
  return {
    type: 'mac-ip',
    rd: readRd(b, v),
    esi: readEsi(b, v + 8),
    ethernetTag: u32At(b, v + 18),
    mac,
    ip,
    label1: labelBytes >= 3 ? u24At(b, labelAt) : 0,
    label2: labelBytes === 6 ? u24At(b, labelAt + 3) : null,
  };
}

// RFC 7432 §7.1
function decodeEthernetAd(b: Uint8Array, v: number, len: number, withdraw: boolean): EthernetAdRoute {
  if (len !== 25 && !(withdraw && len === 22)) throw malformed(`Ethernet A-D route length ${len}, expected 25`, v - 2);
  return {
    type: 'ethernet-ad',
    rd: readRd(b, v),
    esi: readEsi(b, v + 8),
    ethernetTag: u32At(b, v + 18),
    label: len === 25 ? u24At(b, v + 22) : 0,
  };
}

// RFC 7432 §7.3
function decodeInclusiveMulticast(b: Uint8Array, v: number, len: number): InclusiveMulticastRoute {
  const ip = readSizedIp(b, v + 12, len - 13, 'Inclusive Multicast route', v - 2);
  return { type: 'inclusive-multicast', rd: readRd(b, v), ethernetTag: u32At(b, v + 8), originatorIp: ip };
}

// RFC 7432 §7.4
function decodeEthernetSegment(b: Uint8Array, v: number, len: number): EthernetSegmentRoute {
  const ip = readSizedIp(b, v + 18, len - 19, 'Ethernet Segment route', v - 2);
  return { type: 'ethernet-segment', rd: readRd(b, v), esi: readEsi(b, v + 8), originatorIp: ip };
}

/**
 * An "IP Address Length (bits) + address" pair where `avail` octets follow the
 * length octet; RFC 7432 §7.3/§7.4 allow 32 or 128 bits and nothing else.
 */
function readSizedIp(b: Uint8Array, at: number, avail: number, what: string, nlriAt: number): string {
  if (avail < 0) throw malformed(`${what} too short`, nlriAt);
  const bits = b[at]!;
  if (bits === 32 && avail === 4) return formatIpv4(b, at + 1);
  if (bits === 128 && avail === 16) return formatIpv6(b, at + 1);
  throw malformed(`${what} IP length ${bits} bits does not match ${avail} octets of address`, nlriAt);
}

// RFC 9136 §3.1: the family follows from the total length, 34 (IPv4) or 58 (IPv6).
function decodeIpPrefix(b: Uint8Array, v: number, len: number, withdraw: boolean): IpPrefixRoute {
  const labelled = len === 34 || len === 58;
  if (!labelled && !(withdraw && (len === 31 || len === 55))) {
    throw malformed(`IP Prefix route length ${len}, expected 34 or 58`, v - 2);
  }
  const v6 = len > 34;
  const plen = b[v + 22]!;
  if (plen > (v6 ? 128 : 32)) throw malformed(`IP Prefix route prefix length ${plen} too long`, v - 2);
  const at = v + 23;
  const size = v6 ? 16 : 4;
  return {
    type: 'ip-prefix',
    rd: readRd(b, v),
    esi: readEsi(b, v + 8),
    ethernetTag: u32At(b, v + 18),
    prefix: v6 ? formatIpv6(b, at) : formatIpv4(b, at),
    prefixLength: plen,
    gatewayIp: v6 ? formatIpv6(b, at + 16) : formatIpv4(b, at + 4),
    label: labelled ? u24At(b, at + 2 * size) : 0,
  };
}

/** RFC 4271 §6.3 / RFC 4760 §7: malformed NLRI inside MP_(UN)REACH_NLRI. */
function malformed(detail: string, offset: number): BgpError {
  return new BgpError(
    ErrorCode.UpdateMessage,
    UpdateSubcode.OptionalAttributeError,
    new Uint8Array(0),
    `malformed EVPN NLRI at offset ${offset}: ${detail}`,
  );
}

const ZERO_ESI_BYTES = new Uint8Array(ESI_LENGTH);

function writeEsi(w: Writer, esi: Esi): void {
  w.bytes(esi === ZERO_ESI ? ZERO_ESI_BYTES : parseEsi(esi));
}

function checkLabel(v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffff) throw new RangeError(`label/VNI out of 24-bit range: ${v}`);
  return v;
}

/**
 * A canonical string that identifies the route, for maps. It holds exactly the
 * fields that BGP route key processing considers part of the prefix, so a
 * re-advertisement with another label (or, for types 2 and 5, another ESI)
 * replaces the earlier one instead of adding a second route:
 *  - type 1, RFC 7432 §7.1: RD, ESI, Ethernet Tag (not the label);
 *  - type 2, RFC 7432 §7.2: RD, Ethernet Tag, MAC, IP (not ESI, labels);
 *  - type 3, RFC 7432 §7.3: RD, Ethernet Tag, originator IP;
 *  - type 4, RFC 7432 §7.4: RD, ESI, originator IP;
 *  - type 5, RFC 9136 §3.1: RD, Ethernet Tag, prefix length, prefix (not ESI, gateway, label);
 *  - unknown types: route type and the whole value.
 * Text fields are assumed canonical (as the decoder and the builders here produce them).
 */
export function routeKey(route: EvpnRoute): string {
  switch (route.type) {
    case 'ethernet-ad':
      return `1|${rdKey(route.rd)}|${route.esi}|${route.ethernetTag}`;
    case 'mac-ip':
      return `2|${rdKey(route.rd)}|${route.ethernetTag}|${route.mac}|${route.ip ?? ''}`;
    case 'inclusive-multicast':
      return `3|${rdKey(route.rd)}|${route.ethernetTag}|${route.originatorIp}`;
    case 'ethernet-segment':
      return `4|${rdKey(route.rd)}|${route.esi}|${route.originatorIp}`;
    case 'ip-prefix':
      return `5|${rdKey(route.rd)}|${route.ethernetTag}|${route.prefix}/${route.prefixLength}`;
    case 'unknown':
      return `${route.routeType}|${toHex(route.value)}`;
  }
}

/** The L2VPN/EVPN family's NLRI codec (RFC 7432 §7, AFI 25 / SAFI 70), registered with bgp/. */
export const EVPN_NLRI: NlriCodec<'evpn'> = {
  kind: 'evpn',
  afi: AFI.L2VPN,
  safi: SAFI.Evpn,
  name: 'EVPN',
  decode: decodeEvpnRoutes,
  encode: encodeEvpnRoute,
  key: routeKey,
};

registerNlriCodec(EVPN_NLRI);
