// Extended communities codec (RFC 4360 §2) for the kinds EVPN uses; every
// other community is kept as its 8 bytes.
//
//   +--------+--------+--------+--------+--------+--------+--------+--------+
//   | Type   |Sub-type|                 Value (6 octets)                    |
//   +--------+--------+--------+--------+--------+--------+--------+--------+
import { BgpError, ErrorCode, UpdateSubcode } from './errors.js';
import { checkUint, toHex, u16At, u32At, type Reader, type Writer } from '../wire/bytes.js';
import { formatIpv4, ipv4Value, readMac, writeIpv4, writeMac } from '../wire/addr.js';
import { parseDecimal } from './rd.js';
import type { ExtCommunity, RouteTarget } from './types.js';

export const EXT_COMMUNITY_LENGTH = 8;

/** Tunnel types of RFC 9012 §4.1 / IANA "BGP Tunnel Encapsulation Attribute Tunnel Types". */
export const TunnelType = { VXLAN: 8, NVGRE: 9, MPLS: 10, MPLSoGRE: 11, VXLAN_GPE: 12, MPLSoUDP: 13, Geneve: 19 } as const;

const TUNNEL_NAMES: Record<number, string> = {
  8: 'VXLAN', 9: 'NVGRE', 10: 'MPLS', 11: 'MPLSoGRE', 12: 'VXLAN-GPE', 13: 'MPLSoUDP', 19: 'Geneve',
};

/** Write one 8-byte extended community. Throws RangeError on out-of-range fields, leaving w as it was. */
export function encodeExtCommunity(w: Writer, c: ExtCommunity): void {
  const start = w.length;
  try {
    writeCommunity(w, c);
  } catch (e) {
    w.length = start;
    throw e;
  }
}

function writeCommunity(w: Writer, c: ExtCommunity): void {
  switch (c.kind) {
    case 'route-target':
      switch (c.form) {
        case 'as2': // RFC 4360 §4: type 0x00 (2-octet AS specific), sub-type 0x02
          w.u8(0x00).u8(0x02).u16(checkUint(c.asn, 0xffff, 'route target AS')).u32(checkUint(c.local, 0xffffffff, 'route target local administrator'));
          return;
        case 'ip4': // RFC 4360 §4: type 0x01 (IPv4 address specific), sub-type 0x02
          writeIpv4(w.u8(0x01).u8(0x02), c.ip);
          w.u16(checkUint(c.local, 0xffff, 'route target local administrator'));
          return;
        case 'as4': // RFC 5668 §2: type 0x02 (4-octet AS specific), sub-type 0x02
          w.u8(0x02).u8(0x02).u32(checkUint(c.asn, 0xffffffff, 'route target AS')).u16(checkUint(c.local, 0xffff, 'route target local administrator'));
          return;
      }
      return;
    case 'encapsulation':
      // RFC 9012 §4.1: opaque type 0x03, sub-type 0x0c; 4 reserved octets, 2-octet tunnel type.
      w.u8(0x03).u8(0x0c).u32(0).u16(checkUint(c.tunnelType, 0xffff, 'tunnel type'));
      return;
    case 'mac-mobility':
      // RFC 7432 §7.7: type 0x06, sub-type 0x00; flags (low-order bit = sticky/static), reserved, sequence.
      w.u8(0x06).u8(0x00).u8(c.sticky ? 0x01 : 0x00).u8(0).u32(checkUint(c.sequence, 0xffffffff, 'MAC mobility sequence'));
      return;
    case 'default-gateway':
      // RFC 7432 §7.8: transitive opaque type 0x03, sub-type 0x0d; value zero when sent.
      w.u8(0x03).u8(0x0d).u32(0).u16(0);
      return;
    case 'router-mac':
      // RFC 9135 §8.1: type 0x06 (EVPN), sub-type 0x03, 6-octet MAC.
      writeMac(w.u8(0x06).u8(0x03), c.mac);
      return;
    case 'unknown':
      if (c.bytes.length !== EXT_COMMUNITY_LENGTH) {
        throw new RangeError(`extended community must be 8 bytes, got ${c.bytes.length}`);
      }
      w.bytes(c.bytes);
      return;
  }
}

/**
 * Read one 8-byte extended community. Fewer than 8 octets left throws
 * BgpError(UPDATE, Attribute Length Error); the attribute codec checks the
 * length is a multiple of 8 first (RFC 7606 §7.14) so this should not occur.
 */
export function decodeExtCommunity(r: Reader): ExtCommunity {
  if (r.end - r.pos < EXT_COMMUNITY_LENGTH) {
    throw new BgpError(
      ErrorCode.UpdateMessage,
      UpdateSubcode.AttributeLengthError,
      new Uint8Array(0),
      `extended community truncated: ${r.end - r.pos} octets left, 8 needed`,
    );
  }
  const b = r.buf;
  const p = r.pos;
  r.pos = p + EXT_COMMUNITY_LENGTH;
  const type = b[p]!;
  const sub = b[p + 1]!;
  switch (type) {
    case 0x00: // RFC 4360 §3.1 transitive two-octet AS specific
      if (sub === 0x02) return { kind: 'route-target', form: 'as2', asn: u16At(b, p + 2), local: u32At(b, p + 4) };
      break;
    case 0x01: // RFC 4360 §3.2 transitive IPv4 address specific
      if (sub === 0x02) {
        return { kind: 'route-target', form: 'ip4', ip: formatIpv4(b, p + 2), local: u16At(b, p + 6) };
      }
      break;
    case 0x02: // RFC 5668 §2 transitive four-octet AS specific
      if (sub === 0x02) return { kind: 'route-target', form: 'as4', asn: u32At(b, p + 2), local: u16At(b, p + 6) };
      break;
    case 0x03: // RFC 4360 §3.3 transitive opaque
      // RFC 9012 §4.1: the 4 reserved octets are ignored on receipt.
      if (sub === 0x0c) return { kind: 'encapsulation', tunnelType: u16At(b, p + 6) };
      // RFC 7432 §7.8: the value is reserved and not interpreted on receipt.
      if (sub === 0x0d) return { kind: 'default-gateway' };
      break;
    case 0x06: // RFC 7153 §5.2.1 EVPN
      // RFC 7432 §7.7: flags octet, reserved octet (ignored), 4-octet sequence number.
      if (sub === 0x00) return { kind: 'mac-mobility', sticky: (b[p + 2]! & 0x01) !== 0, sequence: u32At(b, p + 4) };
      if (sub === 0x03) return { kind: 'router-mac', mac: readMac(b, p + 2) };
      break;
  }
  return { kind: 'unknown', bytes: b.slice(p, p + EXT_COMMUNITY_LENGTH) };
}

/** "65001:100", "192.0.2.1:100", "4200000000:100" (as FRR and GoBGP print them). */
export function formatRouteTarget(rt: RouteTarget): string {
  return rt.form === 'ip4' ? `${rt.ip}:${rt.local}` : `${rt.asn}:${rt.local}`;
}

export interface ParseRouteTargetOptions {
  /** Use the 4-octet AS form (RFC 5668) even for an AS ≤ 65535. */
  as4?: boolean;
}

/**
 * Parse "ASN:NN" or "A.B.C.D:NN" (optionally prefixed "rt:" / "RT:"). The form
 * follows from the numbers: a dotted quad gives the IPv4 form (NN ≤ 65535); an
 * AS above 65535 (or `opts.as4`, or an "L" suffix as in "65001L:100") gives the
 * 4-octet AS form (NN ≤ 65535); otherwise the 2-octet AS form (NN ≤ 2^32-1).
 * Throws Error naming the problem.
 */
export function parseRouteTarget(text: string, opts: ParseRouteTargetOptions = {}): RouteTarget {
  const body = /^rt:/i.test(text) ? text.slice(3) : text;
  const colon = body.lastIndexOf(':');
  if (colon <= 0 || colon === body.length - 1) throw new Error(`invalid route target "${text}": expected ASN:NN or A.B.C.D:NN`);
  const admin = body.slice(0, colon);
  const local = parseDecimal(body.slice(colon + 1));
  if (local === null) throw new Error(`invalid route target "${text}": "${body.slice(colon + 1)}" is not a decimal number`);
  if (admin.includes('.')) {
    if (ipv4Value(admin) < 0) throw new Error(`invalid route target "${text}": "${admin}" is not an IPv4 address`);
    if (local > 0xffff) throw new Error(`invalid route target "${text}": IPv4 form allows a local value up to 65535`);
    return { kind: 'route-target', form: 'ip4', ip: admin, local };
  }
  const suffixL = /[lL]$/.test(admin);
  const asn = parseDecimal(suffixL ? admin.slice(0, -1) : admin);
  if (asn === null || asn > 0xffffffff) throw new Error(`invalid route target "${text}": "${admin}" is not an AS number`);
  if (asn > 0xffff || suffixL || opts.as4 === true) {
    if (local > 0xffff) throw new Error(`invalid route target "${text}": 4-octet AS form allows a local value up to 65535`);
    return { kind: 'route-target', form: 'as4', asn, local };
  }
  if (local > 0xffffffff) throw new Error(`invalid route target "${text}": local value above 4294967295`);
  return { kind: 'route-target', form: 'as2', asn, local };
}

/** Display text, close to FRR's "show bgp l2vpn evpn" ("RT:65001:100 ET:8 ..."). */
export function formatExtCommunity(c: ExtCommunity): string {
  switch (c.kind) {
    case 'route-target':
      return `RT:${formatRouteTarget(c)}`;
    case 'encapsulation': {
      const name = TUNNEL_NAMES[c.tunnelType];
      return name === undefined ? `ET:${c.tunnelType}` : `ET:${c.tunnelType}(${name})`;
    }
    case 'mac-mobility':
      return c.sticky ? `MM:${c.sequence}, sticky MAC` : `MM:${c.sequence}`;
    case 'default-gateway':
      return 'Default Gateway';
    case 'router-mac':
      return `Rmac:${c.mac}`;
    case 'unknown':
      return `0x${toHex(c.bytes)}`;
  }
}
