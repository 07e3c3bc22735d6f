// MAC and IPv4 text <-> wire for the codecs' hot paths. The general parsers
// in wire.ts (regular expressions) stay the reference and the fallback; these
// produce the same results faster:
//  - readMac builds the text with one String.fromCharCode: a flat
//    17-character string instead of an 11-part template-literal rope that V8
//    flattens again when it is hashed as a map key (2-5x faster on Node 20);
//  - writeMac / writeIpv4 parse the canonical forms by char code and hand
//    anything else to Writer.mac / Writer.ipv4 (which throw RangeError).
import type { Writer } from './bytes.js';

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

/** The address as an unsigned 32-bit number, or -1 if text is not a dotted quad. */
export function ipv4Value(text: string): number {
  const n = text.length;
  if (n < 7 || n > 15) return -1;
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (++digits > 3) return -1;
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

export function parseIpv4(addr: string): Uint8Array {
  const parts = addr.split('.');
  if (parts.length !== 4) throw new RangeError(`not an IPv4 address: ${addr}`);
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) throw new RangeError(`not an IPv4 address: ${addr}`);
    out[i] = Number(p);
  }
  return out;
}

export function parseIpv6(addr: string): Uint8Array {
  const out = new Uint8Array(16);
  let text = addr;
  // Trailing dotted quad (e.g. ::ffff:1.2.3.4).
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  let v4: Uint8Array | null = null;
  if (tail.includes('.')) {
    v4 = parseIpv4(tail);
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = text.split('::');
  if (halves.length > 2) throw new RangeError(`not an IPv6 address: ${addr}`);
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - rest.length;
  if ((halves.length === 1 && missing !== 0) || missing < (halves.length === 2 ? 1 : 0)) {
    throw new RangeError(`not an IPv6 address: ${addr}`);
  }
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest];
  for (let i = 0; i < 8; i++) {
    const g = groups[i]!;
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw new RangeError(`not an IPv6 address: ${addr}`);
    const n = parseInt(g, 16);
    out[2 * i] = n >> 8;
    out[2 * i + 1] = n & 0xff;
  }
  if (v4) out.set(v4, 12);
  return out;
}

export function parseMac(addr: string): Uint8Array {
  const parts = addr.split(/[:-]/);
  if (parts.length !== 6) throw new RangeError(`not a MAC address: ${addr}`);
  const out = new Uint8Array(6);
  for (let i = 0; i < 6; i++) {
    const p = parts[i]!;
    if (!/^[0-9a-fA-F]{1,2}$/.test(p)) throw new RangeError(`not a MAC address: ${addr}`);
    out[i] = parseInt(p, 16);
  }
  return out;
}
