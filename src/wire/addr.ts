// IP and MAC addresses: the one module that parses, formats, compares and
// classifies them. IPv6 text is parsed and validated by the `ip-address`
// package (the design card's choice); the text forms are canonical so that two spellings of one
// address compare equal: MAC lower-case colon-separated, IPv4 dotted quad
// without leading zeros, IPv6 per RFC 5952 §4 with IPv4-mapped addresses
// (::ffff:0:0/96) written with a dotted quad as RFC 5952 §5 recommends
// (`::ffff:192.0.2.1`, never `::ffff:c000:201`).
//
// Hot paths keep byte-level code here instead of going through `ip-address`
// (IPv4 dotted quads are always parsed by char code, ipv4Value below)
// (which builds objects, regular expressions and BigInts per call and costs
// 10-50x more per address): formatting from bytes (NLRI decode, kernel event
// decode), the dotted-quad and canonical-MAC fast paths of the encoders, and
// the IPv4 branch of compareIp. Each produces exactly what the general path
// produces (test/unit/wire-addr.test.ts checks them against each other).
//  - readMac builds the text with one String.fromCharCode: a flat
//    17-character string instead of an 11-part template-literal rope that V8
//    flattens again when it is hashed as a map key (2-5x faster on Node 20);
//  - writeMac / writeIpv4 parse the canonical forms by char code and hand
//    anything else to Writer.mac / Writer.ipv4 (which throw RangeError).
import { Address6 } from 'ip-address';
import type { Writer } from './bytes.js';

/** An address that does not parse: a RangeError (name 'RangeError'), with the input in the message. */
export class AddressError extends RangeError {}

/** Char codes of '0'-'9', 'a'-'f'. */
const NIBBLE = [48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 97, 98, 99, 100, 101, 102];
const COLON = 58;

/** The 6-byte MAC at b[p..p+6] as aa:bb:cc:dd:ee:ff; the caller has checked the bounds. */
export function readMac(b: Uint8Array, p: number): string {
  const a0 = b[p]!, a1 = b[p + 1]!, a2 = b[p + 2]!, a3 = b[p + 3]!, a4 = b[p + 4]!, a5 = b[p + 5]!;
  const n = NIBBLE;
  return String.fromCharCode(
    n[a0 >> 4]!, n[a0 & 15]!, COLON,
    n[a1 >> 4]!, n[a1 & 15]!, COLON,
    n[a2 >> 4]!, n[a2 & 15]!, COLON,
    n[a3 >> 4]!, n[a3 & 15]!, COLON,
    n[a4 >> 4]!, n[a4 & 15]!, COLON,
    n[a5 >> 4]!, n[a5 & 15]!,
  );
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Six octets from "aa:bb:cc:dd:ee:ff" (or '-' separators, any case, any digit count via the fallback). */
export function writeMac(w: Writer, text: string): void {
  if (text.length === 17) {
    let hi = 0;
    let lo = 0;
    let ok = true;
    for (let i = 0; i < 6; i++) {
      const at = i * 3;
      const h = hexValue(text.charCodeAt(at));
      const l = hexValue(text.charCodeAt(at + 1));
      if (h < 0 || l < 0) { ok = false; break; }
      if (i < 5) {
        const sep = text.charCodeAt(at + 2);
        if (sep !== COLON && sep !== 45) { ok = false; break; }
      }
      if (i < 2) hi = (hi << 8) | (h << 4) | l;
      else lo = ((lo << 8) | (h << 4) | l) >>> 0;
    }
    if (ok) {
      w.u16(hi).u32(lo);
      return;
    }
  }
  w.mac(text);
}

/** Four octets from a dotted quad (1-3 decimal digits per part, each ≤ 255, as wire.ts accepts). */
export function writeIpv4(w: Writer, text: string): void {
  const v = ipv4Value(text);
  if (v >= 0) w.u32(v);
  else w.ipv4(text); // throws RangeError with the wire.ts message
}

/**
 * The address as an unsigned 32-bit number, or -1 if text is not a dotted quad
 * (four parts of 1-3 decimal digits, each <= 255, no leading zero). By char
 * code: the IPv4 parser of this module, on every encoder's hot path.
 */
export function ipv4Value(text: string): number {
  const n = text.length;
  if (n < 7 || n > 15) return -1;
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  let lead0 = false;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits === 1 && lead0) return -1;
      if (++digits > 3) return -1;
      if (digits === 1) lead0 = c === 48;
      part = part * 10 + (c - 48);
      if (part > 255) return -1;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + part;
}

/** The 4 bytes at b[p..p+4] as a dotted quad; the caller has checked the bounds. */
export function formatIpv4(b: Uint8Array, p = 0): string {
  return `${b[p]}.${b[p + 1]}.${b[p + 2]}.${b[p + 3]}`;
}

export function formatIpv6(b: Uint8Array, p: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((b[p + 2 * i]! << 8) | b[p + 2 * i + 1]!);
  // RFC 5952 §4.2: compress the longest run (>= 2) of zero groups, first one on ties.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  // RFC 5952 §5: IPv4-mapped addresses keep the dotted quad.
  if (bestStart === 0 && bestLen === 5 && groups[5] === 0xffff) {
    return `::ffff:${formatIpv4(b, p + 12)}`;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

// ---------------------------------------------------------------- text -> bytes

/** Dotted-quad bytes, or undefined when text is not an IPv4 address (1-3 digits, no leading zero, each <= 255). */
export function ipv4Bytes(text: string): Uint8Array | undefined {
  const v = ipv4Value(text);
  if (v < 0) return undefined;
  return new Uint8Array([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
}

/** 16 bytes, or undefined when text is not an IPv6 address (zones such as %eth0 and prefixes are rejected). */
export function ipv6Bytes(text: string): Uint8Array | undefined {
  if (!text.includes(':') || text.includes('%') || text.includes('/') || !Address6.isValid(text)) return undefined;
  const a = new Address6(text);
  const out = new Uint8Array(16);
  const groups = a.parsedAddress;
  if (groups.length !== 8) return undefined;
  for (let i = 0; i < 8; i++) {
    const n = parseInt(groups[i]!, 16);
    out[2 * i] = n >> 8;
    out[2 * i + 1] = n & 0xff;
  }
  return out;
}

/** IPv4 to 4 bytes; RangeError "not an IPv4 address: <text>". */
export function parseIpv4(addr: string): Uint8Array {
  const b = ipv4Bytes(addr);
  if (!b) throw new AddressError(`not an IPv4 address: ${addr}`);
  return b;
}

/** IPv6 (a trailing dotted quad included) to 16 bytes; RangeError "not an IPv6 address: <text>". */
export function parseIpv6(addr: string): Uint8Array {
  const b = ipv6Bytes(addr);
  if (!b) throw new AddressError(`not an IPv6 address: ${addr}`);
  return b;
}

/** IPv4 or IPv6 text to 4 or 16 bytes; AddressError "invalid IP address: <text>". */
export function parseIp(text: string): Uint8Array {
  const b = ipv4Bytes(text) ?? ipv6Bytes(text);
  if (!b) throw new AddressError(`invalid IP address: ${text}`);
  return b;
}

/** 4 or 16 bytes as canonical text. */
export function formatIp(b: Uint8Array): string {
  if (b.length === 4) return formatIpv4(b, 0);
  if (b.length !== 16) throw new AddressError(`IP address of ${b.length} bytes`);
  return formatIpv6(b, 0);
}

/** The canonical text of an IP address; AddressError when it is none. */
export function normalizeIp(text: string): string {
  // A valid dotted quad (no leading zeros) is its own canonical form.
  if (ipv4Value(text) >= 0) return text;
  return formatIp(parseIp(text));
}

export function isIpv4(text: string): boolean {
  return ipv4Value(text) >= 0;
}

export function isIpv6(text: string): boolean {
  return ipv6Bytes(text) !== undefined;
}

/**
 * 4, 6 or 0, for checking input text (configuration, CLI, socket addresses): an
 * IPv6 address may carry a zone (`fe80::1%eth1`, RFC 4007 §11), as the kernel's
 * socket calls take it. The byte parsers above refuse zones.
 */
export function ipVersion(text: string): 0 | 4 | 6 {
  if (isIpv4(text)) return 4;
  const pct = text.indexOf('%');
  if (pct < 0) return isIpv6(text) ? 6 : 0;
  return pct < text.length - 1 && isIpv6(text.slice(0, pct)) ? 6 : 0;
}

/** IPv6 text, a zone allowed (see ipVersion). */
export function isIpv6Text(text: string): boolean {
  return ipVersion(text) === 6;
}

/** 4 or 6; AddressError when text is not an IP address. */
export function ipFamily(text: string): 4 | 6 {
  if (isIpv4(text)) return 4;
  if (isIpv6(text)) return 6;
  throw new AddressError(`invalid IP address: ${text}`);
}

/** A dotted quad as an unsigned 32-bit number (BGP Identifier comparison, RFC 4271 §6.8); RangeError otherwise. */
export function ipv4ToUint(text: string): number {
  if (!isIpv4(text)) throw new AddressError(`not an IPv4 address: ${text}`);
  return ipv4Value(text);
}

/**
 * Addresses in numeric order, IPv4 before IPv6; equal addresses in different
 * spellings compare equal. Text that is no address sorts after both, by text.
 */
export function compareIp(a: string, b: string): number {
  if (a === b) return 0;
  const a4 = ipv4Value(a);
  const b4 = ipv4Value(b);
  // Fast path (best-path tie breaks): two dotted quads.
  if (a4 >= 0 && b4 >= 0) return a4 - b4;
  const ab = a4 >= 0 ? null : ipv6Bytes(a);
  const bb = b4 >= 0 ? null : ipv6Bytes(b);
  const rank = (v4: number, v6: Uint8Array | null | undefined): number => (v4 >= 0 ? 0 : v6 ? 1 : 2);
  const ra = rank(a4, ab);
  const rb = rank(b4, bb);
  if (ra !== rb) return ra - rb;
  if (ra === 1) {
    for (let i = 0; i < 16; i++) if (ab![i] !== bb![i]) return ab![i]! - bb![i]!;
    return 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---------------------------------------------------------------- MAC

/** Six octets from "aa:bb:cc:dd:ee:ff" ('-' separators, any case, 1-2 digits per octet); undefined otherwise. */
export function macBytes(text: string): Uint8Array | undefined {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6) return undefined;
  const out = new Uint8Array(6);
  for (let i = 0; i < 6; i++) {
    const p = parts[i]!;
    if (!/^[0-9a-fA-F]{1,2}$/.test(p)) return undefined;
    out[i] = parseInt(p, 16);
  }
  return out;
}

/** Six octets; AddressError "not a MAC address: <text>". */
export function parseMac(addr: string): Uint8Array {
  const b = macBytes(addr);
  if (!b) throw new AddressError(`not a MAC address: ${addr}`);
  return b;
}

/** The 6 bytes at b[p..p+6] as aa:bb:cc:dd:ee:ff. */
export function formatMac(b: Uint8Array, p = 0): string {
  if (b.length - p < 6) throw new AddressError(`MAC address of ${b.length - p} bytes`);
  return readMac(b, p);
}

/** Already canonical: what formatMac() writes. */
const CANONICAL_MAC = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/;

/** The canonical text of a MAC; AddressError when it is none. */
export function normalizeMac(text: string): string {
  // Fast path: RIB and kernel MACs are canonical already.
  if (CANONICAL_MAC.test(text)) return text;
  return readMac(parseMac(text), 0);
}

/**
 * A MAC in any of the usual spellings (colons, dashes, Cisco dots, bare hex;
 * 12 hex digits) as canonical text, or null. For operator input.
 */
export function macFromAnySpelling(s: string): string | null {
  const hex = s.toLowerCase().replace(/[:.-]/g, '');
  if (!/^[0-9a-f]{12}$/.test(hex)) return null;
  return hex.match(/../g)!.join(':');
}
