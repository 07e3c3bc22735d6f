// Text <-> bytes for the addresses the kernel layer handles: MAC, IPv4, IPv6.
// Text forms are canonical so that two spellings of one address compare equal:
// MAC lower-case colon-separated, IPv4 dotted quad, IPv6 per RFC 5952.
import { isIPv4, isIPv6 } from 'node:net';
import { parseIpv6 } from '../wire/addr.js';

export class AddressError extends Error {
  override name = 'AddressError';
}

/** `aa:bb:cc:dd:ee:ff` (also accepts `-` separators and upper case) -> 6 bytes. */
export function parseMac(text: string): Buffer {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) {
    throw new AddressError(`invalid MAC address: ${text}`);
  }
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

export function formatMac(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) {
    if (i) s += ':';
    s += (b[i] as number).toString(16).padStart(2, '0');
  }
  return s;
}

/** Already canonical: what formatMac() writes. */
const CANONICAL_MAC = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/;

export function normalizeMac(text: string): string {
  // Fast path: RIB and kernel MACs are canonical already (reconcile normalises every
  // desired entry on each flush).
  if (CANONICAL_MAC.test(text)) return text;
  return formatMac(parseMac(text));
}

/** IPv4 or IPv6 text (an IPv4 tail such as ::ffff:1.2.3.4 included) -> 4 or 16 bytes; zones (%eth0) are rejected. */
export function parseIp(text: string): Buffer {
  if (isIPv4(text)) return Buffer.from(text.split('.').map(Number));
  if (!isIPv6(text) || text.includes('%')) throw new AddressError(`invalid IP address: ${text}`);
  return Buffer.from(parseIpv6(text));
}

export function formatIp(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) throw new AddressError(`IP address of ${b.length} bytes`);
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push(((b[i] as number) << 8) | (b[i + 1] as number));
  // RFC 5952 4.2: compress the longest run (>= 2) of zero groups, the first on a tie.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export function normalizeIp(text: string): string {
  // A dotted quad node:net accepts has no leading zeros, so it is its own canonical form.
  if (isIPv4(text)) return text;
  return formatIp(parseIp(text));
}

export function ipFamily(text: string): 4 | 6 {
  if (isIPv4(text)) return 4;
  if (isIPv6(text)) return 6;
  throw new AddressError(`invalid IP address: ${text}`);
}
