// Independent byte builders for expected values in codec tests: hex templates
// and small helpers written from the RFC diagrams, never the codecs under test.

export type Part = Uint8Array | readonly number[] | string;

/** Hex text to bytes; whitespace, '|' and '#'-to-end-of-line comments are ignored. */
export function hex(s: string): Uint8Array {
  const clean = s.replace(/#[^\n]*/g, '').replace(/[\s|:.-]/g, '');
  if (!/^[0-9a-fA-F]*$/.test(clean) || clean.length % 2) throw new Error(`bad hex: ${s}`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.substr(2 * i, 2), 16);
  return out;
}

/** Concatenate parts; strings are hex. */
export function cat(...parts: Part[]): Uint8Array {
  const arrays = parts.map((p) => (typeof p === 'string' ? hex(p) : Uint8Array.from(p)));
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let o = 0;
  for (const a of arrays) {
    out.set(a, o);
    o += a.length;
  }
  return out;
}

export const u8 = (v: number): number[] => [v & 0xff];
export const u16 = (v: number): number[] => [(v >>> 8) & 0xff, v & 0xff];
export const u24 = (v: number): number[] => [(v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
export const u32 = (v: number): number[] => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];

export function ip4(s: string): number[] {
  return s.split('.').map((x) => Number(x));
}

/** IPv6 text (with at most one '::', no embedded IPv4) to 16 bytes. */
export function ip6(s: string): number[] {
  const [head, tail] = s.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.flatMap((g) => u16(parseInt(g, 16)));
}

export function mac(s: string): number[] {
  return s.split(':').map((x) => parseInt(x, 16));
}

export const MARKER = 'ffffffffffffffffffffffffffffffff';

/** A whole message: marker, length, type, body. */
export function message(type: number, ...body: Part[]): Uint8Array {
  const b = cat(...body);
  return cat(MARKER, u16(19 + b.length), u8(type), b);
}

/** One path attribute; the Extended Length flag (0x10) selects a 2-octet length. */
export function attr(flags: number, type: number, ...value: Part[]): Uint8Array {
  const v = cat(...value);
  return cat(u8(flags), u8(type), flags & 0x10 ? u16(v.length) : u8(v.length), v);
}

/** UPDATE body: withdrawn routes, path attributes, NLRI (RFC 4271 §4.3). */
export function update(opts: { withdrawn?: Part; attrs?: Part[]; nlri?: Part }): Uint8Array {
  const wd = cat(opts.withdrawn ?? []);
  const at = cat(...(opts.attrs ?? []));
  return message(2, u16(wd.length), wd, u16(at.length), at, opts.nlri ?? []);
}

/** RD type 1 (IPv4:n), RFC 4364 §4.2. */
export function rdIp(ip: string, n: number): number[] {
  return [...u16(1), ...ip4(ip), ...u16(n)];
}

/** RD type 0 (2-octet AS:n). */
export function rdAs(asn: number, n: number): number[] {
  return [...u16(0), ...u16(asn), ...u32(n)];
}

export const ZERO_ESI_BYTES: number[] = Array<number>(10).fill(0);

/** RFC 7432 §7.2 MAC/IP Advertisement route, with type and length. */
export function evpnMacIp(o: { rd: number[]; tag?: number; mac: string; ip?: string; label: number; label2?: number }): Uint8Array {
  const ip = o.ip === undefined ? [] : o.ip.includes(':') ? ip6(o.ip) : ip4(o.ip);
  const v = cat(o.rd, ZERO_ESI_BYTES, u32(o.tag ?? 0), u8(48), mac(o.mac), u8(ip.length * 8), ip, u24(o.label),
    o.label2 === undefined ? [] : u24(o.label2));
  return cat(u8(2), u8(v.length), v);
}

/** RFC 7432 §7.3 Inclusive Multicast Ethernet Tag route (IP length 32 or 128 bits). */
export function evpnImet(o: { rd: number[]; tag?: number; ip: string }): Uint8Array {
  const ip = o.ip.includes(':') ? ip6(o.ip) : ip4(o.ip);
  const v = cat(o.rd, u32(o.tag ?? 0), u8(ip.length * 8), ip);
  return cat(u8(3), u8(v.length), v);
}

/** RFC 4360 §3.1 two-octet AS route target. */
export function rtAs2(asn: number, local: number): number[] {
  return [0x00, 0x02, ...u16(asn), ...u32(local)];
}

/** RFC 9012 §4.1 encapsulation extended community. */
export function encap(tunnelType: number): number[] {
  return [0x03, 0x0c, 0, 0, 0, 0, ...u16(tunnelType)];
}

/** MP_REACH_NLRI value (RFC 4760 §3). */
export function mpReachValue(afi: number, safi: number, nextHop: number[], nlri: Part): Uint8Array {
  return cat(u16(afi), u8(safi), u8(nextHop.length), nextHop, u8(0), nlri);
}

/** PMSI_TUNNEL value (RFC 6514 §5): flags, tunnel type, label (raw 24 bits), tunnel identifier. */
export function pmsiValue(tunnelType: number, label: number, tunnelId: number[]): Uint8Array {
  return cat(u8(0), u8(tunnelType), u24(label), tunnelId);
}

/** MP_UNREACH_NLRI value (RFC 4760 §4). */
export function mpUnreachValue(afi: number, safi: number, nlri: Part): Uint8Array {
  return cat(u16(afi), u8(safi), nlri);
}

export function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
