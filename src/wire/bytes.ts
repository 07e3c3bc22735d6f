// Bounds-checked byte reader and a growable writer that reserves and patches
// length fields. Codecs are built on these two classes only.
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6, parseMac } from './addr.js';

/**
 * A plain Uint8Array view of the same bytes. A Node Buffer's slice() is a view,
 * not a copy; decoders copy what they keep through Reader.bytes(), so they must
 * see Uint8Array.prototype.slice.
 */
export function plainBytes(b: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(b) === Uint8Array.prototype ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Thrown by Reader when a read would pass the end of its window. */
export class WireUnderflow extends Error {
  constructor(readonly wanted: number, readonly available: number) {
    super(`truncated: wanted ${wanted} bytes, ${available} available`);
  }
}

export class Reader {
  private readonly view: DataView;
  /** Absolute offset of the next byte to read. */
  pos: number;
  /** Absolute offset one past the last readable byte. */
  readonly end: number;

  constructor(readonly buf: Uint8Array, start = 0, end = buf.length) {
    if (start < 0 || end > buf.length || start > end) throw new WireUnderflow(end - start, buf.length - start);
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = start;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number): void {
    if (this.end - this.pos < n) throw new WireUnderflow(n, this.end - this.pos);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }

  u24(): number {
    this.need(3);
    const v = u24At(this.buf, this.pos);
    this.pos += 3;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  /** A copy of the next n bytes (decoders copy what they keep). */
  bytes(n: number): Uint8Array {
    this.need(n);
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  /** A reader over the next n bytes; this reader moves past them. */
  sub(n: number): Reader {
    this.need(n);
    const r = new Reader(this.buf, this.pos, this.pos + n);
    this.pos += n;
    return r;
  }

  /** Dotted-quad IPv4 address. */
  ipv4(): string {
    this.need(4);
    const s = formatIpv4(this.buf, this.pos);
    this.pos += 4;
    return s;
  }

  /** IPv6 address in RFC 5952 canonical text form. */
  ipv6(): string {
    this.need(16);
    const s = formatIpv6(this.buf, this.pos);
    this.pos += 16;
    return s;
  }
}

/** Big-endian 16-bit value at b[p..p+2]; the caller has checked the bounds. */
export function u16At(b: Uint8Array, p: number): number {
  return (b[p]! << 8) | b[p + 1]!;
}

/** Big-endian 24-bit value at b[p..p+3]; the caller has checked the bounds. */
export function u24At(b: Uint8Array, p: number): number {
  return (b[p]! << 16) | (b[p + 1]! << 8) | b[p + 2]!;
}

/** Big-endian unsigned 32-bit value at b[p..p+4]; the caller has checked the bounds. */
export function u32At(b: Uint8Array, p: number): number {
  return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
}

/** v if it is an integer in [0, max]; otherwise RangeError "<what> out of range: <v>". */
export function checkUint(v: number, max: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`${what} out of range: ${v}`);
  return v;
}

/** Two-digit lowercase hex for every byte value. */
export const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export class Writer {
  private buf: Uint8Array;
  private view: DataView;
  /** Number of bytes written so far. */
  length = 0;

  constructor(initial = 256) {
    this.buf = new Uint8Array(initial);
    this.view = new DataView(this.buf.buffer);
  }

  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.length++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.ensure(2);
    this.view.setUint16(this.length, v & 0xffff);
    this.length += 2;
    return this;
  }

  u24(v: number): this {
    this.ensure(3);
    this.buf[this.length] = (v >>> 16) & 0xff;
    this.buf[this.length + 1] = (v >>> 8) & 0xff;
    this.buf[this.length + 2] = v & 0xff;
    this.length += 3;
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    this.view.setUint32(this.length, v >>> 0);
    this.length += 4;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
    return this;
  }

  /** Writes an IPv4 dotted quad; throws on malformed text (callers validate config earlier). */
  ipv4(addr: string): this {
    return this.bytes(parseIpv4(addr));
  }

  ipv6(addr: string): this {
    return this.bytes(parseIpv6(addr));
  }

  mac(addr: string): this {
    return this.bytes(parseMac(addr));
  }

  /** Reserve a length field of 1, 2 or 4 bytes; returns its offset for `patch`. */
  reserve(size: 1 | 2 | 4): number {
    const at = this.length;
    this.ensure(size);
    this.length += size;
    return at;
  }

  /** Fill a reserved length field with the number of bytes written after it. */
  patchLength(at: number, size: 1 | 2 | 4, extra = 0): void {
    const v = this.length - at - size + extra;
    if (size === 1) {
      if (v > 0xff) throw new RangeError(`length ${v} does not fit in 1 byte`);
      this.buf[at] = v;
    } else if (size === 2) {
      if (v > 0xffff) throw new RangeError(`length ${v} does not fit in 2 bytes`);
      this.view.setUint16(at, v);
    } else {
      this.view.setUint32(at, v);
    }
  }

  /** Overwrite a 2-byte value at an earlier offset. */
  setU16(at: number, v: number): void {
    this.view.setUint16(at, v);
  }

  /** The bytes written, copied out. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

export function toHex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += HEX[x];
  return s;
}

export function fromHex(s: string): Uint8Array {
  const clean = s.replace(/[^0-9a-fA-F]/g, '');
  if (clean.length % 2) throw new RangeError('odd number of hex digits');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}
