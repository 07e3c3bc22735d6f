// Route Distinguisher codec and text forms (RFC 4364 §4.2).
//
//   +--------+--------+--------+--------+--------+--------+--------+--------+
//   |  Type (2 octets) |            Value (6 octets)                         |
//   +--------+--------+--------+--------+--------+--------+--------+--------+
//   type 0: 2-octet AS  : 4-octet assigned number
//   type 1: IPv4 address: 2-octet assigned number
//   type 2: 4-octet AS  : 2-octet assigned number
import { checkUint, toHex, u32At, type Reader, type Writer } from '../wire/bytes.js';
import { formatIpv4, ipv4Value, writeIpv4 } from '../wire/addr.js';
import type { RouteDistinguisher } from './types.js';

export const RD_LENGTH = 8;

/** Append the 8-byte RD. Throws RangeError on out-of-range fields (a programming error). */
export function encodeRd(w: Writer, rd: RouteDistinguisher): void {
  switch (rd.type) {
    case 0:
      checkUint(rd.asn, 0xffff, 'RD type 0 AS');
      checkUint(rd.assigned, 0xffffffff, 'RD type 0 assigned number');
      w.u16(0).u16(rd.asn).u32(rd.assigned);
      return;
    case 1:
      checkUint(rd.assigned, 0xffff, 'RD type 1 assigned number');
      writeIpv4(w.u16(1), rd.ip);
      w.u16(rd.assigned);
      return;
    case 2:
      checkUint(rd.asn, 0xffffffff, 'RD type 2 AS');
      checkUint(rd.assigned, 0xffff, 'RD type 2 assigned number');
      w.u16(2).u32(rd.asn).u16(rd.assigned);
      return;
    case 'unknown':
      checkUint(rd.typeCode, 0xffff, 'RD type');
      if (rd.value.length !== 6) throw new RangeError(`RD value must be 6 bytes, got ${rd.value.length}`);
      w.u16(rd.typeCode).bytes(rd.value);
      return;
  }
}

/** Read an 8-byte RD. A short reader throws WireUnderflow (the caller converts it). */
export function decodeRd(r: Reader): RouteDistinguisher {
  const p = r.pos;
  r.skip(RD_LENGTH);
  return readRd(r.buf, p);
}

/**
 * The RD at b[p..p+8]; the caller has checked the bounds. Exported for the
 * NLRI decoder's hot path, which indexes the buffer directly.
 */
export function readRd(b: Uint8Array, p: number): RouteDistinguisher {
  const hi = b[p]!;
  const lo = b[p + 1]!;
  if (hi === 0) {
    if (lo === 0) {
      return { type: 0, asn: (b[p + 2]! << 8) | b[p + 3]!, assigned: u32At(b, p + 4) };
    }
    if (lo === 1) {
      return {
        type: 1,
        ip: formatIpv4(b, p + 2),
        assigned: (b[p + 6]! << 8) | b[p + 7]!,
      };
    }
    if (lo === 2) {
      return { type: 2, asn: u32At(b, p + 2), assigned: (b[p + 6]! << 8) | b[p + 7]! };
    }
  }
  // RFC 4364 §4.2 defines types 0-2 only; anything else is kept as received.
  return { type: 'unknown', typeCode: (hi << 8) | lo, value: b.slice(p + 2, p + 8) };
}

/**
 * Text form as FRR and GoBGP print it: "65001:100", "192.168.1.87:100",
 * "4200000000:100". Note that a type 2 RD with a small AS prints like type 0
 * (as FRR does); `rdKey` keeps them apart.
 */
export function formatRd(rd: RouteDistinguisher): string {
  switch (rd.type) {
    case 0:
    case 2:
      return `${rd.asn}:${rd.assigned}`;
    case 1:
      return `${rd.ip}:${rd.assigned}`;
    case 'unknown':
      return `type${rd.typeCode}:0x${toHex(rd.value)}`;
  }
}

/** A string unique per RD value, for map keys ("0:65001:100", "2:65001:100", ...). */
export function rdKey(rd: RouteDistinguisher): string {
  return rd.type === 'unknown' ? formatRd(rd) : `${rd.type}:${formatRd(rd)}`;
}

/**
 * Parse "ASN:NN", "A.B.C.D:NN" or "ASNL:NN" (explicit 4-octet AS, Juniper style).
 * The type is chosen as RFC 4364 §4.2 allows: an AS above 65535 needs type 2
 * (assigned number ≤ 65535); otherwise type 0 (assigned number ≤ 2^32-1).
 */
export function parseRd(text: string): RouteDistinguisher {
  const colon = text.lastIndexOf(':');
  if (colon <= 0 || colon === text.length - 1) {
    throw new Error(`invalid route distinguisher "${text}": expected ASN:NN or A.B.C.D:NN`);
  }
  const admin = text.slice(0, colon);
  const assigned = parseDecimal(text.slice(colon + 1));
  if (assigned === null) throw new Error(`invalid route distinguisher "${text}": assigned number is not a decimal integer`);
  if (admin.includes('.')) {
    if (ipv4Value(admin) < 0) throw new Error(`invalid route distinguisher "${text}": "${admin}" is not an IPv4 address`);
    if (assigned > 0xffff) throw new Error(`invalid route distinguisher "${text}": IPv4 form allows an assigned number up to 65535`);
    return { type: 1, ip: admin, assigned };
  }
  const forced4 = admin.endsWith('L') || admin.endsWith('l');
  const asn = parseDecimal(forced4 ? admin.slice(0, -1) : admin);
  if (asn === null || asn > 0xffffffff) throw new Error(`invalid route distinguisher "${text}": "${admin}" is not an AS number`);
  if (forced4 || asn > 0xffff) {
    if (assigned > 0xffff) {
      throw new Error(`invalid route distinguisher "${text}": a 4-octet AS allows an assigned number up to 65535`);
    }
    return { type: 2, asn, assigned };
  }
  if (assigned > 0xffffffff) throw new Error(`invalid route distinguisher "${text}": assigned number above 4294967295`);
  return { type: 0, asn, assigned };
}

/** A decimal number of 1-10 digits (RD assigned numbers, route target values), or null. */
export function parseDecimal(s: string): number | null {
  if (!/^\d{1,10}$/.test(s)) return null;
  return Number(s);
}
