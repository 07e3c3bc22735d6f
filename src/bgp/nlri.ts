// NLRI of the multiprotocol families (RFC 4760 §5): a registry of codecs by
// AFI/SAFI. bgp/ carries NLRI without knowing any family's route format: an
// address family registers its codec here (evpn/nlri.ts registers L2VPN/EVPN,
// RFC 7432 §7) and adds its route type to `NlriRouteKinds` (bgp/types.ts) by
// declaration merging. IPv4/IPv6 unicast prefixes (RFC 4271 §4.3, RFC 4760 §5)
// are BGP's own and stay built in.
import { BgpError, ErrorCode, UpdateSubcode } from './errors.js';
import { AFI, SAFI, type Family, type IpPrefix, type NlriKind, type NlriRoute, type NlriRouteKinds, type NlriSet } from './types.js';
import type { Reader, Writer } from '../wire/bytes.js';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from '../wire/addr.js';

function isIpv6Text(addr: string): boolean {
  return addr.includes(':');
}

/** One address family's NLRI codec. */
export interface NlriCodec<K extends NlriKind = NlriKind> {
  /** The `NlriSet` kind its routes travel in. */
  readonly kind: K;
  readonly afi: number;
  readonly safi: number;
  /** For error messages, e.g. "EVPN". */
  readonly name: string;
  /**
   * Every NLRI from r.pos to r.end. `withdraw` is true inside MP_UNREACH_NLRI.
   * Throws BgpError; anything else is reported as UPDATE Message Error /
   * Optional Attribute Error (RFC 4760 §7).
   */
  decode(r: Reader, withdraw: boolean): Array<NlriRouteKinds[K]>;
  /** Append one NLRI; RangeError on an invalid route, leaving w as it was. */
  encode(w: Writer, route: NlriRouteKinds[K]): void;
  /** The route's identity: a later advertisement with the same key replaces it. */
  key(route: NlriRouteKinds[K]): string;
}

const byFamily = new Map<number, NlriCodec>();
const byKind = new Map<string, NlriCodec>();

const familyId = (afi: number, safi: number): number => afi * 256 + safi;

/** Register (or replace) the codec of one family. */
export function registerNlriCodec<K extends NlriKind>(codec: NlriCodec<K>): void {
  byFamily.set(familyId(codec.afi, codec.safi), codec as unknown as NlriCodec);
  byKind.set(codec.kind, codec as unknown as NlriCodec);
}

/** The registered codec of a family, if any. */
export function nlriCodec(f: Family): NlriCodec | undefined {
  return byFamily.get(familyId(f.afi, f.safi));
}

/** The registered codec for routes of `kind`; throws if no family registered it. */
export function nlriCodecOfKind(kind: string): NlriCodec {
  const c = byKind.get(kind);
  if (!c) throw new Error(`no NLRI codec registered for '${kind}' routes`);
  return c;
}

/** The key of a route of a registered family (Adj-RIB-Out identity). */
export function nlriKey(codec: NlriCodec, route: NlriRoute): string {
  return codec.key(route);
}

// ---------------------------------------------------------------- IP prefixes

/** Maximum prefix length of an AFI's addresses (IPv4 32, IPv6 128). */
function maxPrefixBits(afi: number): number {
  return afi === AFI.IPv6 ? 128 : 32;
}

/**
 * RFC 4271 §4.3 / RFC 4760 §5: (length in bits, prefix padded to whole octets).
 * Throws `BgpError(3, subcode)` on a syntax error (RFC 7606 §5.3).
 */
export function decodePrefixes(r: Reader, afi: number, subcode: number): IpPrefix[] {
  const out: IpPrefix[] = [];
  const max = maxPrefixBits(afi);
  const size = max / 8;
  while (r.remaining > 0) {
    const bits = r.u8();
    const n = (bits + 7) >> 3;
    if (bits > max || n > r.remaining) {
      throw new BgpError(ErrorCode.UpdateMessage, subcode, new Uint8Array(0),
        bits > max ? `prefix length ${bits} > ${max}` : `prefix of ${bits} bits overruns the field`);
    }
    const addr = new Uint8Array(size);
    for (let i = 0; i < n; i++) addr[i] = r.buf[r.pos + i]!;
    r.pos += n;
    const prefix = size === 4 ? formatIpv4(addr) : formatIpv6(addr, 0);
    out.push({ prefix, length: bits });
  }
  return out;
}

export function encodePrefix(w: Writer, p: IpPrefix): void {
  const v6 = isIpv6Text(p.prefix);
  const bytes = v6 ? parseIpv6(p.prefix) : parseIpv4(p.prefix);
  if (p.length < 0 || p.length > bytes.length * 8) throw new RangeError(`prefix length ${p.length} for ${p.prefix}`);
  w.u8(p.length).bytes(bytes.subarray(0, (p.length + 7) >> 3));
}

// ---------------------------------------------------------------- MP_REACH / MP_UNREACH

function isUnicastPrefixFamily(afi: number, safi: number): boolean {
  return (afi === AFI.IPv4 || afi === AFI.IPv6) && safi === SAFI.Unicast;
}

// ---------------------------------------------------------------- NLRI sets

/** The NLRI of one family in MP_REACH / MP_UNREACH; errors reset the session (RFC 7606 §3 j). */
export function decodeNlriSet(r: Reader, afi: number, safi: number, withdraw: boolean, raw: Uint8Array): NlriSet {
  const codec = byFamily.get(familyId(afi, safi));
  if (codec) {
    try {
      return { kind: codec.kind, routes: codec.decode(r, withdraw) } as NlriSet;
    } catch (e) {
      if (e instanceof BgpError) throw new BgpError(e.code, e.subcode, e.data.length > 0 ? e.data : raw.slice(), e.message);
      // RFC 4760 §7: UPDATE Message Error / Optional Attribute Error, data = the attribute.
      const why = e instanceof Error ? e.message : String(e);
      throw new BgpError(ErrorCode.UpdateMessage, UpdateSubcode.OptionalAttributeError, raw.slice(), `${codec.name} NLRI: ${why}`);
    }
  }
  if (isUnicastPrefixFamily(afi, safi)) {
    try {
      return { kind: 'prefix', prefixes: decodePrefixes(r, afi, UpdateSubcode.OptionalAttributeError) };
    } catch (e) {
      if (e instanceof BgpError) throw new BgpError(e.code, e.subcode, raw.slice(), e.message);
      throw e;
    }
  }
  return { kind: 'opaque', bytes: r.bytes(r.remaining) };
}

export function encodeNlriSet(w: Writer, nlri: NlriSet): void {
  switch (nlri.kind) {
    case 'prefix':
      for (const p of nlri.prefixes) encodePrefix(w, p);
      return;
    case 'opaque':
      w.bytes(nlri.bytes);
      return;
    default: {
      const codec = nlriCodecOfKind(nlri.kind);
      for (const route of nlri.routes) codec.encode(w, route);
    }
  }
}

/** Number of NLRI in a set (opaque counts as one when non-empty). */
export function nlriCount(nlri: NlriSet): number {
  switch (nlri.kind) {
    case 'prefix':
      return nlri.prefixes.length;
    case 'opaque':
      return nlri.bytes.length > 0 ? 1 : 0;
    default:
      return nlri.routes.length;
  }
}

/** An empty NLRI set of a family (End-of-RIB, RFC 4724 §2). */
export function emptyNlriSet(f: Family): NlriSet {
  const codec = nlriCodec(f);
  if (codec) return { kind: codec.kind, routes: [] } as NlriSet;
  if (isUnicastPrefixFamily(f.afi, f.safi)) return { kind: 'prefix', prefixes: [] };
  return { kind: 'opaque', bytes: new Uint8Array(0) };
}

/** A set of routes of a registered family. */
export function routeSet(codec: NlriCodec, routes: NlriRoute[]): NlriSet {
  return { kind: codec.kind, routes } as NlriSet;
}
