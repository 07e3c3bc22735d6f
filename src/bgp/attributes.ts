// Path attributes (RFC 4271 §4.3, §5): the framing of the attribute list and
// the one place that decides the RFC 7606 action for every malformed attribute.
// The value codecs, one per type code, are the table in attr-codecs.ts.
//
//   0                   1
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
//  +---------------+---------------+------------------------------+
//  |  Attr. Flags  |Attr. Type Code| Length (1, or 2 if ext. bit) | Value ...
//  +---------------+---------------+------------------------------+
import { ATTRIBUTE_CODECS, LEN, Malformed, O, T } from './attr-codecs.js';
import { BgpError, ErrorCode, UpdateSubcode, type AttrError } from './errors.js';
import { AttrFlag, AttrType } from './iana.js';
import { nlriCount } from './nlri.js';
import type { CodecContext, PathAttributes } from './types.js';
import { Reader, WireUnderflow, Writer } from '../wire/bytes.js';

export { ATTRIBUTE_CODECS, type AttrCodec } from './attr-codecs.js';

/** RFC 7606 §5.1: MP_REACH_NLRI / MP_UNREACH_NLRI first, then ascending type code (RFC 4271 §5). */
const ENCODE_ORDER: readonly number[] = [
  AttrType.MpReachNlri,
  AttrType.MpUnreachNlri,
  ...[...ATTRIBUTE_CODECS.keys()].filter((k) => k !== AttrType.MpReachNlri && k !== AttrType.MpUnreachNlri).sort((a, b) => a - b),
];

function writeAttribute(w: Writer, flags: number, type: number, value: Uint8Array, keepExtended: boolean): void {
  // RFC 4271 §4.3: the Extended Length bit selects a 2-octet length; we set it
  // when the value exceeds 255 bytes (or keep it when passing an attribute through).
  if (value.length > 0xffff) throw new RangeError(`attribute ${type} value of ${value.length} bytes`);
  const ext = value.length > 255 || (keepExtended && (flags & AttrFlag.ExtendedLength) !== 0);
  const f = ext ? flags | AttrFlag.ExtendedLength : flags & ~AttrFlag.ExtendedLength;
  w.u8(f).u8(type);
  if (ext) w.u16(value.length);
  else w.u8(value.length);
  w.bytes(value);
}

/** Append every present attribute (the Path Attributes field of an UPDATE). */
export function encodeAttributes(w: Writer, a: PathAttributes, ctx: CodecContext): void {
  for (const type of ENCODE_ORDER) {
    const codec = ATTRIBUTE_CODECS.get(type)!;
    if (!codec.present(a)) continue;
    // RFC 4271 §4.3: Extended Length (2-octet length) only when the value
    // exceeds 255 bytes. Encode in place assuming it does; a shorter value is
    // rewound (Writer.length is the fill level) and written again with a
    // 1-octet length. Only short attributes are encoded twice.
    const start = w.length;
    w.u8(codec.flags | AttrFlag.ExtendedLength).u8(type);
    const at = w.reserve(2);
    codec.encode(w, a, ctx);
    if (w.length - at - 2 > 255) {
      w.patchLength(at, 2);
      continue;
    }
    w.length = start;
    w.u8(codec.flags).u8(type);
    const at1 = w.reserve(1);
    codec.encode(w, a, ctx);
    w.patchLength(at1, 1);
  }
  for (const u of a.unknown ?? []) {
    if (ATTRIBUTE_CODECS.has(u.typeCode)) throw new RangeError(`unknown attribute with known type ${u.typeCode}`);
    writeAttribute(w, u.flags, u.typeCode, u.value, true);
  }
}

/** An RFC 7606 outcome plus the NOTIFICATION to send if it must escalate (§5.2). */
interface Found {
  error: AttrError;
  notify: BgpError;
}

export interface DecodedAttributes {
  attributes: PathAttributes;
  attrErrors: AttrError[];
}

/**
 * Decode the Path Attributes field (r spans exactly Total Path Attribute
 * Length) and apply RFC 7606. `nlriFieldPresent` is true when the UPDATE's
 * NLRI field is non-empty. Throws BgpError where RFC 7606 demands a session
 * reset; returns the recoverable outcomes in attrErrors.
 */
export function decodeAttributes(r: Reader, ctx: CodecContext, nlriFieldPresent: boolean): DecodedAttributes {
  const a: PathAttributes = {};
  const found: Found[] = [];
  const seen = new Set<number>();
  let otherThanUnreach = false;

  const report = (typeCode: number, action: 'discard' | 'withdraw', subcode: number, reason: string, data: Uint8Array) => {
    found.push({
      error: { typeCode, action, reason },
      notify: new BgpError(ErrorCode.UpdateMessage, subcode, data, reason),
    });
  };

  while (r.remaining > 0) {
    const start = r.pos;
    // RFC 7606 §4: fewer than 3 (or 4 with Extended Length) octets left, or an
    // attribute overrunning Total Attribute Length: treat-as-withdraw, and the
    // rest of the field is skipped (the NLRI field is located by the lengths).
    const flags = r.buf[start]!;
    const headLen = flags & AttrFlag.ExtendedLength ? 4 : 3;
    if (r.remaining < headLen) {
      otherThanUnreach = true;
      report(r.remaining >= 2 ? r.buf[start + 1]! : 0, 'withdraw', UpdateSubcode.MalformedAttributeList,
        'attribute header overruns Total Path Attribute Length', r.buf.slice(start, r.end));
      r.pos = r.end;
      break;
    }
    r.skip(1);
    const type = r.u8();
    const len = headLen === 4 ? r.u16() : r.u8();
    if (type !== AttrType.MpUnreachNlri) otherThanUnreach = true;
    if (len > r.remaining) {
      report(type, 'withdraw', UpdateSubcode.AttributeLengthError,
        `attribute ${type} length ${len} overruns Total Path Attribute Length`, r.buf.slice(start, r.end));
      r.pos = r.end;
      break;
    }
    const value = r.sub(len);
    const raw = r.buf.subarray(start, r.pos);

    // RFC 7606 §3 g: MP_REACH / MP_UNREACH twice is Malformed Attribute List
    // (reset); any other repeated attribute is discarded after the first.
    if (seen.has(type)) {
      if (type === AttrType.MpReachNlri || type === AttrType.MpUnreachNlri) {
        throw new BgpError(ErrorCode.UpdateMessage, UpdateSubcode.MalformedAttributeList, new Uint8Array(0),
          `attribute ${type} appears more than once`);
      }
      report(type, 'discard', UpdateSubcode.MalformedAttributeList, `duplicate attribute ${type} discarded`, raw.slice());
      continue;
    }
    seen.add(type);

    const codec = ATTRIBUTE_CODECS.get(type);
    if (codec === undefined) {
      if ((flags & AttrFlag.Optional) === 0) {
        // RFC 4271 §6.3 (not revised by RFC 7606): unrecognized well-known attribute.
        throw new BgpError(ErrorCode.UpdateMessage, UpdateSubcode.UnrecognizedWellKnownAttribute, raw.slice(),
          `unrecognized well-known attribute ${type}`);
      }
      // RFC 4271 §5: unrecognized optional attributes are kept with their flags.
      (a.unknown ??= []).push({ flags, typeCode: type, value: value.bytes(len) });
      continue;
    }

    // RFC 7606 §3 c: Optional / Transitive bits in conflict with the
    // specification: treat-as-withdraw. MP_REACH / MP_UNREACH are still parsed
    // so that their NLRI can be withdrawn.
    let flagsBad = false;
    if ((flags & (O | T)) !== codec.flags) {
      flagsBad = true;
      report(type, 'withdraw', UpdateSubcode.AttributeFlagsError, `${codec.name} flags 0x${flags.toString(16)}`, raw.slice());
      if (codec.onError !== 'reset') continue;
    }

    try {
      codec.decode(value, a, ctx, raw);
    } catch (e) {
      if (e instanceof Malformed) {
        if (!flagsBad) {
          report(type, codec.onError === 'discard' ? 'discard' : 'withdraw', e.subcode, `${codec.name}: ${e.reason}`, raw.slice());
        }
        continue;
      }
      if (e instanceof WireUnderflow) {
        // A codec read past its value: the same as a length error.
        if (codec.onError === 'reset') throw new BgpError(ErrorCode.UpdateMessage, UpdateSubcode.OptionalAttributeError, raw.slice(), `${codec.name}: ${e.message}`);
        report(type, codec.onError === 'discard' ? 'discard' : 'withdraw', LEN, `${codec.name}: ${e.message}`, raw.slice());
        continue;
      }
      throw e;
    }
  }

  // RFC 7606 §3 d: well-known mandatory attributes missing is treat-as-withdraw,
  // checked only when the UPDATE carries reachable NLRI; NEXT_HOP is needed
  // only with the NLRI field (RFC 4760 §3).
  const reachable = nlriFieldPresent || (a.mpReach !== undefined && nlriCount(a.mpReach.nlri) > 0);
  if (reachable) {
    const missing: number[] = [];
    if (!seen.has(AttrType.Origin)) missing.push(AttrType.Origin);
    if (!seen.has(AttrType.AsPath)) missing.push(AttrType.AsPath);
    if (nlriFieldPresent && !seen.has(AttrType.NextHop)) missing.push(AttrType.NextHop);
    for (const t of missing) {
      report(t, 'withdraw', UpdateSubcode.MissingWellKnownAttribute, `missing well-known attribute ${t}`, Uint8Array.of(t));
    }
  } else if (otherThanUnreach) {
    // RFC 7606 §5.2: no reachable NLRI but path attributes other than
    // MP_UNREACH_NLRI: any error stronger than attribute-discard resets.
    const strong = found.find((f) => f.error.action === 'withdraw');
    if (strong) throw strong.notify;
  }

  return { attributes: a, attrErrors: found.map((f) => f.error) };
}
