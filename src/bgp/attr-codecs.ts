// The per-attribute codecs (RFC 4271 §4.3, §5 and the RFCs named per entry),
// MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 4760) among them, as a table keyed by
// type code; each entry declares its RFC 7606 action in one column. The
// path-attribute framing that applies the actions is attributes.ts.
import { decodeExtCommunity, encodeExtCommunity } from './extcommunity.js';
import type { ExtCommunity } from './types.js';
import { BgpError, ErrorCode, UpdateSubcode, type AttrAction } from './errors.js';
import { decodeNlriSet, encodeNlriSet } from './nlri.js';
import { AsPathSegmentCode, AttrFlag, AttrType } from './iana.js';
import {
  AS_TRANS,
  type AsPathSegment,
  type AsPathSegmentType,
  type CodecContext,
  type MpReach,
  type MpUnreach,
  type PathAttributes,
} from './types.js';
import type { Reader, Writer } from '../wire/bytes.js';

export const O = AttrFlag.Optional;
export const T = AttrFlag.Transitive;

/** A malformed attribute found by a codec; the table turns it into an action. */
export class Malformed extends Error {
  constructor(readonly subcode: number, readonly reason: string) {
    super(reason);
  }
}

export interface AttrCodec {
  name: string;
  /** Optional and Transitive bits as specified (RFC 4271 §5, RFC 7606 §3 c). */
  flags: number;
  /**
   * RFC 7606 action when the attribute is malformed. 'reset' marks the
   * attributes whose codec throws BgpError itself (MP_REACH / MP_UNREACH).
   */
  onError: AttrAction;
  present(a: PathAttributes): boolean;
  /** Write the value only. */
  encode(w: Writer, a: PathAttributes, ctx: CodecContext): void;
  /**
   * Read the value (r spans exactly the value) into a; throw Malformed (or
   * BgpError for a reset). `raw` is a view of the whole attribute, for error data.
   */
  decode(r: Reader, a: PathAttributes, ctx: CodecContext, raw: Uint8Array): void;
}

// ---------------------------------------------------------------- helpers

function exactLength(r: Reader, n: number, subcode: number = UpdateSubcode.AttributeLengthError): void {
  if (r.remaining !== n) throw new Malformed(subcode, `length ${r.remaining}, expected ${n}`);
}

function multipleOf(r: Reader, n: number): void {
  // RFC 7606 §7.8, §7.10, §7.14: "not a non-zero multiple of n".
  if (r.remaining === 0 || r.remaining % n !== 0) {
    throw new Malformed(UpdateSubcode.AttributeLengthError, `length ${r.remaining}, expected a non-zero multiple of ${n}`);
  }
}

function isIpv6Text(addr: string): boolean {
  return addr.includes(':');
}

const SEGMENT_TYPES: Record<number, AsPathSegmentType> = { 1: 'set', 2: 'sequence', 3: 'confed-sequence', 4: 'confed-set' };

/** RFC 4271 §4.3 AS_PATH segments; RFC 7606 §7.2 / RFC 6793 §6 malformation rules. */
function decodeAsPath(r: Reader, asSize: 2 | 4): AsPathSegment[] {
  const segs: AsPathSegment[] = [];
  while (r.remaining > 0) {
    if (r.remaining < 2) throw new Malformed(UpdateSubcode.MalformedAsPath, 'fewer than 2 octets left for a segment header');
    const code = r.u8();
    const count = r.u8();
    const type = SEGMENT_TYPES[code];
    if (type === undefined) throw new Malformed(UpdateSubcode.MalformedAsPath, `unknown segment type ${code}`);
    if (count === 0) throw new Malformed(UpdateSubcode.MalformedAsPath, 'segment of length zero');
    if (count * asSize > r.remaining) throw new Malformed(UpdateSubcode.MalformedAsPath, 'segment overruns the attribute');
    const asns = new Array<number>(count);
    for (let i = 0; i < count; i++) asns[i] = asSize === 4 ? r.u32() : r.u16();
    segs.push({ type, asns });
  }
  return segs;
}

function encodeAsPath(w: Writer, segs: readonly AsPathSegment[], asSize: 2 | 4): void {
  for (const s of segs) {
    if (s.asns.length === 0) continue;
    // RFC 4271 §4.3: at most 255 ASes per segment; longer sequences are split.
    if (s.asns.length > 255 && s.type !== 'sequence' && s.type !== 'confed-sequence') {
      throw new RangeError(`AS_PATH ${s.type} of ${s.asns.length} ASes`);
    }
    for (let i = 0; i < s.asns.length; i += 255) {
      const part = s.asns.slice(i, i + 255);
      w.u8(AsPathSegmentCode[s.type]).u8(part.length);
      // RFC 6793 §4.2.2: an AS that needs 4 octets is sent as AS_TRANS in a 2-octet path.
      for (const asn of part) {
        if (asSize === 4) w.u32(asn);
        else w.u16(asn > 0xffff ? AS_TRANS : asn);
      }
    }
  }
}

function encodeAggregator(w: Writer, agg: { asn: number; ip: string }, asSize: 2 | 4): void {
  if (asSize === 4) w.u32(agg.asn);
  else w.u16(agg.asn > 0xffff ? AS_TRANS : agg.asn); // RFC 6793 §4.2.2
  w.ipv4(agg.ip);
}

function mpError(raw: Uint8Array, detail: string): BgpError {
  // RFC 7606 §7.11 / RFC 4760 §7: session reset, Optional Attribute Error.
  return new BgpError(ErrorCode.UpdateMessage, UpdateSubcode.OptionalAttributeError, raw.slice(), `MP_REACH/MP_UNREACH: ${detail}`);
}

/** RFC 4760 §3: AFI (2), SAFI (1), Next Hop Length (1), Next Hop, Reserved (1), NLRI. */
function decodeMpReach(r: Reader, raw: Uint8Array): MpReach {
  if (r.remaining < 5) throw mpError(raw, `MP_REACH_NLRI of ${r.remaining} bytes`);
  const afi = r.u16();
  const safi = r.u8();
  const nhLen = r.u8();
  if (nhLen + 1 > r.remaining) throw mpError(raw, `next hop length ${nhLen} overruns the attribute`);
  // Next hop: 4 (IPv4), 16 (IPv6) or 32 (IPv6 global + link-local, RFC 2545 §3);
  // EVPN uses 4 or 16 (RFC 7432 §7). Anything else cannot locate the NLRI
  // reliably: session reset (RFC 7606 §7.11).
  let nextHop: string[];
  if (nhLen === 4) nextHop = [r.ipv4()];
  else if (nhLen === 16) nextHop = [r.ipv6()];
  else if (nhLen === 32) nextHop = [r.ipv6(), r.ipv6()];
  else throw mpError(raw, `next hop length ${nhLen}`);
  r.skip(1); // RFC 4760 §3: Reserved (former SNPA count), ignored on receipt
  return { afi, safi, nextHop, nlri: decodeNlriSet(r, afi, safi, false, raw) };
}

function encodeMpReach(w: Writer, mp: MpReach): void {
  w.u16(mp.afi).u8(mp.safi);
  const at = w.reserve(1);
  for (const nh of mp.nextHop) {
    if (isIpv6Text(nh)) w.ipv6(nh);
    else w.ipv4(nh);
  }
  w.patchLength(at, 1);
  w.u8(0); // Reserved
  encodeNlriSet(w, mp.nlri);
}

/** RFC 4760 §4: AFI (2), SAFI (1), Withdrawn Routes. */
function decodeMpUnreach(r: Reader, raw: Uint8Array): MpUnreach {
  if (r.remaining < 3) throw mpError(raw, `MP_UNREACH_NLRI of ${r.remaining} bytes`);
  const afi = r.u16();
  const safi = r.u8();
  return { afi, safi, nlri: decodeNlriSet(r, afi, safi, true, raw) };
}

function encodeMpUnreach(w: Writer, mp: MpUnreach): void {
  w.u16(mp.afi).u8(mp.safi);
  encodeNlriSet(w, mp.nlri);
}

// ---------------------------------------------------------------- the table

export const LEN = UpdateSubcode.AttributeLengthError;

/**
 * Attribute codecs keyed by type code. `onError` is the RFC 7606 action for a
 * malformed attribute: §7.1-7.14 and RFC 6793 §6, in one place.
 */
export const ATTRIBUTE_CODECS: ReadonlyMap<number, AttrCodec> = new Map<number, AttrCodec>([
  [AttrType.Origin, {
    name: 'ORIGIN', flags: T, onError: 'withdraw', // RFC 7606 §7.1
    present: (a) => a.origin !== undefined,
    encode: (w, a) => { w.u8(a.origin!); },
    decode: (r, a) => {
      exactLength(r, 1);
      const v = r.u8();
      if (v > 2) throw new Malformed(UpdateSubcode.InvalidOriginAttribute, `undefined ORIGIN ${v}`);
      a.origin = v as 0 | 1 | 2;
    },
  }],
  [AttrType.AsPath, {
    name: 'AS_PATH', flags: T, onError: 'withdraw', // RFC 7606 §7.2
    present: (a) => a.asPath !== undefined,
    encode: (w, a, ctx) => encodeAsPath(w, a.asPath!, ctx.fourOctetAs ? 4 : 2),
    decode: (r, a, ctx) => { a.asPath = decodeAsPath(r, ctx.fourOctetAs ? 4 : 2); },
  }],
  [AttrType.NextHop, {
    name: 'NEXT_HOP', flags: T, onError: 'withdraw', // RFC 7606 §7.3
    present: (a) => a.nextHop !== undefined,
    encode: (w, a) => { w.ipv4(a.nextHop!); },
    decode: (r, a) => { exactLength(r, 4); a.nextHop = r.ipv4(); },
  }],
  [AttrType.MultiExitDisc, {
    name: 'MULTI_EXIT_DISC', flags: O, onError: 'withdraw', // RFC 7606 §7.4
    present: (a) => a.med !== undefined,
    encode: (w, a) => { w.u32(a.med!); },
    decode: (r, a) => { exactLength(r, 4); a.med = r.u32(); },
  }],
  [AttrType.LocalPref, {
    name: 'LOCAL_PREF', flags: T, onError: 'withdraw', // RFC 7606 §7.5
    present: (a) => a.localPref !== undefined,
    encode: (w, a) => { w.u32(a.localPref!); },
    decode: (r, a) => { exactLength(r, 4); a.localPref = r.u32(); },
  }],
  [AttrType.AtomicAggregate, {
    name: 'ATOMIC_AGGREGATE', flags: T, onError: 'discard', // RFC 7606 §7.6
    present: (a) => a.atomicAggregate === true,
    encode: () => {},
    decode: (r, a) => { exactLength(r, 0); a.atomicAggregate = true; },
  }],
  [AttrType.Aggregator, {
    name: 'AGGREGATOR', flags: O | T, onError: 'discard', // RFC 7606 §7.7
    present: (a) => a.aggregator !== undefined,
    encode: (w, a, ctx) => encodeAggregator(w, a.aggregator!, ctx.fourOctetAs ? 4 : 2),
    decode: (r, a, ctx) => {
      exactLength(r, ctx.fourOctetAs ? 8 : 6);
      const asn = ctx.fourOctetAs ? r.u32() : r.u16();
      a.aggregator = { asn, ip: r.ipv4() };
    },
  }],
  [AttrType.Communities, {
    name: 'COMMUNITIES', flags: O | T, onError: 'withdraw', // RFC 7606 §7.8
    present: (a) => a.communities !== undefined && a.communities.length > 0,
    encode: (w, a) => { for (const c of a.communities!) w.u32(c); },
    decode: (r, a) => {
      multipleOf(r, 4);
      const out: number[] = [];
      while (r.remaining > 0) out.push(r.u32());
      a.communities = out;
    },
  }],
  [AttrType.OriginatorId, {
    name: 'ORIGINATOR_ID', flags: O, onError: 'withdraw', // RFC 7606 §7.9
    present: (a) => a.originatorId !== undefined,
    encode: (w, a) => { w.ipv4(a.originatorId!); },
    decode: (r, a) => { exactLength(r, 4); a.originatorId = r.ipv4(); },
  }],
  [AttrType.ClusterList, {
    name: 'CLUSTER_LIST', flags: O, onError: 'withdraw', // RFC 7606 §7.10
    present: (a) => a.clusterList !== undefined && a.clusterList.length > 0,
    encode: (w, a) => { for (const c of a.clusterList!) w.ipv4(c); },
    decode: (r, a) => {
      multipleOf(r, 4);
      const out: string[] = [];
      while (r.remaining > 0) out.push(r.ipv4());
      a.clusterList = out;
    },
  }],
  [AttrType.MpReachNlri, {
    name: 'MP_REACH_NLRI', flags: O, onError: 'reset', // RFC 7606 §7.11, §3 j
    present: (a) => a.mpReach !== undefined,
    encode: (w, a) => encodeMpReach(w, a.mpReach!),
    decode: (r, a, _ctx, raw) => { a.mpReach = decodeMpReach(r, raw); },
  }],
  [AttrType.MpUnreachNlri, {
    name: 'MP_UNREACH_NLRI', flags: O, onError: 'reset', // RFC 7606 §3 j
    present: (a) => a.mpUnreach !== undefined,
    encode: (w, a) => encodeMpUnreach(w, a.mpUnreach!),
    decode: (r, a, _ctx, raw) => { a.mpUnreach = decodeMpUnreach(r, raw); },
  }],
  [AttrType.ExtendedCommunities, {
    name: 'EXTENDED_COMMUNITIES', flags: O | T, onError: 'withdraw', // RFC 7606 §7.14
    present: (a) => a.extCommunities !== undefined && a.extCommunities.length > 0,
    encode: (w, a) => { for (const c of a.extCommunities!) encodeExtCommunity(w, c); },
    decode: (r, a) => {
      multipleOf(r, 8);
      const out: ExtCommunity[] = [];
      while (r.remaining > 0) {
        const one = r.sub(8);
        try {
          out.push(decodeExtCommunity(one));
        } catch (e) {
          if (e instanceof BgpError || e instanceof Malformed) throw e;
          throw new Malformed(UpdateSubcode.OptionalAttributeError, `extended community: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      a.extCommunities = out;
    },
  }],
  [AttrType.As4Path, {
    name: 'AS4_PATH', flags: O | T, onError: 'discard', // RFC 6793 §6
    present: (a) => a.as4Path !== undefined,
    encode: (w, a) => encodeAsPath(w, a.as4Path!, 4),
    decode: (r, a) => {
      // RFC 6793 §6: malformed if the length is not a multiple of 2 or < 6.
      if (r.remaining < 6 || r.remaining % 2 !== 0) throw new Malformed(LEN, `AS4_PATH length ${r.remaining}`);
      a.as4Path = decodeAsPath(r, 4);
    },
  }],
  [AttrType.As4Aggregator, {
    name: 'AS4_AGGREGATOR', flags: O | T, onError: 'discard', // RFC 6793 §6
    present: (a) => a.as4Aggregator !== undefined,
    encode: (w, a) => encodeAggregator(w, a.as4Aggregator!, 4),
    decode: (r, a) => { exactLength(r, 8); a.as4Aggregator = { asn: r.u32(), ip: r.ipv4() }; },
  }],
  [AttrType.PmsiTunnel, {
    // RFC 6514 §5 predates RFC 7606 and names no action; the attribute steers
    // forwarding (the ingress replication endpoint), so per RFC 7606 §8
    // guidance a malformed one is treat-as-withdraw (FRR does the same).
    name: 'PMSI_TUNNEL', flags: O | T, onError: 'withdraw',
    present: (a) => a.pmsiTunnel !== undefined,
    encode: (w, a) => {
      const p = a.pmsiTunnel!;
      w.u8(p.flags).u8(p.tunnelType).u24(p.label).bytes(p.tunnelId);
    },
    decode: (r, a) => {
      // Flags (1), Tunnel Type (1), MPLS Label (3, raw 24 bits), Tunnel Identifier.
      if (r.remaining < 5) throw new Malformed(LEN, `PMSI_TUNNEL of ${r.remaining} bytes`);
      const flags = r.u8();
      const tunnelType = r.u8();
      const label = r.u24();
      // RFC 6514 §5 / RFC 7432 §11.2: for ingress replication the identifier is
      // the unicast tunnel endpoint address (4 or 16 bytes).
      if (tunnelType === 6 && r.remaining !== 4 && r.remaining !== 16) {
        throw new Malformed(UpdateSubcode.OptionalAttributeError, `ingress replication endpoint of ${r.remaining} bytes`);
      }
      a.pmsiTunnel = { flags, tunnelType, label, tunnelId: r.bytes(r.remaining) };
    },
  }],
]);
